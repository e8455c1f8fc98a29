"""Readers of order, product and event files: one per format, behind :func:`open_reader`.

Every reader yields Arrow record batches with a ``_rec`` column (see :mod:`.base`).
The format readers are imported on first use (PEP 562): reading a basket file into lists
(``bundlewise rules --baskets``) never imports pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from bundlewise._lazy import lazy_exports
from bundlewise.config import IngestConfig
from bundlewise.ingest.readers.base import REC, SourceInfo, TableReader, TypedParseFailed, inspect_source

if TYPE_CHECKING:
    from bundlewise.ingest.readers.basketfile import BasketReader
    from bundlewise.ingest.readers.delimited import CsvReader
    from bundlewise.ingest.readers.jsonl import JsonlReader
    from bundlewise.ingest.readers.parquet import ParquetReader

_WHERE = {"BasketReader": "basketfile", "CsvReader": "delimited", "JsonlReader": "jsonl", "ParquetReader": "parquet"}
_READERS = {"csv": "CsvReader", "tsv": "CsvReader", "parquet": "ParquetReader", "jsonl": "JsonlReader",
            "baskets": "BasketReader"}  # format -> reader class

__all__ = ["REC", "BasketReader", "CsvReader", "JsonlReader", "ParquetReader", "SourceInfo", "TableReader",
           "TypedParseFailed", "inspect_source", "open_reader"]


def open_reader(info: SourceInfo, cfg: IngestConfig) -> TableReader:
    """The reader for ``info.file_format``."""
    name = _READERS[info.file_format]
    reader: type[TableReader] = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    return reader(info, cfg)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
