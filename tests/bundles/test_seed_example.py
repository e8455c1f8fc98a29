"""The must-pass example of the seed: 智能手表 (500), 运动鞋 (200), 运动耳机 (300), 户外运动背包 (400),
with orders where watch and shoes co-occur → the watch + shoes bundle is proposed, with its discount and
reasons, through the library and through the CLI (the real ingest path both times)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bundlewise.bundles import BundlePlanConfig, plan_bundles
from bundlewise.cli.app import app
from bundlewise.config import IngestConfig
from bundlewise.ingest import Warehouse, ingest_file

PRODUCTS = [["W1", "智能手表", "电子 > 智能穿戴", 500, 300, 50], ["S1", "运动鞋", "运动 > 鞋", 200, 110, 80],
            ["E1", "运动耳机", "电子 > 音频", 300, 180, 40], ["B1", "户外运动背包", "运动 > 背包", 400, 240, 30]]
PRICE = {p[0]: p[3] for p in PRODUCTS}
# 593 shopper visits: watch and shoes together in 30 (lift 1.5), earbuds and backpack together only 3 times
PATTERNS = ([("W1", "S1")] * 30 + [("W1",)] * 70 + [("S1",)] * 90 + [("E1",)] * 200 + [("B1",)] * 200
            + [("E1", "B1")] * 3)


@pytest.fixture
def seed_files(tmp_path: Path, write_csv) -> tuple[Path, Path]:
    products = write_csv("products.csv", ["product_id", "title", "category_path", "price", "cost", "stock"],
                         PRODUCTS)
    patterns = list(PATTERNS)
    random.Random(0).shuffle(patterns)
    start = datetime(2024, 1, 1)
    rows = []
    for i, pattern in enumerate(patterns):
        ts = (start + timedelta(hours=3 * i)).isoformat(sep=" ")
        rows += [[f"O{i:04d}", p, 1, PRICE[p], ts, f"C{i % 90}"] for p in pattern]
    orders = write_csv("orders.csv", ["order_id", "product_id", "quantity", "unit_price", "ordered_at",
                                      "customer_id"], rows)
    return products, orders


def _check_watch_and_shoes(bundles: list[dict]) -> dict:
    ids = [tuple(b["products"]) for b in bundles]
    assert ("S1", "W1") in ids, ids
    row = bundles[ids.index(("S1", "W1"))]
    assert row["proposed"] and row.get("reason", "") == ""  # a portfolio-only file drops the empty column
    assert 0 < row["discount"] <= 0.3
    assert row["regular_price"] == pytest.approx(700.0)
    assert row["bundle_price"] == pytest.approx(700.0 * (1 - row["discount"]), abs=0.01)
    assert row["incremental_profit"] > 0
    assert row["margin_source"] == "cost"
    assert row["attach_rate_with"] > row["attach_rate_without"]
    assert "智能手表" in row["explanation"] and "运动鞋" in row["explanation"]
    assert f"{row['discount']:.0%} off" in row["explanation"]
    assert row["n_ab"] == 30 and row["lift"] == pytest.approx(30 * 593 / (100 * 120), abs=1e-4)
    # earbuds + backpack were bought together 3 times: below min_count, never a candidate
    assert ("B1", "E1") not in ids
    return row


def test_seed_example_through_the_library(tmp_path: Path, seed_files) -> None:
    products, orders = seed_files
    with Warehouse(tmp_path / "seed.duckdb") as wh:
        with wh.transaction():
            ingest_file(wh, products, IngestConfig(kind="products"))
            ingest_file(wh, orders, IngestConfig(kind="orders"))
        plan = plan_bundles(wh, BundlePlanConfig(min_count=5, n_draws=20000, n_boot=50))
    row = _check_watch_and_shoes(plan.priced.to_dict("records"))
    assert row["selected"]
    assert plan.selected["bundle_id"].tolist() == ["S1+W1"]
    assert row["titles"] == ("运动鞋", "智能手表")
    assert plan.portfolio.objective == pytest.approx(row["incremental_profit"])


def test_seed_example_through_the_cli(tmp_path: Path, seed_files) -> None:
    products, orders = seed_files
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    for kind, path in (("products", products), ("orders", orders)):
        result = runner.invoke(app, ["--db", db, "-q", "ingest", kind, str(path)])
        assert result.exit_code == 0, result.output
    out = tmp_path / "bundles.json"
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "5", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "运动鞋 + 智能手表" in result.output
    assert "1 bundles chosen" in result.output
    bundles = json.loads(out.read_text(encoding="utf-8"))
    row = _check_watch_and_shoes(bundles)
    assert f"{row['discount']:.0%}" in result.output
    assert "why:" in result.output and row["explanation"][:40] in result.output.replace("\n", " ")
