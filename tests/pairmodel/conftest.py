"""The themed synthetic shop (tests/shop.py) as a warehouse and as baskets + catalogue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bundlewise.config import IngestConfig
from bundlewise.ingest import Warehouse, ingest_files, load_catalog
from bundlewise.mining import Baskets
from tests.shop import write_shop


@pytest.fixture
def shop_wh(tmp_path: Path) -> Warehouse:
    path = write_shop(tmp_path / "shop.csv")
    with Warehouse(tmp_path / "shop.duckdb") as wh:
        ingest_files(wh, [path], IngestConfig(kind="orders"))
        yield wh


@pytest.fixture
def shop(shop_wh: Warehouse) -> tuple[Baskets, pd.DataFrame]:
    from bundlewise.mining import load_baskets

    return load_baskets(shop_wh), load_catalog(shop_wh)
