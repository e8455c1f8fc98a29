"""Evidence pooled across products and pairs: elasticities pulled toward the margins' Lerner values, the
attach-rate response per direction and its prior pooled over pairs by attach level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.bundles import _valuation as val
from bundlewise.bundles._pairs import apply_response, pooled_prior
from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.bundles.margins import LERNER_TAU_FLOOR, lerner_prior
from bundlewise.errors import ConfigError
from tests.bundles.test_demand import _attach_shop


def _shop(n: int, spread: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Products whose true elasticity is -p / (p - c) times a log-normal factor of sd ``spread``; the
    panel's estimates add normal noise of a known se."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(2, 30, n)
    margin = rng.uniform(0.3, 0.8, n)
    cost = price * (1 - margin)
    true = -(1 / margin) * np.exp(rng.normal(0, spread, n))
    se = rng.uniform(0.2, 0.7, n)
    return price, cost, true, se, true + rng.normal(0, 1, n) * se


def test_a_shop_pricing_near_the_optimum_gets_better_elasticities_from_its_margins() -> None:
    price, cost, true, se, est = _shop(400, spread=0.1)
    new, new_se, info = lerner_prior(est, se, price, cost, np.ones(len(est), bool))
    assert np.abs(new - true).mean() < 0.6 * np.abs(est - true).mean()
    assert (new_se < se).all()
    assert abs(info["offset"]) < 0.1 and info["tau"] < 0.35
    # the intervals stay honest: about 90 % of true values inside +-1.645 se
    inside = np.abs(new - true) <= 1.645 * new_se
    assert 0.8 <= inside.mean() <= 0.97


def test_a_shop_pricing_far_from_the_optimum_keeps_its_own_estimates() -> None:
    price, cost, true, se, est = _shop(400, spread=0.8, seed=1)
    new, _, info = lerner_prior(est, se, price, cost, np.ones(len(est), bool))
    assert info["tau"] > 1.0  # the spread between products is measured, not assumed
    moved = np.abs(new - est)
    assert np.median(moved) < 0.5 * np.median(np.abs(-price / (price - cost) - est))
    assert np.abs(new - true).mean() <= np.abs(est - true).mean() * 1.02


def test_unknown_costs_and_exact_elasticities_are_left_alone() -> None:
    price = np.full(4, 10.0)
    cost = np.array([5.0, np.nan, 5.0, 12.0])  # 12 > price: not a usable margin
    est = np.array([-3.0, -3.0, -1.2, -3.0])
    se = np.array([0.5, 0.5, 0.0, 0.5])
    new, new_se, info = lerner_prior(est, se, price, cost, np.ones(4, bool))
    assert new[1] == -3.0 and new[3] == -3.0 and new_se[1] == 0.5
    assert new[2] == -1.2 and new_se[2] == 0.0
    assert -3.0 < new[0] < -2.0  # pulled toward -10 / 5 = -2
    assert info["n"] == 1 and info["tau"] == LERNER_TAU_FLOOR  # one informative product: no spread measured


def test_the_demand_model_uses_the_lerner_values_only_where_costs_are_given() -> None:
    baskets, catalog, prices = _attach_shop(a_buyers_respond=True)
    el = pd.DataFrame({"product_id": ["a", "b"], "elasticity": [-4.0, -4.0], "se": [0.8, 0.8], "source": "own"})
    on = BundleDemandModel(n_draws=5_000, n_boot=0).fit(baskets, catalog, el, prices=prices)
    off = BundleDemandModel(n_draws=5_000, n_boot=0, lerner_prior=False).fit(baskets, catalog, el, prices=prices)
    # margins 40 %: the Lerner value is -2.5, between the estimate's -4 and 0
    e_on = on.params_.set_index("product_id")["elasticity_regular"]
    e_off = off.params_.set_index("product_id")["elasticity_regular"]
    assert (e_on[["a", "b"]] > e_off[["a", "b"]] + 0.3).all()
    no_cost = catalog.drop(columns="cost")
    plain = BundleDemandModel(n_draws=5_000, n_boot=0).fit(baskets, no_cost, el, prices=prices)
    np.testing.assert_allclose(plain.params_["elasticity"], off.params_["elasticity"])


def test_per_pattern_weights_scale_only_the_shoppers_of_that_pattern() -> None:
    rng = np.random.default_rng(3)
    values = rng.random((200_000, 2)) * 2
    prices, costs, bp = np.array([1.0, 1.0]), np.array([0.2, 0.2]), np.array([1.7])
    full = val.mixed_bundle_choice(values, prices, costs, bp, 1.0)[1][0]
    # weight 0 for buyers of only the first product: their conversions vanish, the rest stays
    only_a = (values[:, 0] >= 1) & (values[:, 1] < 1)
    keep = val.mixed_bundle_choice(values[~only_a], prices, costs, bp, 1.0)
    dropped = val.mixed_bundle_choice(values, prices, costs, bp, np.array([1.0, 0.0, 1.0, 1.0]))
    share = (~only_a).mean()
    base_a = (only_a * 0.8).mean()  # what buyers of only A pay in margin, with or without the bundle
    assert dropped[1][0] == pytest.approx(keep[1][0] * share + base_a, rel=1e-9)
    assert dropped[1][0] < full
    assert val.mixed_bundle_choice(values, prices, costs, bp, np.array([0.5, 0.5, 0.5, 1.0]))[1][0] == \
        pytest.approx(val.mixed_bundle_choice(values, prices, costs, bp, 0.5)[1][0], rel=1e-12)


def test_shrinking_each_direction_toward_its_own_prior() -> None:
    dirs = [{"direction": 0, "ratio": 0.2, "precision": 4.0, "level": 0.5},
            {"direction": 1, "ratio": 0.9, "precision": 100.0, "level": 0.1}]
    mean, sd, (r0, r1) = val.shrink_response(dirs, [0.4, 0.9], 0.5)
    # direction 0: (0.4 * 4 + 0.2 * 4) / 8 = 0.3; direction 1 stays near its precise 0.9
    assert r0 == pytest.approx(0.3) and r1 == pytest.approx(0.9, abs=0.005)
    assert mean == pytest.approx((r0 + r1) / 2) and sd == pytest.approx((4 + 4 + 100) ** -0.5)
    assert val.shrink_response([], 1.0, 0.5) == (1.0, 0.0, (1.0, 1.0))
    one = val.shrink_response(dirs[:1], 1.0, 0.5)
    assert one[2] == (one[2][0], one[2][0])  # the missing direction takes the other's value


def test_the_directions_tell_which_buyers_answer_the_partners_price() -> None:
    """In this shop A's buyers either always take B or never do, while B's other buyers do want A: the
    response of buyers of only A is small, that of buyers of only B is not."""
    el = pd.DataFrame({"product_id": ["a", "b"], "elasticity": [-1.5, -1.5], "se": [0.1, 0.1], "source": "own"})
    baskets, catalog, prices = _attach_shop(a_buyers_respond=False)
    model = BundleDemandModel(n_draws=20_000, n_boot=0, calibrate_response="pair").fit(baskets, catalog, el,
                                                                                      prices=prices)
    pair = model.pair_parameters("a", "b")
    assert pair["response_ab"] < 0.4 < pair["response_ba"]
    assert pair["response_ab"] == model.pair_parameters("b", "a")["response_ba"]


def test_the_pooled_prior_follows_the_attach_level_of_many_pairs() -> None:
    """Directions drawn around a known line 0.9 - 0.8 * level with a known spread: the random-effects
    regression finds the line and the spread; one wild ratio (a model slope near 0) cannot tilt it."""
    rng = np.random.default_rng(5)
    level = rng.uniform(0.05, 0.7, 600)
    prec = rng.uniform(5, 50, 600)
    ratio = 0.9 - 0.8 * level + rng.normal(0, 0.2, 600) + rng.normal(0, 1, 600) / np.sqrt(prec)
    rows = list(zip(ratio, prec, level, strict=True))
    prior = pooled_prior(rows)
    # about 3 standard errors: intercept se ~0.02, slope se ~0.065 at this spread of levels
    assert prior["intercept"] == pytest.approx(0.9, abs=0.06) and prior["slope"] == pytest.approx(-0.8, abs=0.2)
    assert prior["sd"] == pytest.approx(0.2, abs=0.04) and prior["n_directions"] == 600
    tilted = pooled_prior(rows + [(400.0, 50.0, 0.7)])
    assert abs(tilted["slope"] - prior["slope"]) < 0.05 and abs(tilted["intercept"] - prior["intercept"]) < 0.02
    assert pooled_prior(rows[:29]) is None and pooled_prior(rows[:30]) is not None


def test_a_pair_with_little_evidence_is_shrunk_toward_the_pooled_line() -> None:
    el = pd.DataFrame({"product_id": ["a", "b"], "elasticity": [-1.5, -1.5], "se": [0.1, 0.1], "source": "own"})
    baskets, catalog, prices = _attach_shop(a_buyers_respond=True)
    model = BundleDemandModel(n_draws=5_000, n_boot=0).fit(baskets, catalog, el, prices=prices)
    pair = model._pair(*model._codes(("a", "b")))
    own = pair["response_dirs"]  # one pair, too few directions for a pooled prior: shrunk toward 1
    assert getattr(model, "response_prior_", None) is None
    model.response_prior_ = {"intercept": 0.2, "slope": 0.0, "sd": 0.1, "level": 0.3, "n_directions": 100}
    apply_response(model, pair)
    for k, d in enumerate(sorted(pair["directions"], key=lambda d: d["direction"])):
        w = d["precision"] / (d["precision"] + 1 / 0.1 ** 2)  # the share of its own ratio a direction keeps
        assert pair["response_dirs"][k] == pytest.approx(np.clip(w * d["ratio"] + (1 - w) * 0.2, 0, 1))
        assert pair["response_dirs"][k] < own[k]


def test_a_response_mode_outside_the_list_is_refused() -> None:
    baskets, catalog, prices = _attach_shop(a_buyers_respond=True)
    with pytest.raises(ConfigError, match="calibrate_response"):
        BundleDemandModel(calibrate_response="sometimes").fit(baskets, catalog)


def test_margins_that_miss_the_elasticities_on_average_are_trusted_less() -> None:
    """Six products of a shop that does not price at the optimum: every elasticity is about -1, while the
    margins (25-65 %) imply -1.3 to -2.9. Six noisy estimates cannot measure the spread, but their mean
    offset says the margins are a poor guide, so the estimates keep most of their weight."""
    price = np.full(6, 10.0)
    cost = np.array([3.5, 4.5, 5.5, 6.5, 7.0, 7.5])  # Lerner values -1.54 ... -4.0
    est = -1.0 + np.array([0.1, -0.1, 0.05, -0.05, 0.0, 0.02])
    se = np.full(6, 0.5)
    new, _, info = lerner_prior(est, se, price, cost, np.ones(6, bool))
    assert info["offset"] > 1.0 and info["tau"] >= info["offset"]
    assert np.abs(new + 1.0).max() < 0.3  # the estimates stay near the truth
    floor_only = (est / se ** 2 + (-price / (price - cost) + info["offset"]) / LERNER_TAU_FLOOR ** 2) / (
        1 / se ** 2 + 1 / LERNER_TAU_FLOOR ** 2)
    assert np.abs(floor_only + 1.0).max() > 0.5  # what trusting the margins at the floor would have done
