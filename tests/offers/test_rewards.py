"""The reward joiner on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import ConfigError
from bundlewise.offers import join_rewards
from bundlewise.offers.experiment import run_online
from bundlewise.offers.policies import EpsilonGreedy
from bundlewise.offers.shopsim import OfferShopSimulator


def _events(rows):
    return pd.DataFrame(rows, columns=["shopper_id", "time", "product_id", "price_paid", "unit_cost", "discount"])


def test_margin_is_price_minus_cost_minus_discount_summed_per_decision() -> None:
    dec = pd.DataFrame({"shopper_id": [1, 2, 3], "time": [100.0, 100.0, 100.0]})
    ev = _events([(1, 150.0, "x", 10.0, 4.0, 1.0), (1, 160.0, "y", 5.0, 2.0, 0.5), (2, 99.0, "z", 9.0, 1.0, 0.0)])
    # shopper 1: (10-4-1) + (5-2-0.5) = 7.5; shopper 2 bought *before* the decision -> 0; shopper 3 nothing -> 0
    assert join_rewards(dec, ev).tolist() == [7.5, 0.0, 0.0]


def test_window_is_inclusive_and_configurable() -> None:
    dec = pd.DataFrame({"shopper_id": [1], "time": [0.0]})
    ev = _events([(1, 600.0, "x", 3.0, 1.0, 0.0), (1, 601.0, "y", 10.0, 1.0, 0.0)])
    assert join_rewards(dec, ev).tolist() == [2.0]  # default 10 min: 600 s in, 601 s out
    assert join_rewards(dec, ev, window_s=1000).tolist() == [11.0]
    assert join_rewards(dec, ev, window_s=10, default_reward=-1.0).tolist() == [-1.0]


def test_last_touch_attribution_between_two_decisions() -> None:
    dec = pd.DataFrame({"shopper_id": [1, 1], "time": [0.0, 200.0]})
    ev = _events([(1, 100.0, "x", 5.0, 1.0, 0.0), (1, 300.0, "y", 8.0, 2.0, 1.0)])
    assert join_rewards(dec, ev).tolist() == [4.0, 5.0]  # each line to the latest decision before it


def test_match_products_counts_only_offered_lines() -> None:
    dec = pd.DataFrame({"shopper_id": [1], "time": [0.0], "products": [("x",)]})
    ev = _events([(1, 10.0, "x", 5.0, 1.0, 0.5), (1, 20.0, "other", 8.0, 2.0, 0.0)])
    assert join_rewards(dec, ev, match_products=True).tolist() == [3.5]
    assert join_rewards(dec, ev).tolist() == [9.5]


def test_decision_order_is_kept_when_times_are_unsorted() -> None:
    dec = pd.DataFrame({"shopper_id": [2, 1], "time": [50.0, 0.0]})
    ev = _events([(1, 10.0, "x", 3.0, 1.0, 0.0), (2, 60.0, "y", 9.0, 1.0, 0.0)])
    assert join_rewards(dec, ev).tolist() == [8.0, 2.0]


def test_missing_columns_and_bad_window_are_config_errors() -> None:
    dec = pd.DataFrame({"shopper_id": [1], "time": [0.0]})
    with pytest.raises(ConfigError, match="price_paid"):
        join_rewards(dec, pd.DataFrame({"shopper_id": [1], "time": [1.0]}))
    with pytest.raises(ConfigError, match="window_s"):
        join_rewards(dec, _events([]), window_s=-5)


def test_joiner_agrees_with_the_rewards_learned_online() -> None:
    sim = OfferShopSimulator(n_impressions=2000, random_state=2)
    res = run_online(sim, EpsilonGreedy(random_state=0))
    joined = join_rewards(res.log.to_frame(), res.events)
    assert np.allclose(joined, res.reward)
    assert (res.reward > 0).mean() > 0.05  # the check is not vacuous
