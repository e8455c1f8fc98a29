"""stats() on a small warehouse; dataset registry errors."""

from __future__ import annotations

import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError
from bundlewise.ingest import Warehouse, ingest_files
from bundlewise.ingest.datasets import get_dataset, list_datasets, load_dataset
from bundlewise.ingest.stats import warehouse_stats


def test_stats_counts_sizes_and_top_products(wh: Warehouse, write_csv) -> None:
    rows = [["1", "milk"], ["1", "bread"], ["1", "milk"], ["2", "milk"], ["3", "eggs"], ["3", "bread"],
            ["3", "milk"], ["3", "jam"], ["3", "tea"], ["3", "salt"]]
    ingest_files(wh, [write_csv("o.csv", ["order_id", "product_id"], rows)], IngestConfig(kind="orders"))
    s = warehouse_stats(wh, top=2)
    assert (s.n_baskets, s.n_basket_items, s.n_basket_products) == (3, 9, 6)
    assert s.basket_size_quantiles["max"] == 6 and s.basket_size_quantiles["p50"] == 2
    assert dict(s.basket_size_histogram)["1"] == 1 and dict(s.basket_size_histogram)["2"] == 1
    assert dict(s.basket_size_histogram)["6-10"] == 1
    assert [(p[0], p[2]) for p in s.top_products] == [("milk", 3), ("bread", 2)]
    assert s.ingests[0].rows_read == 10 and s.rejected_share == 0.0


def test_dataset_registry() -> None:
    assert {d.name for d in list_datasets()} == {"complete-journey", "groceries", "instacart-sample",
                                                  "online-retail"}
    assert not get_dataset("complete-journey").needs_path
    with pytest.raises(ConfigError, match="unknown dataset 'movielens'; allowed datasets are"):
        get_dataset("movielens")


def test_local_datasets_need_a_path(wh: Warehouse) -> None:
    with pytest.raises(ConfigError, match="pass --path FILE"):
        load_dataset(wh, "groceries")
