"""BundleDemandModel: a mixed-bundling case solved on paper, an independent quadrature of the
calibrated model, the shared-need / correlated-valuation split, determinism and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from bundlewise.bundles import _valuation as val
from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.errors import ConfigError, NotFittedError, UnknownProductError
from bundlewise.mining import Baskets


def _revenue_uniform(bundle_price: np.ndarray, p: float) -> np.ndarray:
    """Mixed bundling, values iid U[0, 1], zero cost, component price p, bundle price P in [p, 2p].

    Worked by hand: the bundle is bought when both values exceed p (surplus 2p - P beats buying
    both), when one exceeds p and the other exceeds P - p, and when neither exceeds p but their sum
    exceeds P (triangle of area (2p - P)^2 / 2); a single item is bought when its value exceeds p
    and the other's is below P - p.
    """
    P = np.asarray(bundle_price, float)
    a = P - p
    take = (1 - p) ** 2 + 2 * (1 - p) * (p - a) + (2 * p - P) ** 2 / 2
    single = 2 * (1 - p) * a
    return P * take + p * single


def test_mixed_bundle_choice_matches_the_uniform_case_solved_by_hand() -> None:
    p = 2 / 3
    rng = np.random.default_rng(0)
    values = rng.random((400_000, 2))
    grid = np.linspace(0.70, 1.30, 61)
    base, with_b, take, *_ = val.mixed_bundle_choice(values, np.array([p, p]), np.zeros(2), grid)
    assert base == pytest.approx(2 * p * (1 - p), abs=0.003)  # pure components: 4/9
    np.testing.assert_allclose(with_b, _revenue_uniform(grid, p), atol=0.003)
    # McAfee, McMillan & Whinston (1989): with p = 2/3 the best bundle price is (4 - sqrt 2) / 3, revenue 0.549
    best = (4 - np.sqrt(2)) / 3
    assert float(_revenue_uniform(best, p)) == pytest.approx(0.5492, abs=1e-4)
    assert abs(grid[np.argmax(with_b)] - best) <= 0.03
    assert with_b.max() == pytest.approx(0.5492, abs=0.003)


def _independent_baskets(n: int = 40_000, n_a: int = 4_000, n_b: int = 8_000) -> Baskets:
    """Counts exactly independent: a in 10 %, b in 20 %, both in 2 %; every basket also holds 'x'."""
    n_ab = n_a * n_b // n
    rows = [["a", "b", "x"]] * n_ab + [["a", "x"]] * (n_a - n_ab) + [["b", "x"]] * (n_b - n_ab)
    return Baskets.from_lists(rows + [["x"]] * (n - len(rows)))


CATALOG = pd.DataFrame({"product_id": ["a", "b", "x"], "title": ["A", "B", "X"], "price": [10.0, 20.0, 1.0],
                        "cost": [6.0, 12.0, 0.5]})
ELASTICITIES = pd.DataFrame({"product_id": ["a", "b"], "elasticity": [-2.0, -1.5], "se": [0.0, 0.0]})


def _quadrature_profit(discounts: np.ndarray, m: tuple[float, float], sigma: tuple[float, float],
                       prices: tuple[float, float], costs: tuple[float, float], n: int = 800) -> np.ndarray:
    """Expected incremental margin per 1,000 shoppers by midpoint quadrature over both valuation
    quantiles, memberships independent, every option enumerated explicitly (no model code)."""
    u = (np.arange(n) + 0.5) / n
    z = ndtri(u)
    va = prices[0] * np.exp(sigma[0] * z)[:, None] * np.ones((1, n))  # x0 = 0: median value = price
    vb = prices[1] * np.exp(sigma[1] * z)[None, :] * np.ones((n, 1))
    ma, mb = prices[0] - costs[0], prices[1] - costs[1]
    out = []
    for d in discounts:
        bundle = (1 - d) * (prices[0] + prices[1])
        total = 0.0
        for in_a, in_b, weight in ((1, 1, m[0] * m[1]), (1, 0, m[0] * (1 - m[1])), (0, 1, (1 - m[0]) * m[1])):
            a, b = va * in_a, vb * in_b
            options = np.stack([np.zeros_like(a), a - prices[0], b - prices[1], a + b - prices[0] - prices[1],
                                a + b - bundle])
            margin = np.array([0.0, ma, mb, ma + mb, bundle - costs[0] - costs[1]])
            with_bundle = margin[np.argmax(options, axis=0)].mean()
            without = margin[np.argmax(options[:4], axis=0)].mean()
            total += weight * (with_bundle - without)
        out.append(1000 * total)
    return np.array(out)


def test_profit_curve_matches_an_independent_quadrature_of_the_calibrated_model() -> None:
    model = BundleDemandModel(n_draws=300_000, n_boot=0).fit(_independent_baskets(), CATALOG, ELASTICITIES)
    pair = model.pair_parameters("a", "b")
    assert pair["rho"] == 0.0 and pair["m_ab"] == pytest.approx(pair["m_a"] * pair["m_b"], rel=1e-3)
    # conversion prior 0.5 -> m = rate / 0.5, x0 = 0, sigma = mills(0) / |elasticity| = 0.7979 / |e|
    assert (pair["m_a"], pair["m_b"]) == pytest.approx((0.2, 0.4))
    sigma = (np.sqrt(2 / np.pi) / 2.0, np.sqrt(2 / np.pi) / 1.5)
    discounts = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.3])
    curve = model.profit_curve(("a", "b"), discounts)
    expected = _quadrature_profit(discounts, (0.2, 0.4), sigma, (10.0, 20.0), (6.0, 12.0))
    assert curve["profit"].iloc[0] == 0.0
    np.testing.assert_allclose(curve["profit"], expected, atol=0.03 * np.abs(expected).max() + 0.2)
    assert int(np.argmax(curve["profit"])) == int(np.argmax(expected))


def test_interval_brackets_the_estimate_and_widens_with_uncertain_elasticities() -> None:
    baskets = _independent_baskets()
    sure = BundleDemandModel(n_draws=20_000, n_boot=100).fit(baskets, CATALOG, ELASTICITIES.assign(se=0.05))
    unsure = BundleDemandModel(n_draws=20_000, n_boot=100).fit(baskets, CATALOG, ELASTICITIES.assign(se=0.8))
    c1 = sure.profit_curve(("a", "b"), [0.05, 0.15])
    c2 = unsure.profit_curve(("a", "b"), [0.05, 0.15])
    assert (c1["low"] <= c1["profit"]).all() and (c1["profit"] <= c1["high"]).all()
    assert ((c2["high"] - c2["low"]) > (c1["high"] - c1["low"])).all()


def _shared_need_baskets(seed: int = 0, n: int = 30_000) -> Baskets:
    """A third of the shoppers of 'a' also need 'b': co-purchase far above independence, no prices."""
    rng = np.random.default_rng(seed)
    a = rng.random(n) < 0.1
    b = (rng.random(n) < 0.05) | (a & (rng.random(n) < 0.3))
    rows = [[p for p, f in (("a", a[i]), ("b", b[i])) if f] + ["x"] for i in range(n)]
    return Baskets.from_lists(rows)


def test_without_price_variation_excess_co_purchase_is_read_as_shared_need() -> None:
    baskets = _shared_need_baskets()
    auto = BundleDemandModel(n_boot=0).fit(baskets, CATALOG)
    pair = auto.pair_parameters("a", "b")
    assert pair["rho"] == 0.0 and pair["shared_need_share"] > 0.95
    assert pair["m_ab"] > 2 * pair["m_a"] * pair["m_b"]
    trap = BundleDemandModel(n_boot=0, attribution="valuation").fit(baskets, CATALOG)
    tp = trap.pair_parameters("a", "b")
    assert tp["rho"] > 0.5 and tp["m_ab"] < pair["m_ab"] / 1.5
    # the trap: reading co-purchase as correlated valuations predicts less bundle value
    grid = np.arange(0.02, 0.31, 0.02)
    assert auto.profit_curve(("a", "b"), grid)["profit"].max() > trap.profit_curve(("a", "b"), grid)["profit"].max()


def test_triples_are_priced_and_nothing_changes_at_zero_discount() -> None:
    rows = [["a", "b", "x"], ["a", "x"], ["b", "x"], ["x"], ["a", "b"], ["x", "b"]] * 500
    model = BundleDemandModel(n_draws=5_000, n_boot=10).fit(Baskets.from_lists(rows), CATALOG)
    curve = model.profit_curve(("a", "b", "x"), [0.0, 0.1, 0.2])
    assert curve["profit"].iloc[0] == 0.0
    assert curve[["low", "high"]].notna().all().all()
    ev = model.evaluate(("a", "b", "x"), [28.0])
    assert 0 <= ev["attach_rate_without"].iat[0] <= ev["attach_rate_with"].iat[0] <= 1
    assert ev["take_rate"].iat[0] > 0


def test_same_seed_same_numbers_other_seed_other_draws() -> None:
    baskets = _shared_need_baskets()
    curves = [BundleDemandModel(n_draws=5_000, n_boot=30, random_state=s).fit(baskets, CATALOG)
              .profit_curve(("a", "b"), [0.05, 0.1]) for s in (7, 7, 8)]
    pd.testing.assert_frame_equal(curves[0], curves[1])
    assert not curves[0].equals(curves[2])


def test_costs_fall_back_to_the_assumed_margin_rate() -> None:
    catalog = CATALOG.assign(cost=[6.0, np.nan, 0.5])
    model = BundleDemandModel(n_boot=0).fit(_independent_baskets(), catalog)
    costs, sources = model.costs(("a", "b"), assumed_margin_rate=0.25)
    assert costs.tolist() == [6.0, 15.0] and sources == ["cost", "assumed"]


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        BundleDemandModel().profit_curve(("a", "b"), [0.1])
    with pytest.raises(ConfigError, match="attribution"):
        BundleDemandModel(attribution="magic").fit(_independent_baskets(), CATALOG)
    model = BundleDemandModel(n_boot=0).fit(_independent_baskets(), CATALOG)
    with pytest.raises(UnknownProductError, match="zz"):
        model.profit_curve(("a", "zz"), [0.1])
    with pytest.raises(ConfigError, match="2 or 3"):
        model.profit_curve(("a",), [0.1])
    with pytest.raises(ConfigError, match="discounts"):
        model.profit_curve(("a", "b"), [1.2])


def _attach_shop(a_buyers_respond: bool, seed: int = 3, weeks: int = 40, per_week: int = 1500):
    """A and B bought together by half of A's buyers. ``a_buyers_respond`` False: the other half have no
    use for B, so a cut on B's price never moves P(B | A); True: they want B at a lower price, like everyone."""
    rng = np.random.default_rng(seed)
    starts = pd.date_range("2025-01-06", periods=weeks, freq="7D")
    cut_b = rng.permutation(weeks) < 10
    cut_a = rng.permutation(weeks) < 8
    rows, ids, times, panel = [], [], [], []
    for w, t0 in enumerate(starts):
        pa, pb = 20.0 * (0.8 if cut_a[w] else 1.0), 10.0 * (0.8 if cut_b[w] else 1.0)
        panel += [("a", t0, pa), ("b", t0, pb)]
        a = rng.random(per_week) < 0.2 * (1.3 if cut_a[w] else 1.0)
        committed = a & (rng.random(per_week) < 0.5)  # buy B with A whatever B costs
        boost = 1.5 if cut_b[w] else 1.0
        b = committed | (~a & (rng.random(per_week) < 0.1 * boost))
        if a_buyers_respond:
            b |= a & ~committed & (rng.random(per_week) < 0.15 * boost)
        for i in range(per_week):
            for pid, flag in (("a", a[i]), ("b", b[i]), ("x", True)):
                if flag:
                    rows.append(f"w{w}o{i}")
                    ids.append(pid)
                    times.append(t0 + pd.Timedelta(hours=int(rng.integers(0, 150))))
    baskets = Baskets.from_long(rows, ids, np.array(times, dtype="datetime64[us]"))
    prices = pd.DataFrame(panel, columns=["product_id", "period", "price"])
    catalog = pd.DataFrame({"product_id": ["a", "b", "x"], "price": [20.0, 10.0, 1.0], "cost": [12.0, 6.0, 0.5]})
    return baskets, catalog, prices


def test_attach_rates_that_ignore_the_partners_price_shrink_the_bundle_response() -> None:
    """Half of A's buyers take B, the rest never do at any price: a B discount for A buyers converts no one,
    and the model (whose shoppers near B's price would convert) is told so by the attach rate's flat slope."""
    el = pd.DataFrame({"product_id": ["a", "b"], "elasticity": [-1.5, -1.5], "se": [0.1, 0.1], "source": "own"})
    baskets, catalog, prices = _attach_shop(a_buyers_respond=False)
    model = BundleDemandModel(n_draws=20_000, n_boot=0).fit(baskets, catalog, el, prices=prices)
    raw = BundleDemandModel(n_draws=20_000, n_boot=0, calibrate_response=False).fit(baskets, catalog, el,
                                                                                    prices=prices)
    pair = model._pair(*model._codes(("a", "b")))
    # B given A is flat in the data (A given B rises with A's cuts: B's other buyers do want A)
    assert pair["attach_slope_model"] < pair["attach_slope"] - 0.4
    assert model.response(("a", "b")) < 0.4 and raw.response(("a", "b")) == 1.0
    calibrated = model.profit_curve(("a", "b"), [0.1])["profit"].iat[0]
    assert calibrated < raw.profit_curve(("a", "b"), [0.1])["profit"].iat[0]
    # where A's other buyers do answer B's price, the data back the model
    baskets, catalog, prices = _attach_shop(a_buyers_respond=True)
    answering = BundleDemandModel(n_draws=20_000, n_boot=0).fit(baskets, catalog, el, prices=prices)
    assert answering.response(("a", "b")) > model.response(("a", "b")) + 0.1
