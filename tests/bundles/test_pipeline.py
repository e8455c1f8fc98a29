"""The end-to-end plan on a small synthetic store, its config, and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bundlewise.bundles import BundlePlanConfig, BundleRules, PricingConstraints, bundle_table, plan_bundles
from bundlewise.bundles.report import build_report, portfolio_frame
from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError
from bundlewise.ingest import Warehouse, ingest_file

# (id, title, category, price, cost or None)
ITEMS = [("tent", "Tent", "Outdoor > Tents", 120.0, 40.0), ("pegs", "Pegs", "Outdoor > Accessories", 8.0, 2.0),
         ("lamp", "Lamp", "Outdoor > Lights", 25.0, 8.0), ("stove", "Stove", "Outdoor > Cooking", 40.0, None),
         ("milk", "Milk", "Food > Dairy", 1.5, 0.6), ("cereal", "Cereal", "Food > Breakfast", 4.0, 1.5),
         ("jam", "Jam", "Food > Spreads", 3.0, 1.0), ("soap", "Soap", "Home > Bath", 2.5, 1.0)]
GROUPS = [["tent", "pegs", "lamp", "stove"], ["milk", "cereal", "jam"], ["soap"]]


def build_store(directory: Path, *, n_weeks: int = 16, per_week: int = 120, seed: int = 0) -> tuple[Path, Path]:
    """Shoppers in the market for a group pick products of it; prices move week to week (promotions)."""
    rng = np.random.default_rng(seed)
    price = {i[0]: i[3] for i in ITEMS}
    products = pd.DataFrame([{"product_id": i[0], "title": i[1], "category_path": i[2], "price": i[3],
                              "cost": i[4], "stock": 100} for i in ITEMS])
    products.to_csv(directory / "products.csv", index=False)
    rows = []
    order = 0
    for week in range(n_weeks):
        promo = {p: rng.random() < 0.25 for p in price}
        week_price = {p: round(price[p] * (0.8 if promo[p] else 1.0), 2) for p in price}
        for _ in range(per_week):
            group = GROUPS[rng.choice(3, p=[0.35, 0.45, 0.2])]
            chosen = [p for p in group if rng.random() < 0.55 * (1.25 if promo[p] else 1.0)]
            if not chosen:
                continue
            ts = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * week + int(rng.integers(7)), hours=10)
            for p in chosen:
                rows.append({"order_id": f"o{order}", "product_id": p, "quantity": 1, "unit_price": week_price[p],
                             "discount": round(price[p] - week_price[p], 2), "ordered_at": ts, "store_id": "s1"})
            order += 1
    pd.DataFrame(rows).to_csv(directory / "orders.csv", index=False)
    return directory / "products.csv", directory / "orders.csv"


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("store")
    products, orders = build_store(directory)
    db = directory / "store.duckdb"
    with Warehouse(db) as wh, wh.transaction():
        ingest_file(wh, products, IngestConfig(kind="products"))
        ingest_file(wh, orders, IngestConfig(kind="orders"))
    return db


FAST = {"min_count": 10, "n_draws": 4000, "n_boot": 30}


@pytest.fixture(scope="module")
def plan(store_db: Path):  # type: ignore[no-untyped-def]
    with Warehouse(store_db) as wh:
        return plan_bundles(wh, BundlePlanConfig.from_dict({
            **FAST, "rules": {"never_together": [["lamp", "tent"]]},
            "portfolio": {"max_bundles": 3, "per_product": 1}}))


def test_plan_steps_fit_together(plan) -> None:  # type: ignore[no-untyped-def]
    priced, selected = plan.priced, plan.selected
    assert len(priced) > 0 and "selected" in priced.columns
    # the rules' never-together pair is rejected with its reason, before pricing
    assert "lamp+tent" in set(plan.rejected["bundle_id"])
    assert plan.rejected["reason"].str.contains("never bundled together").all()
    assert not any({"lamp", "tent"} <= set(p) for p in priced["products"])
    # cross-group pairs never reach min_count
    assert all(len({g for g, grp in enumerate(GROUPS) for p in ps if p in grp}) == 1 for ps in priced["products"])
    # the portfolio holds proposed, profitable bundles within its limits
    assert 0 < len(selected) <= 3
    assert selected["proposed"].all() and (selected["incremental_profit"] > 0).all()
    counts = pd.Series([p for ps in selected["products"] for p in ps]).value_counts()
    assert counts.max() <= 1
    assert set(selected["bundle_id"]) == set(priced.loc[priced["selected"], "bundle_id"])
    assert plan.portfolio.objective == pytest.approx(selected["incremental_profit"].sum())
    assert (priced["discount"].dropna() <= 0.3 + 1e-9).all()
    # elasticities for every bundled product, own estimates where prices moved
    bundled = {p for ps in priced["products"] for p in ps}
    assert bundled <= set(plan.elasticities["product_id"])
    assert (plan.elasticities["source"] == "own").any()
    assert plan.elasticities["elasticity"].notna().all()
    assert plan.demand.params_["elasticity"].lt(0).all()  # what the model prices with (a noisy +0.02 is clipped)
    assert set(plan.seconds) == {"load", "pairs", "candidates", "elasticities", "demand", "pricing", "portfolio",
                                 "curves"}
    # the stove has no cost: its margin is inferred from its price elasticity (Lerner), and said
    stove = priced[[("stove" in p) for p in priced["products"]]]
    assert (stove["margin_source"] == "inferred").all()
    row = plan.catalog.set_index("product_id").loc["stove"]
    el = plan.demand.params_.set_index("product_id").loc["stove", "elasticity_regular"]
    assert row["margin_source"] == "inferred" and 0.05 <= row["margin_rate"] <= 0.8
    assert row["margin_low"] <= row["margin_rate"] <= row["margin_high"]
    assert row["cost"] == pytest.approx(row["price"] * (1 - row["margin_rate"]))
    assert abs(row["margin_rate"] - min(max(-1 / el, 0.05), 0.8)) < 0.15  # shrunk toward its category, not far


def test_the_plan_is_deterministic(store_db: Path, plan) -> None:  # type: ignore[no-untyped-def]
    with Warehouse(store_db) as wh:
        again = plan_bundles(wh, plan.config)
    pd.testing.assert_frame_equal(again.priced, plan.priced)


def test_bundle_table_and_report(plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = bundle_table(plan)
    assert len(table) == len(plan.selected) and all(" + " in p for p in table["products"])
    everything = bundle_table(plan, selected_only=False)
    assert len(everything) == len(plan.priced) + len(plan.rejected)
    assert (everything["stage"] == "business rules").sum() == len(plan.rejected)
    for t in (table, everything):  # every column filled somewhere, money in cents, clean discounts
        assert not [c for c in t.columns if t[c].isna().all() or (t[c].astype(str) == "").all()]
        priced = t["bundle_price"].dropna()
        assert (priced == priced.round(2)).all() and (t["discount"].dropna() == t["discount"].dropna().round(3)).all()
    assert (table["discount"] >= 0.05 - 1e-9).all() and "reason" not in table  # no reason to give for chosen ones
    assert (everything.loc[~everything["selected"].astype(bool), "reason"].str.len() > 0).all()
    not_chosen = everything[everything["stage"] == "portfolio"]
    assert not_chosen["reason"].str.startswith("not chosen: ").all()
    el = json.loads(table["elasticities"].iloc[0])
    assert all(e <= -0.2 for e in el)  # the values used: after clipping
    frame = portfolio_frame(plan.selected)
    assert frame["discount"].str.endswith("%").all()
    path = build_report(plan, top=2).write(tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") >= 3  # margins, profit curves, association graph
    for heading in ("Bundles worth running", "Portfolio", "Profit against discount", "Association graph",
                    "Elasticities used", "Left out, and why"):
        assert heading in html
    assert html.index("Bundles worth running") < html.index("Left out, and why") < html.index("Portfolio")
    assert "per week" in html
    phrases = {"cost": "from catalogue costs", "inferred": "inferred from the products&#x27; price elasticities"}
    for source in set(plan.selected["margin_source"]):  # the margins paragraph names where each came from
        assert phrases[source] in html
    assert plan.selected["explanation"].iloc[0] in html.replace("&#x27;", "'")  # the full why, never cut


def test_the_report_of_a_plan_file_prices_nothing_again(plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bundlewise.bundles.plan_io import read_plan

    csv = tmp_path / "plan.csv"
    bundle_table(plan, selected_only=False).to_csv(csv, index=False)
    view = read_plan(csv)
    assert view.selected["bundle_id"].tolist() == plan.selected["bundle_id"].tolist()
    assert set(view.curves) == set(plan.curves) and len(view.curves) > 0
    first = next(iter(plan.curves))
    np.testing.assert_allclose(view.curves[first]["profit"], plan.curves[first]["profit"], atol=1e-4)
    html = build_report(view, top=2).render()
    assert html.count("<svg") >= 3 and "Left out, and why" in html
    assert plan.selected["names"].iloc[0][0] in html


def test_config_nesting_and_rule_tightening() -> None:
    cfg = BundlePlanConfig.from_dict({"pricing": {"max_discount": 0.4, "margin_floor": 0.1},
                                      "rules": {"max_discount": 0.2, "min_margin_rate": 0.25}})
    eff = cfg.effective_pricing()
    assert (eff.max_discount, eff.margin_floor) == (0.2, 0.25)
    assert BundlePlanConfig(pricing=PricingConstraints(max_discount=0.1)).effective_pricing().max_discount == 0.1
    with pytest.raises(ConfigError, match="unknown bundle plan key"):
        BundlePlanConfig.from_dict({"min_cout": 3})
    with pytest.raises(ConfigError, match="unknown pricing key"):
        BundlePlanConfig.from_dict({"pricing": {"max_discont": 0.2}})
    with pytest.raises(ConfigError, match="metric is 'magic'"):
        BundlePlanConfig(metric="magic")
    with pytest.raises(ConfigError, match="rules must be a BundleRules"):
        BundlePlanConfig(rules={"never_together": []})  # type: ignore[arg-type]
    assert isinstance(BundlePlanConfig().rules, BundleRules)


def test_no_pair_reaches_min_count(store_db: Path) -> None:
    with Warehouse(store_db) as wh, pytest.raises(ConfigError, match="no product pair is bought together in >= "
                                                                     "100000"):
        plan_bundles(wh, BundlePlanConfig(min_count=100_000))


def test_missing_catalogue_prices_come_from_orders(tmp_path: Path, write_csv) -> None:
    orders = write_csv("o.csv", ["order_id", "product_id", "quantity", "unit_price", "discount", "ordered_at"],
                       [[f"o{i}", p, 1, 2.0 if p == "a" else 3.0, 0.5 if p == "a" else 0, "2024-01-01 10:00"]
                        for i in range(30) for p in ("a", "b")])
    with Warehouse(tmp_path / "w.duckdb") as wh:
        with wh.transaction():
            ingest_file(wh, orders, IngestConfig(kind="orders"))
        wh.con.execute("UPDATE products SET price = NULL")
        plan = plan_bundles(wh, BundlePlanConfig(min_count=5, n_draws=1000, n_boot=0))
    # the shelf price: paid 2.00 plus the 0.50 discount per unit
    prices = plan.catalog.set_index("product_id")["price"]
    assert prices["a"] == pytest.approx(2.5) and prices["b"] == pytest.approx(3.0)
    assert plan.catalog.attrs["prices_from_orders"] == 2
    assert plan.priced["regular_price"].iloc[0] == pytest.approx(5.5)


def test_a_plan_of_no_bundles_is_still_a_plan_file(store_db: Path, tmp_path: Path) -> None:
    """When nothing is worth running (an impossible margin floor here), 'bundles --output' writes the header
    and 'report --plan' reads it and says so; a bare '[]' JSON plan reads the same way."""
    from typer.testing import CliRunner

    from bundlewise.bundles.plan_io import COLUMNS, read_plan
    from bundlewise.cli.app import app

    out = tmp_path / "empty.csv"
    result = CliRunner().invoke(app, ["--db", str(store_db), "-q", "bundles", "--min-count", "10",
                                      "--margin-floor", "0.95", "--output", str(out)])
    assert result.exit_code == 0, result.output
    header = out.read_text(encoding="utf-8").splitlines()
    assert header[0].split(",") == list(COLUMNS) and len(header) == 1
    report = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["--db", str(store_db), "-q", "report", "--plan", str(out), "--output",
                                      str(report)])
    assert result.exit_code == 0, result.output
    assert "Bundles worth running" in report.read_text(encoding="utf-8")
    (tmp_path / "empty.json").write_text("[]", encoding="utf-8")
    assert read_plan(tmp_path / "empty.json").bundles.empty and read_plan(out).bundles.empty
