"""Business-rule messages: which rule removed the candidates (and how many), unknown ids in a rules file."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bundlewise.bundles import BundlePlanConfig, BundleRules, plan_bundles
from bundlewise.cli.app import app
from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError
from bundlewise.ingest import Warehouse, ingest_file
from tests.bundles.test_pipeline import build_store

runner = CliRunner()
CATALOG = pd.DataFrame({"product_id": ["a", "b", "c"], "category_path": ["X", "X", "Y"], "price": [10.0, 5.0, 8.0],
                        "cost": [6.0, 3.0, 4.0], "stock": [5.0, 0.0, 3.0]})
CANDS = pd.DataFrame({"bundle_id": ["a+b", "a+c", "b+c"], "products": [("a", "b"), ("a", "c"), ("b", "c")]})


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rule_store")
    products, orders = build_store(directory, n_weeks=6, per_week=80)
    db = directory / "store.duckdb"
    with Warehouse(db) as wh, wh.transaction():
        ingest_file(wh, products, IngestConfig(kind="products"))
        ingest_file(wh, orders, IngestConfig(kind="orders"))
    return db


def test_rejections_are_counted_per_rule() -> None:
    kept, rejected = BundleRules(category_mode="between", never_together=(("a", "c"),)).apply(CANDS, CATALOG)
    assert kept.empty
    # a+b: out of stock and same category; a+c: never together; b+c: out of stock
    assert rejected.attrs["by_rule"] == {"exclude_out_of_stock": 2, "category_mode": 1, "never_together": 1}


def test_rule_ids_that_match_no_product_are_named(caplog: pytest.LogCaptureFixture) -> None:
    rules = BundleRules(exclude_products=("a", "zz-typo"), never_together=(("b", "qq"),))
    assert rules.unknown_products(CATALOG) == {"never_together": ["qq"], "exclude_products": ["zz-typo"]}
    with caplog.at_level(logging.WARNING, logger="bundlewise.bundles.business_rules"):
        rules.apply(CANDS, CATALOG)
    assert "match no product" in caplog.text and "zz-typo" in caplog.text and "qq" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bundlewise.bundles.business_rules"):
        BundleRules(exclude_products=("a",)).apply(CANDS, CATALOG)
    assert "match no product" not in caplog.text


def test_rules_that_leave_no_candidate_say_which_and_what_to_relax(store_db: Path) -> None:
    cfg = BundlePlanConfig.from_dict({"min_count": 10, "n_draws": 2000, "n_boot": 10,
                                      "rules": {"required_products": ["soap"]}})  # soap is never bought with others
    with Warehouse(store_db) as wh, pytest.raises(ConfigError) as info:
        plan_bundles(wh, cfg)
    message = str(info.value)
    assert "the business rules removed all" in message and "required_products" in message
    assert "add products to required_products" in message and "price_bundles" not in message


def test_cli_no_candidate_and_unknown_ids(store_db: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('exclude_products = ["tent", "pegs", "lamp", "stove", "milk", "cereal", "jam", "nosuch-1"]\n',
                     encoding="utf-8")
    result = runner.invoke(app, ["--db", str(store_db), "bundles", "--min-count", "10", "--rules", str(rules)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "removed all" in text and "exclude_products" in text and "shorten exclude_products" in text
    assert "nosuch-1" in text and "match no product" in text  # the warning names the unknown id
    assert "internal error" not in text and "price_bundles()" not in text
