"""Ingest: readers, validation and the DuckDB warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bundlewise._lazy import lazy_exports

if TYPE_CHECKING:
    from bundlewise.ingest.catalog import load_catalog
    from bundlewise.ingest.jobs import IngestResult, ingest_file, ingest_files
    from bundlewise.ingest.warehouse import Warehouse

# name -> module: imported on first use (PEP 562), so reading a file (bundlewise.ingest.readers)
# imports neither pandas (the catalog) nor DuckDB (the warehouse)
_WHERE = {"load_catalog": "catalog", "IngestResult": "jobs", "ingest_file": "jobs", "ingest_files": "jobs",
          "Warehouse": "warehouse"}

__all__ = ["IngestResult", "Warehouse", "ingest_file", "ingest_files", "load_catalog"]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
