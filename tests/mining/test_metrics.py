"""Every metric against the hand-computed 5-basket table, plus the BH procedure by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import fisher_exact, hypergeom

from bundlewise.mining import Baskets, CoPurchaseStats, metrics
from tests.golden.five_baskets import BASKETS, EXPECTED, N


@pytest.fixture(scope="module")
def table():
    stats = CoPurchaseStats(min_count=1).fit(Baskets.from_lists(BASKETS)).pair_stats()
    return {(r["item_a"], r["item_b"]): r for r in stats.to_dict("records")}


def test_pairs_reported_are_exactly_those_seen(table) -> None:
    assert set(table) == set(EXPECTED)  # (c, d) never co-occur


@pytest.mark.parametrize("pair", sorted(EXPECTED))
def test_every_metric_matches_the_hand_computation(table, pair) -> None:
    got = table[pair]
    for name, value in EXPECTED[pair].items():
        if math.isinf(value):
            assert math.isinf(got[name]), name
        else:
            assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_metric_functions_directly() -> None:
    assert metrics.support(3, 5) == pytest.approx(0.6)
    assert metrics.confidence(2, 2) == 1.0
    assert metrics.lift(np.array([3, 2]), np.array([4, 4]), np.array([4, 2]), 5).tolist() == [0.9375, 1.25]
    assert metrics.npmi(0, 3, 3, 10) == -1.0  # never together
    assert metrics.npmi(4, 4, 4, 4) == 1.0  # always together
    assert metrics.conviction(2, 2, 2, 5) == math.inf
    assert metrics.expected_count(4, 2, 5) == pytest.approx(1.6)


def test_fisher_matches_scipy_on_many_tables() -> None:
    rng = np.random.default_rng(7)
    n = 400
    n_a = rng.integers(1, n, 300)
    n_b = rng.integers(1, n, 300)
    lo = np.maximum(0, n_a + n_b - n)
    hi = np.minimum(n_a, n_b)
    n_ab = lo + (rng.random(300) * (hi - lo + 1)).astype(int)
    ours = metrics.fisher_p_value(n_ab, n_a, n_b, n)
    ref = hypergeom.sf(n_ab - 1, n, n_a, n_b)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-300)
    # and the 2x2-table form of the same test
    k, a, b = 30, 60, 70
    _, p = fisher_exact([[k, a - k], [b - k, n - a - b + k]], alternative="greater")
    assert metrics.fisher_p_value(k, a, b, n)[0] == pytest.approx(p, rel=1e-9)


def test_tiny_p_values_keep_their_precision_in_log_space() -> None:
    # p ≈ 4e-581: zero as a double, exact as a log
    log_p = metrics.fisher_log_p_value(200, 210, 220, 100_000)[0]
    assert log_p == pytest.approx(hypergeom.logsf(199, 100_000, 210, 220), rel=1e-10)
    assert metrics.fisher_p_value(200, 210, 220, 100_000)[0] == 0.0
    stats = CoPurchaseStats(min_count=1).fit(Baskets.from_lists([["a", "b"]] * 300 + [["c"]] * 30_000))
    row = stats.pair_stats().iloc[0]
    assert row["p_value"] == 0.0 and row["neg_log10_p"] > 300


def test_benjamini_hochberg_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005 0.01 0.03 0.04 → ×4/rank = 0.02 0.02 0.04 0.04 → running min from the top
    assert metrics.bh_q_values(p).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # a family twice as large (untested pairs count as p = 1) doubles them
    assert metrics.bh_q_values(p, n_tests=8).tolist() == pytest.approx([0.04, 0.08, 0.08, 0.04])
    with pytest.raises(ValueError, match="smaller than the number of p-values"):
        metrics.bh_q_values(p, n_tests=2)


def test_weighted_counts_scale_free() -> None:
    # doubling every weight changes no rate
    assert metrics.lift(6.0, 8.0, 8.0, 10.0) == metrics.lift(3, 4, 4, 5)
    assert metrics.shrunk_lift(3, 4, 4, N, prior=5) == pytest.approx(8 / 8.2)
