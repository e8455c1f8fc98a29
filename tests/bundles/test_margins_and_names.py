"""Margins inferred without costs (Lerner), the margins file, names told apart, multi-buys, and the
arc-to-point elasticity that removed the systematic under-discounting (issue 14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bundlewise.bundles._valuation import point_from_arc
from bundlewise.bundles.margins import fill_costs, read_margins
from bundlewise.bundles.naming import display_names, variant_pair
from bundlewise.errors import DataValidationError


def test_point_from_arc_recovers_the_point_elasticity_of_a_known_curve() -> None:
    # log-normal valuations around the price: purchase share 1 - Phi((log p - mu) / s), s = 0.4
    s, q = 0.4, 0.45
    x0 = stats.norm.ppf(1 - q)
    log_ratio = np.log(np.r_[np.ones(39), np.linspace(0.75, 0.9, 13)])[:, None]
    rate = stats.norm.sf(x0 + log_ratio[:, 0] / s)
    arc = np.polyfit(log_ratio[:, 0], np.log(rate), 1)[0]  # what a log-log regression measures
    truth = -stats.norm.pdf(x0) / (s * stats.norm.sf(x0))  # the point elasticity at the price
    point = point_from_arc(np.array([arc]), log_ratio, np.ones_like(log_ratio, bool), np.array([0.01]), q)[0]
    assert abs(arc) < abs(truth) - 0.15  # the chord is flatter than the curve at the price
    assert point == pytest.approx(truth, abs=0.02)
    flat = point_from_arc(np.array([-2.0]), np.zeros((10, 1)), np.ones((10, 1), bool), np.array([0.1]), 0.5)
    assert flat[0] == -2.0  # no price variation: nothing to convert


def test_the_fix_removes_the_shallow_discount_bias_on_the_simulator() -> None:
    from bundlewise.bundles.pricing import PricingConstraints
    from bundlewise.bundles.simulate import make_market, run_market

    c = PricingConstraints(min_discount=0.0)
    gaps = {}
    for kind in ("point", "arc"):
        d = pd.concat([run_market(make_market(r, s), seed=s, constraints=c,
                                  demand_params={"n_boot": 0, "elasticity_input": kind})
                       for r in ("shared_need", "varying_margins") for s in (0, 1)])
        pos = d[d["best"] > 0]
        gaps[kind] = (pos["discount"] - pos["best_discount"]).mean()
        if kind == "arc":  # the elasticity at the regular price is recovered without bias
            assert abs((d["est_elasticity_a"] - d["true_elasticity_a"]).mean()) < 0.12
    assert gaps["point"] < -0.004 and gaps["arc"] > gaps["point"] + 0.004


def test_margins_follow_the_lerner_rule_shrunk_toward_the_category() -> None:
    cat = pd.DataFrame({"product_id": list("abcde"), "price": 10.0, "cost": [np.nan] * 4 + [4.0],
                        "category_path": ["Dairy > Milk", "Dairy > Yogurt", "Dairy > Yogurt", "Bakery", "Bakery"]})
    params = pd.DataFrame({"product_id": list("abcde"), "elasticity_regular": [-2.0, -4.0, -3.0, -1.0, -2.0],
                           "elasticity_se": [0.05, 0.05, 2.0, 0.3, 0.1],
                           "elasticity_source": ["own", "own", "own", "prior", "own"]})
    out = fill_costs(cat, params, assumed_margin_rate=0.3).set_index("product_id")
    assert out["margin_source"].tolist() == ["inferred", "inferred", "inferred", "assumed", "cost"]
    assert out.loc["a", "margin_rate"] == pytest.approx(0.5, abs=0.01)  # precise: keeps its own -1/e
    assert out.loc["b", "margin_rate"] == pytest.approx(0.25, abs=0.01)
    # noisy: pulled from its own 1/3 toward the precise category mates' mean
    assert abs(out.loc["c", "margin_rate"] - 0.375) < abs(1 / 3 - 0.375)
    assert out.loc["c", "margin_high"] - out.loc["c", "margin_low"] > out.loc["a", "margin_high"] - out.loc[
        "a", "margin_low"]
    assert out.loc["d", "margin_rate"] == 0.3 and out.loc["e", "cost"] == 4.0
    assert out.loc["a", "cost"] == pytest.approx(10 * (1 - out.loc["a", "margin_rate"]))


def test_a_margins_file_overrides_by_category_and_bad_rows_are_named(tmp_path: Path) -> None:
    good = tmp_path / "m.csv"
    good.write_text("category,margin_rate\ndairy,0.4\nDairy > Yogurt,0.6\n", encoding="utf-8")
    margins = read_margins(good)
    cat = pd.DataFrame({"product_id": ["a", "b"], "price": 10.0, "category_path": ["Dairy > Milk", "Dairy > Yogurt"]})
    params = pd.DataFrame({"product_id": ["a", "b"], "elasticity_regular": -2.0, "elasticity_se": 0.1,
                           "elasticity_source": "own"})
    out = fill_costs(cat, params, margins=margins)
    assert out["margin_source"].tolist() == ["given", "given"]
    assert out["margin_rate"].tolist() == [0.4, 0.6]  # the longest matching category wins
    bad = tmp_path / "bad.csv"
    bad.write_text("category,margin_rate\ndairy,0.4\nbakery,1.4\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"bad.csv.*row 3.*margin_rate"):
        read_margins(bad)
    with pytest.raises(DataValidationError, match="lacks column"):
        (tmp_path / "x.csv").write_text("cat,rate\na,0.1\n", encoding="utf-8")
        read_margins(tmp_path / "x.csv")


def test_names_tell_variants_apart_with_what_the_table_holds() -> None:
    cat = pd.DataFrame({"product_id": ["1", "2", "3", "4"], "title": ["YOGURT 6 OZ"] * 3 + ["MILK"],
                        "brand": ["National", "National", "Private", "National"],
                        "category_path": ["DAIRY > YOGURT"] * 3 + ["DAIRY > MILK"]})
    names = display_names(cat)
    assert len(set(names.values())) == 4
    assert names["3"] == "YOGURT 6 OZ (Private)" and names["4"] == "MILK"
    assert names["1"].endswith("#1)") and names["2"].endswith("#2)")  # same brand and type: the id tells them apart
    indexed = cat.set_index("product_id")
    assert variant_pair(indexed, ("1", "2")) and variant_pair(indexed, ("1", "3"))
    assert not variant_pair(indexed, ("1", "4"))
    plain = pd.DataFrame({"product_id": ["a", "b", "c"], "title": ["Green tea 20 bags", "Green tea 40 bags",
                                                                   "Honey"]}).set_index("product_id")
    assert variant_pair(plain, ("a", "b")) and not variant_pair(plain, ("a", "c"))
