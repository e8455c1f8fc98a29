"""Propensities are exact (closed forms) for ε-greedy and softmax, MC-correct for Thompson sampling,
never zero in a log, and bad parameters fail with the field's name."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import ConfigError
from bundlewise.offers import (
    DecisionLog,
    EpsilonGreedy,
    LinearThompson,
    PropensityError,
    Softmax,
    ThompsonSampling,
    make_policy,
    validate_propensities,
)
from bundlewise.offers.experiment import run_online
from bundlewise.offers.shopsim import OfferShopSimulator

CTX = {"placement": "home", "segment": "regular", "cart_items": ()}
OFFERS = ["a", "b", "c", "d"]


def _teach(pol, rewards: dict[str, list[float]]) -> None:
    for oid, rs in rewards.items():
        for r in rs:
            d = pol.select(CTX, OFFERS)
            pol.update(d, oid, r)


def test_epsilon_greedy_closed_form() -> None:
    pol = EpsilonGreedy(epsilon=0.3, warmup=0, decay=1.0)
    _teach(pol, {"a": [1.0], "b": [2.0]})
    d = pol.select(CTX, OFFERS)
    # greedy b: 0.7 + 0.3/4; the rest 0.3/4
    assert d.probabilities == pytest.approx({"a": 0.075, "b": 0.775, "c": 0.075, "d": 0.075})
    assert d.propensity == pytest.approx(d.probabilities[d.offer_id])


def test_softmax_closed_form() -> None:
    pol = Softmax(temperature=0.5, warmup=0, decay=1.0)
    _teach(pol, {"a": [1.0], "b": [2.0, 2.0]})
    p = pol.select(CTX, OFFERS).probabilities
    z = math.exp(2) + math.exp(4) + 1 + 1  # means 1, 2, 0, 0 over T = 0.5
    assert p == pytest.approx({"a": math.exp(2) / z, "b": math.exp(4) / z, "c": 1 / z, "d": 1 / z})


def test_decay_weighs_old_rewards_less() -> None:
    pol = EpsilonGreedy(epsilon=0.1, warmup=0, decay=0.5)
    _teach(pol, {"a": [4.0, 0.0]})
    # counts 0.5 + 1, sums 2 + 0 -> mean 4/3
    assert pol.means(CTX, ["a"])["a"] == pytest.approx((4.0 * 0.5) / 1.5)


def test_exploration_cap_per_placement() -> None:
    pol = Softmax(temperature=10.0, warmup=0, exploration_cap={"home": 0.1, "*": 1.0})
    _teach(pol, {"a": [1.0]})
    p_home = pol.select(CTX, OFFERS).probabilities
    assert p_home["a"] == pytest.approx(0.9)
    # the others keep their ratios: softmax of (1, 0, 0, 0) / 10, scaled into the remaining 0.1
    assert p_home["b"] == pytest.approx(0.1 / 3)
    p_cart = pol.select({**CTX, "placement": "cart"}, OFFERS).probabilities  # another cell, uncapped: uniform
    assert p_cart["a"] == pytest.approx(0.25)


def test_new_offer_gets_exploration() -> None:
    pol = EpsilonGreedy(epsilon=0.1, warmup=5, new_offer_share=0.2, decay=1.0)
    _teach(pol, {"a": [1.0] * 10, "b": [0.5] * 10})
    p = pol.select(CTX, ["a", "b", "c"]).probabilities
    # (1 - 0.2) x eps-greedy + 0.2 on the one new offer
    assert p["c"] == pytest.approx(0.8 * 0.1 / 3 + 0.2)
    assert p["a"] == pytest.approx(0.8 * (0.9 + 0.1 / 3))


@pytest.mark.parametrize("pol", [EpsilonGreedy(epsilon=0.4, warmup=0, random_state=3),
                                 Softmax(temperature=0.7, warmup=0, random_state=3)])
def test_exact_propensities_match_sampling_frequency(pol) -> None:
    _teach(pol, {"a": [1.0], "b": [1.5], "c": [0.2]})
    n = 20_000
    decisions = [pol.select(CTX, OFFERS) for _ in range(n)]
    freq = pd.Series([d.offer_id for d in decisions]).value_counts(normalize=True)
    for oid, p in decisions[0].probabilities.items():
        assert abs(freq.get(oid, 0.0) - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-9, oid


@pytest.mark.parametrize("pol", [ThompsonSampling(warmup=0, random_state=1, n_draws=2000),
                                 LinearThompson(warmup=0, random_state=1, n_draws=2000, noise_scale=1.0)])
def test_thompson_mc_propensities_match_long_run_frequency(pol) -> None:
    _teach(pol, {"a": [1.0, 1.4], "b": [1.2, 0.9], "c": [0.5]})
    n = 8000
    decisions = [pol.select(CTX, OFFERS) for _ in range(n)]
    freq = pd.Series([d.offer_id for d in decisions]).value_counts(normalize=True)
    mean_p = pd.DataFrame([d.probabilities for d in decisions]).mean()
    for oid in OFFERS:
        # MC error per decision ~ sqrt(p(1-p)/2000); the averaged estimate vs the empirical frequency
        assert abs(mean_p[oid] - freq.get(oid, 0.0)) < 0.02, (oid, mean_p[oid], freq.get(oid, 0.0))
    assert min(d.propensity for d in decisions) >= 1e-3 / 1.01


@pytest.mark.parametrize("name", ["epsilon_greedy", "softmax", "thompson", "linear_thompson"])
def test_no_missing_or_zero_propensity_in_any_logged_decision(name) -> None:
    sim = OfferShopSimulator(n_impressions=1500, random_state=4)
    res = run_online(sim, make_policy(name, random_state=0, exploration_cap=0.05))
    res.log.validate()  # raises on a missing / zero propensity
    frame = res.log.to_frame()
    assert len(frame) == 1500 and frame["propensity"].notna().all() and (frame["propensity"] > 0).all()
    assert np.allclose(res.probabilities.sum(axis=1), 1.0)


def test_validate_refuses_zero_or_missing() -> None:
    with pytest.raises(PropensityError, match="row 1"):
        validate_propensities(pd.DataFrame({"propensity": [0.5, 0.0]}))
    with pytest.raises(PropensityError):
        validate_propensities(pd.DataFrame({"propensity": [0.5, None]}))
    log = DecisionLog()
    with pytest.raises(PropensityError):
        log.validate()  # an empty log has no propensity column: refused, not silently valid


@pytest.mark.parametrize(("name", "params", "field"), [
    ("epsilon_greedy", {"epsilon": 1.5}, "epsilon"), ("epsilon_greedy", {"epsilon": 0.0}, "epsilon"),
    ("softmax", {"temperature": -1}, "temperature"), ("thompson", {"n_draws": 3}, "n_draws"),
    ("softmax", {"exploration_cap": {"cart": 2.0}}, "exploration_cap"), ("softmax", {"decay": 0.0}, "decay")])
def test_bad_parameters_name_the_field(name, params, field) -> None:
    with pytest.raises(ConfigError, match=field):
        make_policy(name, **params).select(CTX, OFFERS)


def test_unknown_policy_lists_the_allowed() -> None:
    with pytest.raises(ConfigError, match="allowed.*softmax"):
        make_policy("ucb")


def test_same_seed_same_decisions() -> None:
    a, b = ThompsonSampling(random_state=7), ThompsonSampling(random_state=7)
    da = [a.select(CTX, OFFERS).offer_id for _ in range(50)]
    db = [b.select(CTX, OFFERS).offer_id for _ in range(50)]
    assert da == db
