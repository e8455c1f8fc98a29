"""Readers of order, product and event files: one per format, behind :func:`open_reader`.

Every reader yields Arrow record batches with a ``_rec`` column (see :mod:`.base`).
"""

from __future__ import annotations

from bundlewise.config import IngestConfig
from bundlewise.ingest.readers.base import REC, SourceInfo, TableReader, TypedParseFailed, inspect_source
from bundlewise.ingest.readers.delimited import BasketReader, CsvReader
from bundlewise.ingest.readers.jsonl import JsonlReader
from bundlewise.ingest.readers.parquet import ParquetReader

__all__ = ["REC", "BasketReader", "CsvReader", "JsonlReader", "ParquetReader", "SourceInfo", "TableReader",
           "TypedParseFailed", "inspect_source", "open_reader"]


def open_reader(info: SourceInfo, cfg: IngestConfig) -> TableReader:
    """The reader for ``info.file_format``."""
    readers: dict[str, type[TableReader]] = {
        "csv": CsvReader, "tsv": CsvReader, "parquet": ParquetReader, "jsonl": JsonlReader, "baskets": BasketReader,
    }
    return readers[info.file_format](info, cfg)
