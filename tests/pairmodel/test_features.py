"""The pair features are addressed by name: the evidence a cold-start query lacks and the text-only
features must cover every feature exactly once, whatever the order of PAIR_FEATURES."""

from __future__ import annotations

import numpy as np

from bundlewise.mining import Baskets, CoPurchaseStats
from bundlewise.pairmodel.features import (
    EVIDENCE_COLUMNS,
    EVIDENCE_FEATURES,
    PAIR_FEATURES,
    CategoryEvidence,
    PairTable,
    feature_columns,
    pair_features,
    text_only_features,
)


def _table() -> PairTable:
    b = Baskets.from_lists([["a", "b"], ["a", "b"], ["a", "c"], ["b", "c"]])
    return PairTable.from_stats(CoPurchaseStats(min_count=1).fit(b))


def test_evidence_columns_are_the_named_features() -> None:
    assert [PAIR_FEATURES[c] for c in EVIDENCE_COLUMNS] == list(EVIDENCE_FEATURES)
    assert feature_columns("log_n_ij", "has_pair") == [0, 7]  # the positions the network was trained with


def test_text_only_features_are_zero_exactly_on_the_evidence() -> None:
    table = _table()
    vectors = np.eye(3, dtype=np.float32)
    j = np.array([0, 1, 2])
    feats = text_only_features(table, vectors[[1, 1, 1]], j, vectors, (np.full((3, 1), -1), np.zeros((3, 1))))
    assert feats.shape == (3, len(PAIR_FEATURES))
    assert not feats[:, list(EVIDENCE_COLUMNS)].any()  # a product that exists only as text has no evidence
    # ... and the features it does have are the partner's sales and the text similarity, by name
    np.testing.assert_allclose(feats[:, PAIR_FEATURES.index("log_count_j")], np.log1p([3, 3, 2]))
    np.testing.assert_allclose(feats[:, PAIR_FEATURES.index("text_cos")], [0, 1, 0])


def test_pair_features_named_columns() -> None:
    table = _table()
    vectors = np.eye(3, dtype=np.float32)
    feats = pair_features(table, np.array([0, 0]), np.array([1, 2]), vectors)
    col = {name: feats[:, k] for k, name in enumerate(PAIR_FEATURES)}
    np.testing.assert_allclose(col["log_n_ij"], np.log1p([2, 1]))  # a-b twice, a-c once
    np.testing.assert_allclose(col["conf_ij"], [2 / 3, 1 / 3])     # a is in 3 baskets
    np.testing.assert_allclose(col["conf_ji"], [2 / 3, 1 / 2])     # b in 3, c in 2
    np.testing.assert_allclose(col["has_pair"], [1, 1])


def test_category_evidence_leaves_the_query_out_and_matches_a_hand_count() -> None:
    # a, b in category X; c in Y; d without a category. Pairs: a-c twice, b-c once, b-d once.
    b = Baskets.from_lists([["a", "c"], ["a", "c"], ["b", "c"], ["b", "d"], ["a"]])
    table = PairTable.from_stats(CoPurchaseStats(min_count=1).fit(b))
    category, known = np.array([0, 0, 1, 2]), np.array([True, True, True, False])
    ev = CategoryEvidence.of(table, category, known, n_top=5)
    a, c, d = 0, 2, 3
    i, j = np.array([a, a, c, d]), np.array([c, d, a, a])
    conf, lift = ev.conf(table, category, known, i, j, table.counts(i, j), table.item_weights[i])
    # a → c: the other X product (b) bought c in 1 of its 2 baskets; a's own 2 of 3 are left out
    # a → d: b bought d in 1 of 2; c → a: c is alone in Y, nothing left; d: no category
    assert conf.tolist() == [0.5, 0.5, 0.0, 0.0]
    p_c = 3 / 5  # c is in 3 of the 5 baskets
    assert np.isclose(lift[0], np.log((1 + p_c) / ((2 + 1) * p_c)))
    assert lift[2:].tolist() == [0.0, 0.0]
    assert ev.top(category, known, np.array([a, d]), 3).tolist() == [[c, d, -1], [-1, -1, -1]]
