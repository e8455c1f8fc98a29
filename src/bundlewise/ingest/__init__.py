"""Ingest: readers, validation and the DuckDB warehouse."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bundlewise.ingest.catalog import load_catalog
    from bundlewise.ingest.jobs import IngestResult, ingest_file, ingest_files
    from bundlewise.ingest.warehouse import Warehouse

# name -> module: imported on first use (PEP 562), so reading a file (bundlewise.ingest.readers)
# imports neither pandas (the catalog) nor DuckDB (the warehouse)
_WHERE = {"load_catalog": "catalog", "IngestResult": "jobs", "ingest_file": "jobs", "ingest_files": "jobs",
          "Warehouse": "warehouse"}

__all__ = ["IngestResult", "Warehouse", "ingest_file", "ingest_files", "load_catalog"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
