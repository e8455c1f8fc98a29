"""The split is leak-free, evaluation scores a known answer, and the same seed gives the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from bundlewise.config import EvalConfig
from bundlewise.errors import ConfigError
from bundlewise.evaluation import (
    CoOccurrence,
    Popularity,
    RandomRanker,
    evaluate,
    families,
    temporal_split,
    tune_and_test,
)
from bundlewise.evaluation.evaluate import score_lists
from bundlewise.evaluation.split import concat_baskets, drop_items
from bundlewise.evaluation.tuning import FAMILIES
from bundlewise.mining import Baskets

CFG = EvalConfig(test_days=20, valid_days=20, cold_fraction=0.15, n_bootstrap=200)


def _basket_keys(b: Baskets) -> set[str]:
    return set(b.basket_ids.tolist())


def test_no_leak(shop) -> None:
    baskets, catalog = shop
    s = temporal_split(baskets, catalog, CFG)
    # blocks are disjoint and ordered in time
    assert not (_basket_keys(s.train) & _basket_keys(s.test))
    assert not (_basket_keys(s.valid) & _basket_keys(s.test)) and not (_basket_keys(s.train) & _basket_keys(s.valid))
    assert s.train.timestamps.max() < s.boundaries["valid_from"] <= s.valid.timestamps.min()
    assert s.valid.timestamps.max() < s.boundaries["test_from"] <= s.test.timestamps.min()
    # cold products: present later, absent from every training table
    assert len(s.cold_items) == round(0.15 * len(np.union1d(np.unique(s.valid.indices), np.unique(s.test.indices))))
    cold_codes = np.searchsorted(s.train.item_ids.astype(str), s.cold_items)
    assert s.train.item_counts()[cold_codes].sum() == 0 and s.valid_fit.item_counts()[cold_codes].sum() == 0
    assert s.fit_data("valid").item_counts()[cold_codes].sum() == 0
    assert s.fit_data("test").item_counts()[cold_codes].sum() == 0
    # ... and they are scored in both later blocks
    assert s.test.item_counts()[cold_codes].sum() + s.valid.item_counts()[cold_codes].sum() > 0
    for part in ("valid", "test"):
        cat = s.catalog_for(part).set_index("product_id")
        assert (cat.loc[s.cold_items, "n_orders"] == 0).all()
        assert cat["n_orders"].sum() == s.fit_data(part).nnz  # sales counted from fit data only
    # the popularity a model learns for a cold product is zero
    pop = Popularity().fit(s.fit_data("test"), s.catalog_for("test"))
    assert pop.counts_[np.searchsorted(pop.item_ids_.astype(str), s.cold_items)].sum() == 0


def test_split_is_deterministic_and_seeded(shop) -> None:
    baskets, catalog = shop
    a, b = temporal_split(baskets, catalog, CFG), temporal_split(baskets, catalog, CFG)
    assert np.array_equal(a.cold_items, b.cold_items)
    c = temporal_split(baskets, catalog, CFG.replace(seed=1))
    assert not np.array_equal(a.cold_items, c.cold_items)


def test_split_errors(shop) -> None:
    baskets, catalog = shop
    with pytest.raises(ConfigError, match="training block is empty"):
        temporal_split(baskets, catalog, EvalConfig(test_days=100, valid_days=100))
    no_time = Baskets.from_lists([["a", "b"]])
    with pytest.raises(ConfigError, match="timestamps"):
        temporal_split(no_time, catalog, CFG)


def test_score_lists_counts_only_basket_partners() -> None:
    b = Baskets.from_lists([["a", "b", "c"], ["a", "d"], ["e"]])  # codes a0 b1 c2 d3 e4
    queries = np.array([0, 1, 2, 3])
    lists = np.array([[3, 1, 2], [0, 4, -1], [1, 1, 0], [0, 0, 0]])
    ev = score_lists(b, queries, lists)
    assert len(ev.query) == 5  # 3 + 2 events, the single-product basket gives none
    # basket 0, query a: list d(miss) b(hit) c(hit) -> recall@3 = 2/2
    assert ev.hits[0].tolist() == [False, True, True]
    # basket 1, query a: only d is a target -> hit at rank 1
    assert ev.hits[3].tolist() == [True, False, False]
    np.testing.assert_allclose(ev.recall(3), [1.0, 0.5, 1.0, 1.0, 1.0])


def test_drop_items_and_concat() -> None:
    b = Baskets.from_lists([["a", "b"], ["b"], ["a", "c"]])
    d = drop_items(b, np.array([False, True, False]))
    assert d.to_lists() == [["a"], ["a", "c"]]
    assert concat_baskets(b, d).n_baskets == 5


def test_cooccurrence_beats_popularity_beats_random(shop) -> None:
    baskets, catalog = shop
    s = temporal_split(baskets, catalog, CFG)
    r = {name: evaluate(m, s, "test").value("recall@10")
         for name, m in (("random", RandomRanker()), ("pop", Popularity()), ("cooc", CoOccurrence()))}
    assert r["cooc"] > r["pop"] > r["random"]
    res = evaluate(CoOccurrence(), s, "test")
    row = res.metrics[(res.metrics.group == "warm") & (res.metrics.metric == "recall@10")].iloc[0]
    assert row.low <= row.value <= row.high and row.high - row.low < 0.2
    assert set(res.metrics.group) == {"warm", "cold", "all"}
    # cold products are unknown to co-occurrence: it can only back off to best sellers
    assert res.value("recall@10", "cold") == pytest.approx(evaluate(Popularity(), s, "test").value("recall@10",
                                                                                                  "cold"))


def test_benchmark_is_deterministic(shop) -> None:
    baskets, catalog = shop
    s = temporal_split(baskets, catalog, CFG)
    fams = families(0)
    chosen = {k: fams[k] for k in ("random", "popularity", "cooccurrence")}
    a = tune_and_test(s, chosen, max_configs=3)
    b = tune_and_test(s, chosen, max_configs=3)
    cols = ["model", "group", "recall@10", "recall@10_low", "ndcg@10", "mrr"]
    assert a.table()[cols].equals(b.table()[cols])
    assert len(a.tuning) == 3 and a.results[2].params in [t.params for t in a.tuning]


def test_the_second_stage_ranker_is_a_family_of_the_evaluation(shop) -> None:
    """``bundlewise evaluate`` runs the reranker beside every baseline: tuned on validation over its grid only,
    tested once; on the themed shop it ranks warm partners far above best sellers."""
    baskets, catalog = shop
    s = temporal_split(baskets, catalog, CFG)
    fams = families(0)
    assert "rerank" in fams and "rerank" in FAMILIES
    chosen = {k: fams[k] for k in ("popularity", "rerank")}
    result = tune_and_test(s, chosen, max_configs=2)
    grid = [t.params for t in result.tuning if t.family == "rerank"]
    assert len(grid) == 2 and all(set(p) == {"label_share", "label_windows"} for p in grid)
    table = result.table()
    warm = table[table["group"] == "warm"].set_index("model")["recall@10"]
    assert warm["rerank"] > warm["popularity"]
