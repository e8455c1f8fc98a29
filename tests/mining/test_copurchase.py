"""CoPurchaseStats: brute-force cross-checks, invariants, incremental = full, decay, caps, errors."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundlewise.errors import ConfigError, NotFittedError, UnknownProductError
from bundlewise.mining import Baskets, CoPurchaseStats

ITEMS = [f"p{i}" for i in range(12)]
basket_lists = st.lists(st.lists(st.sampled_from(ITEMS), min_size=0, max_size=7), min_size=1, max_size=60)


def _brute(baskets: list[list[str]]) -> tuple[Counter, Counter]:
    items, pairs = Counter(), Counter()
    for b in baskets:
        s = sorted(set(b))
        items.update(s)
        pairs.update(combinations(s, 2))
    return items, pairs


@settings(max_examples=80)
@given(basket_lists)
def test_counts_and_invariants(baskets: list[list[str]]) -> None:
    stats = CoPurchaseStats(min_count=1).fit(Baskets.from_lists(baskets)).pair_stats()
    items, pairs = _brute(baskets)
    got = {(a, b): n for a, b, n in zip(stats["item_a"], stats["item_b"], stats["n_ab"], strict=True)}
    assert got == dict(pairs)
    assert all(stats["n_a"] == [items[a] for a in stats["item_a"]])
    # counts add up: every basket of size s holds s(s-1)/2 pairs
    assert stats["n_ab"].sum() == sum(len(set(b)) * (len(set(b)) - 1) // 2 for b in baskets)
    assert (stats["n_ab"] <= np.minimum(stats["n_a"], stats["n_b"])).all()
    for col in ("confidence_ab", "confidence_ba", "support", "jaccard", "cosine", "p_value", "q_value"):
        assert ((stats[col] >= 0) & (stats[col] <= 1 + 1e-12)).all(), col
    assert ((stats["npmi"] >= -1 - 1e-12) & (stats["npmi"] <= 1 + 1e-12)).all()
    assert (stats["q_value"] >= stats["p_value"] - 1e-15).all()


@settings(max_examples=40)
@given(basket_lists)
def test_lift_is_symmetric_and_confidences_are_each_others_mirror(baskets: list[list[str]]) -> None:
    model = CoPurchaseStats(min_count=1).fit(Baskets.from_lists(baskets))
    stats = model.pair_stats()
    for r in stats.head(10).itertuples():
        ids, scores = model.with_metric("lift").recommend([r.item_a, r.item_b], k=len(ITEMS))
        la = scores[0][list(ids[0]).index(r.item_b)]
        lb = scores[1][list(ids[1]).index(r.item_a)]
        assert la == pytest.approx(lb) == pytest.approx(r.lift)
        ids, scores = model.with_metric("confidence").recommend([r.item_a], k=len(ITEMS))
        assert scores[0][list(ids[0]).index(r.item_b)] == pytest.approx(r.confidence_ab)


def _with_times(baskets: list[list[str]], start_day: int) -> Baskets:
    b = Baskets.from_long([str(start_day + i) for i, items in enumerate(baskets) for _ in items],
                          [x for items in baskets for x in items],
                          [np.datetime64("2024-01-01") + np.timedelta64(start_day + i, "D")
                           for i, items in enumerate(baskets) for _ in items])
    return b


@pytest.mark.parametrize("half_life", [None, 3.0])
@settings(max_examples=40)
@given(first=basket_lists, second=basket_lists)
def test_partial_fit_equals_full_fit(half_life: float | None, first: list[list[str]], second: list[list[str]]) -> None:
    first = [b for b in first if b] or [["p0"]]
    second = [b for b in second if b] or [["p1", "p11"]]
    second = second + [["new-1", "p0"], ["new-1", "new-2"]]  # products never seen in the first part
    full = CoPurchaseStats(min_count=1, half_life_days=half_life).fit(_with_times(first + second, 0))
    inc = CoPurchaseStats(min_count=1, half_life_days=half_life).fit(_with_times(first, 0))
    inc.partial_fit(_with_times(second, len(first)))
    a, b = full.pair_stats(), inc.pair_stats()
    assert a[["item_a", "item_b", "n_ab", "n_a", "n_b"]].equals(b[["item_a", "item_b", "n_ab", "n_a", "n_b"]])
    for col in ("support", "lift", "confidence_ab", "npmi", "shrunk_lift", "p_value", "q_value"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-10, err_msg=col)
    assert full.n_baskets_ == inc.n_baskets_


def test_time_decay_weighs_recent_baskets_more() -> None:
    old = [["tea", "milk"]] * 4
    new = [["tea", "jam"]] * 4
    b = _with_times(old + new, 0)
    flat = CoPurchaseStats(min_count=1).fit(b).pair_stats().set_index(["item_a", "item_b"])
    decayed = CoPurchaseStats(min_count=1, half_life_days=1.0).fit(b).pair_stats().set_index(["item_a", "item_b"])
    assert flat.loc[("milk", "tea"), "support"] == flat.loc[("jam", "tea"), "support"] == 0.5
    assert decayed.loc[("jam", "tea"), "support"] > 0.9 > 0.1 > decayed.loc[("milk", "tea"), "support"]
    # significance keeps the raw counts
    assert decayed.loc[("milk", "tea"), "p_value"] == flat.loc[("milk", "tea"), "p_value"]


def test_basket_size_cap() -> None:
    baskets = [["a", "b"], ["a", "b"], [f"x{i}" for i in range(50)] + ["a"]]
    model = CoPurchaseStats(min_count=1, max_basket_size=10).fit(Baskets.from_lists(baskets))
    assert model.n_baskets_ == 2 and model.n_dropped_baskets_ == 1
    assert len(model.pair_stats()) == 1


def test_recommend_shapes_padding_and_unknown() -> None:
    model = CoPurchaseStats(min_count=1, metric="count").fit(Baskets.from_lists([["a", "b"], ["a", "c"], ["a", "b"]]))
    ids, scores = model.recommend(["a", "c"], k=3)
    assert ids.shape == scores.shape == (2, 3)
    assert ids[0].tolist() == ["b", "c", None] and scores[0][:2].tolist() == [2.0, 1.0]
    assert np.isnan(scores[0][2])
    with pytest.raises(UnknownProductError, match="'zzz' is not known to the fitted CoPurchaseStats"):
        model.recommend("zzz")
    with pytest.raises(ConfigError, match="metric is 'magic'; allowed metrics are"):
        model.with_metric("magic")
    with pytest.raises(ConfigError, match="metric is 'magic'; allowed metrics are"):
        CoPurchaseStats(metric="magic").fit(Baskets.from_lists([["a", "b"]]))


def test_with_metric_shares_the_counts_and_leaves_the_original_alone() -> None:
    baskets = Baskets.from_lists([["a", "b"], ["a", "c"], ["a", "b"], ["b", "c"], ["c"], ["c"]])
    model = CoPurchaseStats(min_count=1, metric="count").fit(baskets)
    by_conf = model.with_metric("confidence")
    assert by_conf.metric == "confidence" and model.metric == "count"
    assert by_conf.pair_n_ is model.pair_n_  # no recount
    # P(partner | c): c is in 4 baskets, with a in 1 and with b in 1
    assert by_conf.recommend("c", k=2)[1].tolist() == [[0.25, 0.25]]
    assert model.recommend("c", k=2)[1].tolist() == [[1.0, 1.0]]
    assert model.with_metric("count") is model
    # a stricter min_count drops the pairs seen once
    assert model.with_metric("count", min_count=2).recommend("a", k=2)[0].tolist() == [["b", None]]


@pytest.mark.parametrize(("params", "message"), [
    ({"min_count": 0}, "min_count is 0; it must be an integer >= 1"),
    ({"min_count": -3}, "min_count is -3"),
    ({"half_life_days": -1}, "half_life_days is -1; it must be a number > 0"),
    ({"max_basket_size": 1}, "max_basket_size is 1"),
    ({"prior": 0}, "prior is 0"),
])
def test_bad_parameters(params: dict, message: str) -> None:
    model = CoPurchaseStats(**params)  # __init__ only stores: the check happens in fit()
    with pytest.raises(ConfigError, match=message):
        model.fit(Baskets.from_lists([["a", "b"]]))


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="call fit\\(\\) first"):
        CoPurchaseStats().pair_stats()


def test_decay_without_timestamps_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="needs basket timestamps"):
        CoPurchaseStats(half_life_days=7).fit(Baskets.from_lists([["a", "b"]]))
