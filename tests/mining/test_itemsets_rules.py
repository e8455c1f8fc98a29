"""Itemsets and rules: brute force on random data, arules semantics, golden Groceries rules, errors."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundlewise.errors import ConfigError, UnknownProductError
from bundlewise.mining import AssociationRules, Baskets, frequent_itemsets, read_basket_file
from bundlewise.mining.itemsets import _keys, min_count_for
from tests.conftest import shared_path

ITEMS = list("abcdefgh")
basket_lists = st.lists(st.lists(st.sampled_from(ITEMS), min_size=0, max_size=6), min_size=1, max_size=40)


def _brute_itemsets(baskets: list[list[str]], min_count: int, max_len: int) -> dict[tuple[str, ...], int]:
    counts: Counter = Counter()
    for b in baskets:
        s = sorted(set(b))
        for k in range(1, min(max_len, len(s)) + 1):
            counts.update(combinations(s, k))
    return {k: v for k, v in counts.items() if v >= min_count}


@settings(max_examples=80)
@given(basket_lists, st.integers(1, 4), st.integers(1, 5))
def test_itemsets_equal_brute_force(baskets: list[list[str]], min_count: int, max_len: int) -> None:
    got = frequent_itemsets(Baskets.from_lists(baskets), min_count=min_count, max_len=max_len).to_frame()
    assert dict(zip(got["itemset"], got["count"], strict=True)) == _brute_itemsets(baskets, min_count, max_len)


@settings(max_examples=60)
@given(basket_lists, st.sampled_from([0.05, 0.1, 0.25]), st.sampled_from([0.3, 0.5, 0.8, 1.0]),
       st.integers(1, 3), st.integers(1, 5))
def test_rules_equal_brute_force(baskets: list[list[str]], support: float, conf: float, min_len: int,
                                 max_len: int) -> None:
    if max_len < min_len:
        max_len = min_len
    n = len(baskets)
    frequent = _brute_itemsets(baskets, min_count_for(support, n), max_len)
    expected = {}
    for itemset, count in frequent.items():
        if not min_len <= len(itemset) <= max_len:
            continue
        for y in itemset:
            x = tuple(i for i in itemset if i != y)
            x_count = frequent[x] if x else n
            if count / x_count >= conf:
                expected[(x, y)] = (count, count / x_count)
    rules = AssociationRules(min_support=support, min_confidence=conf, min_len=min_len,
                             max_len=max_len).fit(Baskets.from_lists(baskets)).rules_
    got = {(a, c): (n_, cf) for a, c, n_, cf in zip(rules["antecedent"], rules["consequent"], rules["count"],
                                                    rules["confidence"], strict=True)}
    assert got.keys() == expected.keys()
    for key, (count, cf) in expected.items():
        assert got[key][0] == count and got[key][1] == pytest.approx(cf)
    assert (rules["confidence"] <= 1).all() and (rules["support"] >= support - 1e-12).all()


def test_support_threshold_rounds_like_arules() -> None:
    assert min_count_for(0.001, 9835) == 10  # 9.835 baskets → 10 (arules prints 9, returns >= 10)
    assert min_count_for(0.005, 10_000) == 50  # exactly 50, despite 0.005 * 10000 = 50.000000000000004
    assert min_count_for(0.0, 10) == 1


def test_empty_antecedent_rules_and_length_limits() -> None:
    baskets = [["milk"]] * 9 + [["milk", "tea"]]
    all_rules = AssociationRules(min_support=0.1, min_confidence=0.9).fit(Baskets.from_lists(baskets)).rules_
    assert ((), "milk") in set(zip(all_rules["antecedent"], all_rules["consequent"], strict=True))
    assert (("tea",), "milk") in set(zip(all_rules["antecedent"], all_rules["consequent"], strict=True))
    only_pairs = AssociationRules(min_support=0.1, min_confidence=0.9, min_len=2,
                                  max_len=2).fit(Baskets.from_lists(baskets)).rules_
    assert list(zip(only_pairs["antecedent"], only_pairs["consequent"], strict=True)) == [(("tea",), "milk")]


def test_sort_keys_are_lexicographic_for_both_encodings() -> None:
    rng = np.random.default_rng(0)
    rows = np.sort(rng.integers(0, 70_000, (500, 4)), axis=1).astype(np.int32)
    lex = np.lexsort(rows.T[::-1])
    for n_items in (70_000, 100):  # 4 * log2(70k) > 62: raw bytes; small vocab: integers
        r = rows % n_items
        keys = _keys(r, n_items)
        assert np.array_equal(np.sort(keys), keys[np.lexsort(r.T[::-1])])
    assert _keys(rows, 70_000).dtype.kind == "V" and _keys(rows % 100, 100).dtype == np.int64
    del lex


@pytest.mark.parametrize(("params", "message"), [
    ({"min_support": 1.5}, "min_support is 1.5; it must be a number in \\[0, 1\\]"),
    ({"min_confidence": -0.1}, "min_confidence is -0.1"),
    ({"min_len": 3, "max_len": 2}, "max_len \\(2\\) is smaller than min_len \\(3\\)"),
    ({"min_len": 0}, "min_len is 0"),
    ({"min_lift": 0}, "min_lift is 0"),
])
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AssociationRules(**params).fit(Baskets.from_lists([["a", "b"]]))


def test_candidate_explosion_is_a_clear_error() -> None:
    baskets = [list("abcdefghij")] * 5
    with pytest.raises(ConfigError, match="candidate itemsets of length 3 .* raise min_support or lower max_len"):
        frequent_itemsets(Baskets.from_lists(baskets), min_count=1, max_len=4, max_candidates=10)


def test_recommend_from_rules() -> None:
    model = AssociationRules(min_support=0.2, min_confidence=0.5).fit(
        Baskets.from_lists([["a", "b"], ["a", "b"], ["a", "c"], ["d"]]))
    ids, scores = model.recommend(["a", "d"], k=2)
    assert ids[0].tolist() == ["b", None] and scores[0][0] == pytest.approx(2 / 3)
    assert ids[1].tolist() == [None, None]
    with pytest.raises(UnknownProductError):
        model.recommend("zzz")


# -- golden: arules on Groceries (published counts; values to 1e-6) ------------------------------------
GOLDEN = [
    (0.001, 0.5, 1, "reference_rules_supp0.001_conf0.5.csv", 5668),
    (0.001, 0.8, 1, "reference_rules_supp0.001_conf0.8.csv", 410),
    (0.006, 0.25, 2, "reference_rules_supp0.006_conf0.25_minlen2.csv", 463),
    (0.005, 0.5, 1, "reference_rules_supp0.005_conf0.5.csv", 120),
]


@pytest.fixture(scope="module")
def groceries() -> Baskets:
    return read_basket_file(shared_path("groceries", "groceries.csv"))


def _items(text: str) -> tuple[str, ...]:
    # our ingest trims ids; the arules label "cream cheese " has a trailing space
    inner = text.strip()[1:-1]
    return tuple(sorted(x.strip() for x in inner.split(","))) if inner else ()


@pytest.mark.shared
@pytest.mark.parametrize(("support", "confidence", "min_len", "name", "n_rules"), GOLDEN)
def test_groceries_golden_rules(groceries: Baskets, support: float, confidence: float, min_len: int, name: str,
                                n_rules: int) -> None:
    assert (groceries.n_baskets, groceries.n_items, groceries.nnz) == (9835, 169, 43367)
    reference = pd.read_csv(shared_path("groceries", "reference_rules", name))
    rules = AssociationRules(min_support=support, min_confidence=confidence, min_len=min_len).fit(groceries).rules_
    assert len(rules) == len(reference) == n_rules
    ours = {(tuple(a), c): r for a, c, r in zip(rules["antecedent"], rules["consequent"],
                                                rules[["support", "confidence", "lift", "count"]].to_numpy(),
                                                strict=True)}
    for row in reference.itertuples():
        key = (_items(row.lhs), _items(row.rhs)[0])
        s, c, li, n = ours[key]
        assert (s, c, li) == pytest.approx((row.support, row.confidence, row.lift), abs=1e-6)
        assert n == row.count
    if n_rules == 410:
        top = rules.iloc[0]
        assert (top.antecedent, top.consequent) == (("liquor", "red/blush wine"), "bottled beer")
        assert math.isclose(top.lift, 11.235269, abs_tol=1e-6)
