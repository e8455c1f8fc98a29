"""The themed synthetic shop (tests/shop.py) as a warehouse and as baskets + catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bundlewise.config import IngestConfig
from bundlewise.ingest import Warehouse, ingest_files, load_catalog
from bundlewise.mining import Baskets
from tests.shop import write_shop


def ingest_shop(folder: Path) -> Path:
    """A fresh warehouse of the themed shop in ``folder`` (for a test that writes to it)."""
    with Warehouse(folder / "shop.duckdb") as wh:
        ingest_files(wh, [write_shop(folder / "shop.csv")], IngestConfig(kind="orders"))
    return folder / "shop.duckdb"


# Module-scoped: ingesting the shop takes a second or two and the tests only read it (a test that
# writes builds its own with ingest_shop).
@pytest.fixture(scope="module")
def shop_wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with Warehouse(ingest_shop(tmp_path_factory.mktemp("shop"))) as wh:
        yield wh


@pytest.fixture(scope="module")
def shop(shop_wh: Warehouse) -> tuple[Baskets, pd.DataFrame]:
    from bundlewise.mining import load_baskets

    return load_baskets(shop_wh), load_catalog(shop_wh)
