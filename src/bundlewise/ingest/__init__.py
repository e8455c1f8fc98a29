"""Ingest: readers, validation and the DuckDB warehouse."""

from bundlewise.ingest.catalog import load_catalog
from bundlewise.ingest.jobs import IngestResult, ingest_file, ingest_files
from bundlewise.ingest.warehouse import Warehouse

__all__ = ["IngestResult", "Warehouse", "ingest_file", "ingest_files", "load_catalog"]
