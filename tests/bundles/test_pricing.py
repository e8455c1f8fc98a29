"""price_bundles: every constraint holds in the answer, the chosen price is the best feasible one,
and a bundle is proposed only when it adds expected margin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.bundles.pricing import OUTPUT_COLUMNS, PricingConstraints, bundle_price_options, price_bundles
from bundlewise.errors import ConfigError
from bundlewise.mining import Baskets

CATALOG = pd.DataFrame({"product_id": ["tent", "pegs", "lamp", "map"], "title": ["Tent", "Pegs", "Lamp", "Map"],
                        "price": [120.0, 15.0, 30.0, 8.0], "cost": [60.0, 5.0, 18.0, np.nan],
                        "stock": [500.0, 1000.0, 300.0, 50.0]})


def _baskets(seed: int = 0, n: int = 20_000) -> Baskets:
    """Camping shoppers need tent and pegs together (shared need); lamp and map are independent."""
    rng = np.random.default_rng(seed)
    camping = rng.random(n) < 0.12
    tent = camping & (rng.random(n) < 0.5)
    pegs = (camping & (rng.random(n) < 0.6)) | (rng.random(n) < 0.02)
    lamp = rng.random(n) < 0.08
    map_ = rng.random(n) < 0.06
    ts = np.datetime64("2025-01-06") + (np.arange(n) * (364 / n)).astype("timedelta64[D]")
    rows, ids, times = [], [], []
    for i in range(n):
        for pid, flag in (("tent", tent[i]), ("pegs", pegs[i]), ("lamp", lamp[i]), ("map", map_[i]), ("x", True)):
            if flag:
                rows.append(f"o{i}")
                ids.append(pid)
                times.append(ts[i])
    return Baskets.from_long(rows, ids, np.array(times, dtype="datetime64[us]"))


@pytest.fixture(scope="module")
def model() -> BundleDemandModel:
    return BundleDemandModel(n_draws=20_000, n_boot=50).fit(_baskets(), CATALOG)


def _candidates(*bundles: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({"bundle_id": ["+".join(b) for b in bundles], "products": list(bundles),
                         "score": 1.0, "n_ab": 10, "lift": 2.0, "q_value": 0.01, "model_score": np.nan})


CANDS = _candidates(("tent", "pegs"), ("lamp", "map"), ("tent", "lamp"), ("tent", "pegs", "lamp"))


def test_constraints_are_validated_and_unknown_keys_rejected() -> None:
    with pytest.raises(ConfigError, match="max_discount"):
        PricingConstraints(max_discount=1.5)
    with pytest.raises(ConfigError, match="price_ending"):
        PricingConstraints(price_ending=1.2)
    with pytest.raises(ConfigError, match="maxdiscount"):
        PricingConstraints.from_dict({"maxdiscount": 0.2})
    grid = PricingConstraints(max_discount=0.3, discount_grid_step=0.01, min_discount=0.0).grid()
    assert len(grid) == 30 and grid[0] == 0.01 and grid[-1] == 0.3
    grid = PricingConstraints(max_discount=0.3).grid()  # the default minimum step: 5 % off
    assert grid[0] == 0.05 and grid[-1] == 0.3 and len(grid) == 26
    with pytest.raises(ConfigError, match="min_discount"):
        PricingConstraints(max_discount=0.2, min_discount=0.25)


def test_prices_are_whole_cents_and_no_offer_is_a_cent_off() -> None:
    prices = bundle_price_options(8.38, PricingConstraints(max_discount=0.3))
    np.testing.assert_allclose(prices * 100, np.round(prices * 100), atol=1e-6)
    assert (1 - prices / 8.38 >= 0.05 - 1e-9).all() and prices.max() <= 7.97
    assert 0.99 not in bundle_price_options(1.00, PricingConstraints(max_discount=0.3))


def test_price_endings_stay_within_the_max_discount() -> None:
    c = PricingConstraints(max_discount=0.25, price_ending=0.99)
    prices = bundle_price_options(143.0, c)
    assert len(prices) > 10
    np.testing.assert_allclose(np.round(prices % 1, 2), 0.99)
    assert ((1 - prices / 143.0) <= 0.25 + 1e-9).all() and (prices < 143.0).all()


@pytest.mark.parametrize("constraints", [PricingConstraints(),
                                         PricingConstraints(max_discount=0.1, margin_floor=0.35, price_ending=0.99),
                                         PricingConstraints(max_discount=0.2, discount_grid_step=0.05)])
def test_every_constraint_holds_in_the_answer(model: BundleDemandModel, constraints: PricingConstraints) -> None:
    out = price_bundles(CANDS, CATALOG, model, constraints)
    assert out.columns.tolist() == [*CANDS.columns, *OUTPUT_COLUMNS]
    assert out["bundle_id"].tolist() == CANDS["bundle_id"].tolist()
    priced = out[out["bundle_price"].notna()]
    assert (priced["discount"] <= constraints.max_discount + 1e-9).all() and (priced["discount"] > 0).all()
    for _, row in priced.iterrows():
        costs = CATALOG.set_index("product_id").loc[list(row["products"]), ["cost", "price"]]
        cost = costs["cost"].fillna(costs["price"] * (1 - constraints.assumed_margin_rate)).sum()
        assert (row["bundle_price"] - cost) / row["bundle_price"] >= constraints.margin_floor - 1e-9
        assert row["bundle_price"] == pytest.approx(row["regular_price"] * (1 - row["discount"]),
                                                    abs=row["regular_price"] * 0.0005 + 1e-9)
        assert row["bundle_price"] == round(row["bundle_price"], 2) and row["discount"] == round(row["discount"], 3)
        assert row["discount"] >= constraints.min_discount - 1e-9
        if constraints.max_free_share is not None:  # money off <= the share of the cheapest member's price
            cap = constraints.max_free_share * costs["price"].min()
            assert row["regular_price"] - row["bundle_price"] <= cap + 1e-6
        if constraints.price_ending is not None:
            assert round(row["bundle_price"] % 1, 2) == constraints.price_ending
    assert (out.loc[out["proposed"], "incremental_profit"] > 0).all()
    assert (out.loc[out["proposed"], "reason"] == "").all()
    assert (out.loc[~out["proposed"], "reason"].str.len() > 0).all()
    assert (out.loc[out["proposed"], "profit_low"] <= out.loc[out["proposed"], "incremental_profit"]).all()


def test_the_shared_need_pair_is_proposed_at_the_best_feasible_discount(model: BundleDemandModel) -> None:
    c = PricingConstraints(max_discount=0.3)
    row = price_bundles(CANDS.iloc[:1], CATALOG, model, c).iloc[0]
    assert row["proposed"] and row["titles"] == ("Tent", "Pegs") and row["margin_source"] == "cost"
    options = bundle_price_options(135.0, c)
    options = options[135.0 - options <= 0.5 * 15.0 + 1e-9]  # at most half the pegs' price off (the default cap)
    curve = model.evaluate(("tent", "pegs"), options, interval=False)
    assert row["bundle_price"] == pytest.approx(float(options[curve["profit"].idxmax()]))
    assert row["incremental_profit"] == pytest.approx(float(curve["profit"].max()), abs=1e-4)
    assert row["attach_rate_with"] > row["attach_rate_without"]
    assert f"{row['discount']:.0%}" in row["explanation"] and "per 1,000 shoppers" in row["explanation"]


def test_missing_costs_are_assumed_and_said(model: BundleDemandModel) -> None:
    row = price_bundles(CANDS.iloc[[1]], CATALOG, model).iloc[0]
    assert row["margin_source"] == "assumed"
    if row["proposed"]:
        assert "assumed" in row["explanation"]


def test_an_impossible_margin_floor_proposes_nothing(model: BundleDemandModel) -> None:
    out = price_bundles(CANDS, CATALOG, model, PricingConstraints(margin_floor=0.9, max_free_share=None))
    assert not out["proposed"].any()
    assert out["reason"].str.startswith("margin floor").all()


def test_stock_coverage_blocks_bundles_that_would_run_out(model: BundleDemandModel) -> None:
    low_stock = CATALOG.assign(stock=[1.0, 1000.0, 300.0, 50.0])
    row = price_bundles(CANDS.iloc[:1], low_stock, model, PricingConstraints(min_stock_coverage=4)).iloc[0]
    assert not row["proposed"] and row["reason"].startswith("stock coverage")
    ok = price_bundles(CANDS.iloc[:1], CATALOG, model, PricingConstraints(min_stock_coverage=4)).iloc[0]
    assert ok["proposed"]
    weekly = model.evaluate(("tent", "pegs"), [ok["bundle_price"]], interval=False)["units"].iat[0] / 1000 \
        * model.weekly_shoppers()
    assert 4 * weekly <= 500.0


def test_same_seed_same_prices(model: BundleDemandModel) -> None:
    again = BundleDemandModel(n_draws=20_000, n_boot=50).fit(_baskets(), CATALOG)
    pd.testing.assert_frame_equal(price_bundles(CANDS, CATALOG, model), price_bundles(CANDS, CATALOG, again))


def test_seed_example_watch_and_shoes_are_bundled() -> None:
    """The issue's must-pass example at the pricing level: watch and shoes co-occur -> proposed."""
    catalog = pd.DataFrame({"product_id": ["watch", "shoes", "earbuds", "backpack"],
                            "title": ["智能手表", "运动鞋", "运动耳机", "户外运动背包"],
                            "price": [500.0, 200.0, 300.0, 400.0], "cost": np.nan})
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(3000):
        sporty = rng.random() < 0.4
        basket = [p for p, f in (("watch", sporty and rng.random() < 0.3), ("shoes", sporty and rng.random() < 0.3),
                                 ("earbuds", rng.random() < 0.1), ("backpack", rng.random() < 0.08)) if f]
        rows.append(basket or ["backpack"])
    model = BundleDemandModel(n_draws=20_000, n_boot=50).fit(Baskets.from_lists(rows), catalog)
    row = price_bundles(_candidates(("watch", "shoes")), catalog, model).iloc[0]
    assert row["proposed"] and row["margin_source"] == "assumed"
    assert row["titles"] == ("智能手表", "运动鞋") and 0 < row["discount"] <= 0.3
    assert "智能手表 + 运动鞋" in row["explanation"] and "assumed" in row["explanation"]


def test_a_candidate_that_cannot_be_priced_is_kept_with_the_reason(model: BundleDemandModel) -> None:
    out = price_bundles(_candidates(("tent", "ghost"), ("tent", "pegs")), CATALOG, model)
    assert out["bundle_id"].tolist() == ["tent+ghost", "tent+pegs"]
    assert not out["proposed"].iat[0] and "ghost" in out["reason"].iat[0]
    assert out["proposed"].iat[1]


def test_substitutes_are_not_bundled() -> None:
    from dataclasses import replace

    from bundlewise.bundles.elasticity import estimate_elasticities
    from bundlewise.bundles.simulate import make_market, market_inputs, simulate_orders

    base = make_market("independent", seed=5, n_pairs=1)[0]
    pair = replace(base, member_ab=0.8 * min(base.member_a, base.member_b), complement=-0.4)
    lines, prices = simulate_orders([pair], seed=2, shoppers_per_week=3000, promo_share=0.5)
    baskets, catalog, panel = market_inputs(lines, [pair])
    model = BundleDemandModel(n_draws=5000, n_boot=0).fit(baskets, catalog, estimate_elasticities(panel),
                                                          prices=prices)
    assert model.substitutes(pair.products) is not None
    assert model.pair_parameters(*pair.products)["cross_elasticity"] > 0
    row = price_bundles(_candidates(pair.products), catalog, model).iloc[0]
    assert not row["proposed"] and row["reason"].startswith("substitutes")


def test_a_catalog_price_far_from_the_prices_paid_is_replaced() -> None:
    baskets = _baskets()
    weeks = pd.date_range("2025-01-06", periods=53, freq="7D")
    prices = pd.DataFrame({"product_id": np.repeat(["tent", "pegs"], len(weeks)), "period": np.tile(weeks, 2),
                           "price": np.r_[np.full(len(weeks), 60.0), np.full(len(weeks), 15.0)]})
    model = BundleDemandModel(n_boot=0).fit(baskets, CATALOG, prices=prices)
    p = model.params_.set_index("product_id")
    assert p.loc["tent", "price"] == pytest.approx(60.0) and p.loc["tent", "price_source"] == "observed"
    assert p.loc["pegs", "price"] == 15.0 and p.loc["pegs", "price_source"] == "catalog"
    keep = BundleDemandModel(n_boot=0, max_price_gap=None).fit(baskets, CATALOG, prices=prices)
    assert keep.params_.set_index("product_id").loc["tent", "price"] == 120.0


def test_require_positive_keeps_only_bundles_whose_interval_is_above_zero(model: BundleDemandModel) -> None:
    loose = price_bundles(CANDS, CATALOG, model)
    strict = price_bundles(CANDS, CATALOG, model, PricingConstraints(require_positive=True))
    assert (strict.loc[strict["proposed"], "profit_low"] > 0).all()
    dropped = loose["proposed"] & ~strict["proposed"]
    assert (loose.loc[dropped, "profit_low"] <= 0).all()
    assert strict.loc[dropped, "reason"].str.startswith("profit interval reaches below zero").all()


def test_a_pair_already_bought_together_says_so() -> None:
    """Pegs bought by nearly every tent buyer, thin margins: no discount pays, and the row says why."""
    rng = np.random.default_rng(3)
    n = 8000
    tent = rng.random(n) < 0.1
    pegs = (tent & (rng.random(n) < 0.9)) | (rng.random(n) < 0.01)
    baskets = Baskets.from_lists([[p for p, f in (("tent", t), ("pegs", g), ("x", True)) if f]
                                  for t, g in zip(tent, pegs, strict=True)])
    cat = CATALOG.assign(cost=[100.0, 12.0, 18.0, 5.0])
    m = BundleDemandModel(n_draws=20_000, n_boot=0).fit(baskets, cat)
    row = price_bundles(_candidates(("tent", "pegs")), cat, m).iloc[0]
    assert not row["proposed"]
    assert row["reason"].startswith("already bought together") and "subsidise" in row["reason"]
    assert f"{row['attach_rate_without']:.0%}" in row["reason"]


def test_identical_titles_get_names_apart_and_variants_are_multi_buys(model: BundleDemandModel) -> None:
    cat = CATALOG.assign(title=["Camping gear 2 kg", "Camping gear 2 kg", "Lamp", "Map"],
                         brand=["Acme", "Zed", "Acme", "Acme"],
                         category_path=["Outdoor > Camping", "Outdoor > Camping", "Outdoor > Light", "Books"])
    out = price_bundles(CANDS.iloc[:2], cat, model)
    assert out["names"].iat[0] == ("Camping gear 2 kg (Acme)", "Camping gear 2 kg (Zed)")
    assert out["deal_type"].tolist() == ["multi-buy", "bundle"]
    if out["proposed"].iat[0]:
        assert "multi-buy" in out["explanation"].iat[0]


def test_the_free_share_cap_keeps_a_bundle_from_being_a_price_cut_in_disguise(model: BundleDemandModel) -> None:
    """Tent 120 + pegs 15: 25 % off would be 33.75, more than twice the pegs' price; tent alone buyers would all
    take it. The cap allows at most 7.50 off (half of the pegs); without the cap the deeper price is free to win."""
    capped = price_bundles(CANDS.iloc[:1], CATALOG, model, PricingConstraints(max_discount=0.3)).iloc[0]
    assert capped["regular_price"] - capped["bundle_price"] <= 7.5 + 1e-9
    free = price_bundles(CANDS.iloc[:1], CATALOG, model, PricingConstraints(max_discount=0.3, max_free_share=None))
    assert free.iloc[0]["discount"] >= capped["discount"]
    # a cheap add-on: 5 % of 128 = 6.40 already gives away more than half of map's 8.00 -> refused, saying why
    row = price_bundles(_candidates(("tent", "map")), CATALOG, model, PricingConstraints()).iloc[0]
    assert not row["proposed"] and row["reason"].startswith("free-share cap") and "Map" in row["reason"]
    with pytest.raises(ConfigError, match="max_free_share"):
        PricingConstraints(max_free_share=0.0)


def test_the_risk_setting_prices_by_a_low_quantile_and_says_when_it_is_too_unsure(model: BundleDemandModel) -> None:
    """risk_quantile: each price is the best by the bootstrap's low quantile, never deeper than the expected-value
    choice's interval allows, and a bundle whose quantile is below zero is kept out with the reason."""
    base = price_bundles(CANDS, CATALOG, model, PricingConstraints(max_free_share=None))
    risky = price_bundles(CANDS, CATALOG, model, PricingConstraints(max_free_share=None, risk_quantile=0.25))
    assert risky["proposed"].sum() <= base["proposed"].sum()
    for (_, r), (_, b) in zip(risky.iterrows(), base.iterrows(), strict=True):
        if not np.isfinite(r["bundle_price"]):
            continue
        options = bundle_price_options(r["regular_price"], PricingConstraints(max_free_share=None))
        q = model.profit_quantile(r["products"], options, CATALOG.set_index("product_id").loc[list(r["products"]),
                                  "cost"].fillna(CATALOG.set_index("product_id").loc[list(r["products"]), "price"]
                                                 * 0.7).to_numpy(), 0.25)
        if r["proposed"]:  # the chosen price is the quantile's best, and that quantile is above zero
            assert r["bundle_price"] == pytest.approx(float(options[int(np.argmax(q))]))
            assert q.max() > 0
        elif r["reason"].startswith("too unsure"):
            assert b["incremental_profit"] > 0 and q.max() <= 0
    with pytest.raises(ConfigError, match="risk_quantile"):
        PricingConstraints(risk_quantile=0.7)
