"""Ids stored as floats (pandas writes integer ids as float64 once one is missing) are the same ids."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import DataValidationError
from bundlewise.ingest import Warehouse, ingest_files


def _parquet(path: Path, **columns: pa.Array) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_whole_float_ids_match_the_integer_and_text_ids(wh: Warehouse, tmp_path: Path, write_csv) -> None:
    ingest_files(wh, [write_csv("p.csv", ["product_id", "title"], [["22423", "CAKE STAND"]])],
                 IngestConfig(kind="products"))
    orders = _parquet(tmp_path / "o.parquet", order_id=pa.array([536365.0, 536365.0]),
                      product_id=pa.array([22423.0, 85123.0]), customer_id=pa.array([17850.0, None]))
    [r] = ingest_files(wh, [orders], IngestConfig(kind="orders"))
    assert r.details["products_new"] == 1  # 85123 only: 22423.0 is the catalog's 22423
    assert wh.con.execute("SELECT product_id FROM products ORDER BY 1").fetchall() == [("22423",), ("85123",)]
    assert wh.con.execute("SELECT order_id, customer_id FROM orders").fetchall() == [("536365", "17850")]


def test_a_fractional_float_id_is_refused_with_its_row(wh: Warehouse, tmp_path: Path) -> None:
    orders = _parquet(tmp_path / "o.parquet", order_id=pa.array([1, 2], pa.int64()),
                      product_id=pa.array([22423.0, 22423.5]))
    with pytest.raises(DataValidationError, match=r"o.parquet row 2: column 'product_id' is '22423.5'; product_id is "
                                                  r"in a floating-point column and is not a whole number"):
        ingest_files(wh, [orders], IngestConfig(kind="orders"))
    assert wh.counts()["orders"] == 0
