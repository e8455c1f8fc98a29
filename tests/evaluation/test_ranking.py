"""Ranking metrics against hand-computed values and scikit-learn's ndcg_score."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from bundlewise.evaluation import ranking


def test_hand_computed_values() -> None:
    # event 0: targets {b}, list [x, b, y]  -> hit at rank 2
    # event 1: targets {a, c, d}, list [a, x, c] -> hits at ranks 1 and 3
    hits = np.array([[0, 1, 0], [1, 0, 1]], dtype=bool)
    n_t = np.array([1, 3])
    assert ranking.recall_at_k(hits, n_t, 3).tolist() == [1.0, 2 / 3]
    assert ranking.recall_at_k(hits, n_t, 1).tolist() == [0.0, 1 / 3]
    assert ranking.hit_rate_at_k(hits, 1).tolist() == [0.0, 1.0]
    assert ranking.reciprocal_rank(hits).tolist() == [0.5, 1.0]
    # event 0: DCG = 1/log2(3); ideal = 1/log2(2) = 1
    # event 1: DCG = 1 + 1/log2(4) = 1.5; ideal (3 targets, k=3) = 1 + 1/log2(3) + 1/2
    ndcg = ranking.ndcg_at_k(hits, n_t, 3)
    assert ndcg[0] == pytest.approx(1 / np.log2(3))
    assert ndcg[1] == pytest.approx(1.5 / (1 + 1 / np.log2(3) + 0.5))


def test_no_hits_and_no_targets() -> None:
    hits = np.zeros((2, 4), dtype=bool)
    assert ranking.reciprocal_rank(hits).tolist() == [0.0, 0.0]
    assert ranking.ndcg_at_k(hits, np.array([0, 2]), 4).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("seed", range(5))
def test_ndcg_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_items, k = 30, 10
    relevance = (rng.random((6, n_items)) < 0.2).astype(float)
    relevance[relevance.sum(axis=1) == 0, 0] = 1.0
    scores = rng.permutation(n_items * 6).reshape(6, n_items).astype(float)  # no ties
    order = np.argsort(-scores, axis=1)
    hits = np.take_along_axis(relevance, order, axis=1).astype(bool)
    ours = ranking.ndcg_at_k(hits, relevance.sum(axis=1).astype(int), k)
    theirs = [ndcg_score(relevance[i:i + 1], scores[i:i + 1], k=k) for i in range(6)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_coverage_and_popularity() -> None:
    lists = np.array([[0, 1, -1], [1, 2, 3]])
    assert ranking.catalog_coverage(lists, 2, 10) == pytest.approx(0.3)  # {0, 1, 2}
    pop = np.array([10.0, 5.0, 1.0, 0.0])  # percentiles: 1, 2/3, 1/3, 0
    assert ranking.popularity_percentile(lists, 3, pop) == pytest.approx((1 + 2 / 3 + 2 / 3 + 1 / 3 + 0) / 5)
