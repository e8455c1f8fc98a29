"""Elasticities: recovery of known slopes, shrinkage, fallbacks, the warehouse panel and Dominick's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.bundles.elasticity import (
    estimate_elasticities,
    price_panel_from_warehouse,
)
from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError, DataValidationError
from bundlewise.ingest import ingest_file
from bundlewise.ingest.dominicks import load_dominicks_cheese, load_dominicks_oj
from tests.conftest import shared_path


def _panel(elasticities: dict[str, float], *, n_periods: int = 60, n_stores: int = 3, noise: float = 0.05,
           category: str = "c", seed: int = 0, promo_lift: float = 0.0) -> pd.DataFrame:
    """A synthetic store-week panel with period shocks shared by the category and known slopes."""
    rng = np.random.default_rng(seed)
    shock = rng.normal(0, 0.3, n_periods)
    rows = []
    for pid, e in elasticities.items():
        for s in range(n_stores):
            level = rng.normal(4, 0.5)
            for t in range(n_periods):
                promo = int(rng.random() < 0.2)
                price = 2.0 * rng.choice([1.0, 0.9, 0.8, 1.1]) * (0.85 if promo else 1.0)
                q = np.exp(level + shock[t] + e * np.log(price) + promo_lift * promo + rng.normal(0, noise))
                rows.append((pid, t, f"s{s}", price, q, category, promo))
    return pd.DataFrame(rows, columns=["product_id", "period", "store_id", "price", "quantity", "category", "promo"])


def test_recovers_known_elasticities_with_period_shocks_and_promo() -> None:
    truth = {"a": -1.0, "b": -2.0, "c": -3.0}
    est = estimate_elasticities(_panel(truth, promo_lift=0.5)).set_index("product_id")
    raw = est.attrs["raw"].set_index("product_id")
    for pid, e in truth.items():
        assert raw.at[pid, "b"] == pytest.approx(e, abs=0.1)
        assert est.at[pid, "source"] == "own"
        assert est.at[pid, "se"] > 0
    assert raw["promo"].to_numpy() == pytest.approx([0.5] * 3, abs=0.1)
    assert est.columns.tolist() == ["category", "elasticity", "se", "n_obs", "n_price_levels", "source"]


def test_a_promo_flag_that_moves_with_the_price_does_not_steal_the_slope() -> None:
    # panels built from order lines flag promo exactly when a discount lowers the paid price
    rng = np.random.default_rng(1)
    promo = (rng.random(80) < 0.3).astype(int)
    price = np.where(promo == 1, 0.8, 1.0)
    panel = pd.DataFrame({"product_id": "a", "period": np.arange(80), "price": price, "promo": promo,
                          "quantity": np.exp(3 - 1.8 * np.log(price) + rng.normal(0, 0.05, 80))})
    est = estimate_elasticities(panel)
    assert est["elasticity"].iloc[0] == pytest.approx(-1.8, abs=0.15)
    assert est.attrs["raw"]["promo"].iloc[0] == 0.0


def test_a_lone_series_gets_no_period_effects_and_an_honest_standard_error() -> None:
    # one product in one store: a period effect per row would fit every row exactly
    rng = np.random.default_rng(2)
    price = rng.choice([1.0, 1.1, 1.25], 100)
    panel = pd.DataFrame({"product_id": "a", "period": np.arange(100), "price": price,
                          "quantity": np.exp(4 - 2.2 * np.log(price) + rng.normal(0, 0.2, 100))})
    raw = estimate_elasticities(panel).attrs["raw"].iloc[0]
    assert raw["b"] == pytest.approx(-2.2, abs=0.3)
    assert 0.05 < raw["se_b"] < 0.5


def test_shrinkage_pulls_noisy_products_toward_the_category_mean() -> None:
    truth = {f"p{i}": -2.0 for i in range(8)}
    noisy = _panel(truth, noise=0.6, n_periods=20, n_stores=1, seed=3)
    est = estimate_elasticities(noisy)
    raw = est.attrs["raw"]
    # shrunk estimates spread less than raw ones and sit closer to the truth on average
    assert est["elasticity"].std() < raw["b"].std()
    assert np.abs(est["elasticity"] + 2).mean() <= np.abs(raw["b"] + 2).mean()
    assert (est["se"] <= raw["se_b"] + 1e-12).all()


def test_products_without_price_variation_fall_back_to_category_then_prior() -> None:
    panel = _panel({"a": -2.0, "b": -2.5})
    flat = panel[panel["product_id"] == "a"].assign(product_id="flat", price=3.0)
    alone = flat.assign(product_id="lonely", category="other")
    est = estimate_elasticities(pd.concat([panel, flat, alone]), prior_mean=-1.2, prior_sd=0.8)
    est = est.set_index("product_id")
    assert est.at["flat", "source"] == "category"
    assert -2.6 < est.at["flat", "elasticity"] < -1.9
    assert est.at["flat", "n_price_levels"] == 1
    assert est.at["lonely", "source"] == "prior"
    assert est.at["lonely", "elasticity"] == -1.2 and est.at["lonely", "se"] == 0.8


def test_bad_input_is_refused_with_what_was_received() -> None:
    with pytest.raises(DataValidationError, match="lacks column.*'quantity'"):
        estimate_elasticities(pd.DataFrame({"product_id": ["a"], "period": [1], "price": [1.0]}))
    with pytest.raises(ConfigError, match="prior_sd is 0"):
        estimate_elasticities(_panel({"a": -1.0}), prior_sd=0)
    with pytest.raises(ConfigError, match="min_price_levels"):
        estimate_elasticities(_panel({"a": -1.0}), min_price_levels=1)


def test_price_panel_from_warehouse(wh, write_csv) -> None:
    orders = write_csv("orders.csv", ["order_id", "product_id", "quantity", "unit_price", "discount", "ordered_at",
                                      "store_id"],
                       [["o1", "a", 2, 1.0, 0, "2024-01-01 10:00", "s1"],
                        ["o2", "a", 1, 0.8, 0.2, "2024-01-02 10:00", "s1"],
                        ["o3", "a", 1, 1.0, 0, "2024-01-09 10:00", "s1"],
                        ["o3", "b", 3, 2.0, 0, "2024-01-09 10:00", "s1"]])
    products = write_csv("products.csv", ["product_id", "category_path", "price"],
                         [["a", "Food > Snacks", 1.0], ["b", "", 2.0]])
    with wh.transaction():
        ingest_file(wh, products, IngestConfig(kind="products"))
        ingest_file(wh, orders, IngestConfig(kind="orders"))
    panel = price_panel_from_warehouse(wh)
    assert panel.columns.tolist() == ["product_id", "period", "price", "quantity", "store_id", "category", "promo"]
    first = panel.iloc[0]
    assert (first["product_id"], first["quantity"], first["promo"], first["category"]) == ("a", 3.0, 1, "Food")
    assert first["price"] == pytest.approx((2 * 1.0 + 0.8) / 3)
    assert panel["category"].tolist()[-1] == "all"
    assert len(panel) == 3
    with pytest.raises(ConfigError, match="period is 'year'"):
        price_panel_from_warehouse(wh, "year")


@pytest.mark.slow
def test_dominicks_orange_juice_elasticities_are_in_the_published_range() -> None:
    """Own-price elasticities of refrigerated OJ are typically -2 to -3 (Montgomery 1997; bayesm).

    Measured here (store x brand and week x category fixed effects, deal and feature-ad controls):
    -2.0 (Dominicks 128oz) to -3.8 (Florida Gold), median -3.2; adding the other brands' mean log
    price (a cross-price control) gives median -2.9, -1.0 to -4.1.
    """
    oj = load_dominicks_oj(shared_path("dominicks"))
    assert oj["product_id"].nunique() == 11 and len(oj) == 106_139
    est = estimate_elasticities(oj, controls=("feat",))
    assert (est["source"] == "own").all()
    assert est["elasticity"].between(-4.0, -1.8).all(), est
    assert -3.4 <= est["elasticity"].median() <= -2.5
    cross = estimate_elasticities(oj, controls=("feat", "others_log_price"))
    assert -3.2 <= cross["elasticity"].median() <= -2.3
    assert cross["elasticity"].between(-4.5, -0.8).all()
    # the brand effects of the cross-price control are positive for most brands (substitutes)
    assert (cross.attrs["raw"]["others_log_price"] > 0).sum() >= 9


def test_dominicks_cheese_elasticity() -> None:
    """Borden sliced cheese across 88 retailers: -2.5 measured (display share as promo)."""
    cheese = load_dominicks_cheese(shared_path("dominicks"))
    est = estimate_elasticities(cheese)
    assert est["elasticity"].iloc[0] == pytest.approx(-2.5, abs=0.3)
    assert est["source"].iloc[0] == "own"
