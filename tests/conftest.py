"""Shared fixtures: a temporary warehouse, file writers and the ../shared datasets."""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from bundlewise.ingest import Warehouse

# Property tests are derandomised: the same examples every run, so CI is deterministic.
settings.register_profile("bundlewise", derandomize=True, deadline=None)
settings.load_profile("bundlewise")

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; BUNDLEWISE_SHARED points elsewhere (e.g. a clone outside the project folder)
SHARED = Path(os.environ.get("BUNDLEWISE_SHARED", ROOT.parent / "shared")) / "datasets"


@pytest.fixture(scope="session")
def minilm():
    """The MiniLM text encoder, loaded once per session (seconds each time); tests use it read-only."""
    from bundlewise.text import ProductEncoder

    return ProductEncoder(model="minilm", batch_size=32, device="cpu").fit()


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "test.duckdb") as w:
        yield w


@pytest.fixture
def write_csv(tmp_path: Path):
    """write_csv(name, header, rows, gz=False, newline="\\n") -> Path"""

    def _write(name: str, header: list[str], rows: list[list[object]], *, gz: bool = False,
               newline: str = "\n", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        opener = gzip.open if gz else open
        with opener(path, "wt", newline="", encoding=encoding) as fh:  # type: ignore[operator]
            w = csv.writer(fh, lineterminator=newline)
            w.writerow(header)
            w.writerows(rows)
        return path

    return _write


def shared_path(*parts: str) -> Path:
    """A file under ../shared/datasets, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared datasets folder beside the project); absent here")
    return path
