"""Spark itemsets and rules equal the embedded engine's (and arules' golden Groceries lists); multi-item
consequents against brute force; rule application against a direct scan."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from bundlewise.mining import AssociationRules, Baskets, frequent_itemsets, read_basket_file
from bundlewise.mining.association import find_rules
from bundlewise.spark import SparkAssociationRules, apply_rules, baskets_to_spark, rules_to_spark
from bundlewise.spark.itemsets import candidates, spark_frequent_itemsets
from bundlewise.spark.rules import find_rules_multi
from tests.conftest import shared_path

FLOATS = ["support", "confidence", "lift", "coverage", "leverage", "conviction"]


def _random_lists(seed: int, n: int = 300, n_items: int = 12) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"i{int(x):02d}" for x in rng.zipf(1.4, 1 + rng.poisson(3)) % n_items] for _ in range(n)]


def assert_same_rules(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert len(ours) == len(ref) > 0
    assert list(ours["antecedent"]) == list(ref["antecedent"])
    assert list(ours["consequent"]) == list(ref["consequent"])
    assert np.array_equal(ours["count"].to_numpy(np.int64), ref["count"].to_numpy(np.int64))
    for c in FLOATS:
        x, y = ours[c].to_numpy(np.float64), ref[c].to_numpy(np.float64)
        assert np.array_equal(np.isinf(x), np.isinf(y)), c
        fin = np.isfinite(y)
        assert np.all(np.abs(x[fin] - y[fin]) <= 1e-9 * np.maximum(1.0, np.abs(y[fin]))), c


def test_candidates_join_and_prune() -> None:
    prev = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3], [1, 2, 4]])
    # {0,1,2,3}: every 3-subset frequent; {1,2,3,4}: {1,3,4} missing, pruned
    assert candidates(prev, 5).tolist() == [[0, 1, 2, 3]]


@pytest.mark.parametrize(("support", "confidence", "min_len", "max_len"), [(0.02, 0.3, 1, 10), (0.05, 0.5, 2, 3)])
def test_rules_equal_embedded_engine(spark, support: float, confidence: float, min_len: int, max_len: int) -> None:
    lists = _random_lists(seed=int(support * 100))
    baskets = Baskets.from_lists(lists)
    ours = SparkAssociationRules(min_support=support, min_confidence=confidence, min_len=min_len,
                                 max_len=max_len).fit(baskets_to_spark(spark, baskets))
    ref = AssociationRules(min_support=support, min_confidence=confidence, min_len=min_len,
                           max_len=max_len).fit(baskets)
    got_sets, ref_sets = ours.itemsets_.to_frame(), ref.itemsets_.to_frame()
    assert got_sets["itemset"].tolist() == ref_sets["itemset"].tolist()
    assert got_sets["count"].tolist() == ref_sets["count"].tolist()
    assert max(got_sets["length"]) >= 3  # the executor-side bitset counting was exercised
    assert_same_rules(ours.rules_, ref.rules_)


def _brute_multi(lists: list[list[str]], min_count: int, conf: float, max_consequent: int) -> dict:
    counts: Counter = Counter()
    for b in lists:
        s = sorted(set(b))
        for k in range(1, len(s) + 1):
            counts.update(combinations(s, k))
    frequent = {k: v for k, v in counts.items() if v >= min_count}
    out = {}
    for itemset, cnt in frequent.items():
        for c in range(1, min(max_consequent, len(itemset)) + 1):
            for y in combinations(itemset, c):
                x = tuple(i for i in itemset if i not in y)
                if not x and c > 1:
                    continue
                x_count = frequent[x] if x else len(lists)
                if cnt / x_count >= conf:
                    out[(x, y)] = (cnt, cnt / x_count, cnt / x_count * len(lists) / frequent[y])
    return out


def test_multi_item_consequents() -> None:
    lists = _random_lists(seed=3, n=120, n_items=8)
    sets = frequent_itemsets(Baskets.from_lists(lists), min_count=4, max_len=10)
    single = find_rules_multi(sets, 0.4, max_consequent=1)
    ref = find_rules(sets, 0.4).to_frame()
    ref["consequent"] = [(c,) for c in ref["consequent"]]
    assert_same_rules(single, ref)
    multi = find_rules_multi(sets, 0.15, max_consequent=3)
    expected = _brute_multi(lists, 4, 0.15, 3)
    got = {(a, c): (n, cf, li) for a, c, n, cf, li in zip(multi["antecedent"], multi["consequent"], multi["count"],
                                                         multi["confidence"], multi["lift"], strict=True)}
    assert got.keys() == expected.keys()
    assert any(len(c) >= 2 for _, c in got)
    for key, value in expected.items():
        assert got[key][0] == value[0] and got[key][1:] == pytest.approx(value[1:], rel=1e-12)


def test_apply_rules_as_a_join(spark) -> None:
    lists = _random_lists(seed=5, n=200, n_items=10)
    rules = AssociationRules(min_support=0.02, min_confidence=0.2, min_len=1, max_len=3).fit(
        Baskets.from_lists(lists)).rules_
    assert (rules["antecedent"].map(len) == 0).any() and (rules["antecedent"].map(len) == 2).any()
    baskets = {f"b{n}": set(b) for n, b in enumerate(lists)}
    lines = spark.createDataFrame(pd.DataFrame([(bid, i) for bid, items in baskets.items() for i in items],
                                               columns=["basket_id", "item_id"]))
    got = apply_rules(rules_to_spark(spark, rules), lines, k=3).toPandas()
    expected = []
    for bid, items in baskets.items():  # the direct scan: every rule against every basket
        best: dict[str, tuple] = {}
        for rid, r in enumerate(rules.itertuples()):
            if set(r.antecedent) <= items and r.consequent not in items:
                key = (-r.confidence, -r.lift, rid)
                if r.consequent not in best or key < best[r.consequent]:
                    best[r.consequent] = key
        ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))[:3]
        expected += [(bid, item, key[2], rank) for rank, (item, key) in enumerate(ranked, start=1)]
    assert sorted(zip(got["basket_id"], got["item_id"], got["rule_id"], got["rank"], strict=True)) == sorted(expected)


@pytest.fixture(scope="module")
def groceries_lines(spark):
    baskets = read_basket_file(shared_path("groceries", "groceries.csv"))
    return baskets, baskets_to_spark(spark, baskets).cache()


def _items(text: str) -> tuple[str, ...]:
    inner = text.strip()[1:-1]
    return tuple(sorted(x.strip() for x in inner.split(","))) if inner else ()


@pytest.mark.shared
@pytest.mark.slow
def test_groceries_golden_rules_on_spark(groceries_lines) -> None:
    baskets, lines = groceries_lines
    sets = spark_frequent_itemsets(lines, 0.001)
    ref_sets = frequent_itemsets(baskets, 0.001)
    assert [len(c) for _, c in sets.levels] == [len(c) for _, c in ref_sets.levels]
    for (rows, counts), (ref_rows, ref_counts) in zip(sets.levels, ref_sets.levels, strict=True):
        assert np.array_equal(rows, ref_rows) and np.array_equal(counts, ref_counts)
    for confidence, name, n_rules in ((0.5, "reference_rules_supp0.001_conf0.5.csv", 5668),
                                      (0.8, "reference_rules_supp0.001_conf0.8.csv", 410)):
        rules = find_rules(sets, confidence).to_frame()
        assert_same_rules(rules, AssociationRules(min_support=0.001, min_confidence=confidence).fit(baskets).rules_)
        reference = pd.read_csv(shared_path("groceries", "reference_rules", name))
        assert len(rules) == len(reference) == n_rules
        ours = {(tuple(a), c): r for a, c, r in zip(rules["antecedent"], rules["consequent"],
                                                    rules[["support", "confidence", "lift", "count"]].to_numpy(),
                                                    strict=True)}
        for row in reference.itertuples():
            s, c, li, n = ours[(_items(row.lhs), _items(row.rhs)[0])]
            assert (s, c, li) == pytest.approx((row.support, row.confidence, row.lift), abs=1e-6)
            assert n == row.count
