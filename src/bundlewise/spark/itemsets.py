"""Frequent itemsets and association rules on Spark with arules semantics (``SparkAssociationRules``).

Level by level, as :func:`bundlewise.mining.frequent_itemsets` (thresholds inclusive, support over
all baskets): products and pairs are counted by Spark SQL (:func:`bundlewise.spark.pairs.count_pairs`);
longer candidates are generated on the driver from the frequent itemsets one shorter (joined on
a shared prefix, pruned when a subset is infrequent: they are few) and broadcast; each executor
counts them over its baskets with packed bitsets in numpy and Spark sums the partial counts.
Rules come from the counted itemsets by :func:`bundlewise.mining.association.find_rules` itself
(the same rows, the same order), or with several products on the right by
:func:`bundlewise.spark.rules.find_rules_multi` (which MLlib's FPGrowth and arules lack).
"""

from __future__ import annotations

import logging
import math
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError, ResourceLimitError
from bundlewise.mining._validate import check_fraction, check_int, check_lengths, check_positive
from bundlewise.mining.itemsets import Itemsets, min_count_for
from bundlewise.mining.source import BasketQuery
from bundlewise.spark.baskets import Prepared, prepare
from bundlewise.spark.pairs import count_pairs

log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 << 20  # bitset rows ANDed at once per executor batch


def _keys(rows: np.ndarray, base: int) -> np.ndarray | None:
    """Sort-compatible int64 keys of rows (lexicographic order), or None when they would not fit."""
    k = rows.shape[1]
    if k * math.log2(max(base, 2)) >= 62:
        return None
    keys = np.zeros(len(rows), dtype=np.int64)
    for j in range(k):
        keys = keys * base + rows[:, j]
    return keys


def _member(rows: np.ndarray, table: np.ndarray, base: int) -> np.ndarray:
    """Which rows of ``rows`` occur in ``table`` (both (m, k) code arrays, ``table`` sorted)."""
    keys, want = _keys(table, base), _keys(rows, base)
    if keys is None or want is None:  # very long itemsets over a huge vocabulary: bytes
        seen = {r.tobytes() for r in np.ascontiguousarray(table)}
        return np.fromiter((r.tobytes() in seen for r in np.ascontiguousarray(rows)), dtype=bool, count=len(rows))
    pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    return keys[pos] == want if len(keys) else np.zeros(len(rows), dtype=bool)


def candidates(prev: np.ndarray, base: int) -> np.ndarray:
    """Candidate k-itemsets from the frequent (k-1)-itemsets ``prev`` (rows sorted): every two rows sharing
    their first k-2 codes joined, kept when each of their (k-1)-subsets is frequent; lexicographic order.

    Examples
    --------
    >>> candidates(np.array([[0, 1], [0, 2], [1, 2], [1, 3]]), 4).tolist()
    [[0, 1, 2]]
    """
    m, k1 = prev.shape
    if m < 2:
        return np.empty((0, k1 + 1), dtype=np.int32)
    change = np.any(prev[1:, : k1 - 1] != prev[:-1, : k1 - 1], axis=1) if k1 > 1 else np.zeros(m - 1, dtype=bool)
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    ends = np.concatenate([starts[1:], [m]])
    left, right = [], []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s >= 2:
            i, j = np.triu_indices(e - s, 1)
            left.append(i + s)
            right.append(j + s)
    if not left:
        return np.empty((0, k1 + 1), dtype=np.int32)
    li, ri = np.concatenate(left), np.concatenate(right)
    cand = np.concatenate([prev[li], prev[ri, -1:]], axis=1).astype(np.int32)
    keep = np.ones(len(cand), dtype=bool)
    for drop in range(k1 - 1):  # dropping either of the last two gives the joined rows themselves
        keep &= _member(np.delete(cand, drop, axis=1), prev, base)
    cand = cand[keep]
    order = np.lexsort(cand.T[::-1])
    return cand[order]


def _count_batches(batches, cand, n_f: int):  # type: ignore[no-untyped-def]
    """mapInPandas body: how many of this partition's baskets hold each candidate (packed bitsets, numpy)."""
    import pandas as pd

    rows = cand.value
    counts = np.zeros(len(rows), dtype=np.int64)
    for df in batches:
        lists = df["items"].to_numpy(object)
        if not len(lists):
            continue
        sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        codes = np.concatenate(lists).astype(np.int64)
        basket = np.repeat(np.arange(len(lists), dtype=np.int64), sizes)
        n_words = (len(lists) + 63) // 64
        bits = np.zeros((n_f, n_words), dtype=np.uint64)
        np.bitwise_or.at(bits, (codes, basket // 64), np.left_shift(np.uint64(1), (basket % 64).astype(np.uint64)))
        step = max(1, _CHUNK_BYTES // (8 * n_words))
        for s in range(0, len(rows), step):
            block = rows[s: s + step]
            acc = bits[block[:, 0]].copy()
            for j in range(1, block.shape[1]):
                acc &= bits[block[:, j]]
            counts[s: s + len(block)] += np.bitwise_count(acc).sum(axis=1, dtype=np.int64)
    hit = np.flatnonzero(counts)
    yield pd.DataFrame({"cid": hit.astype(np.int64), "n": counts[hit]})


def spark_frequent_itemsets(lines: Any, min_support: float | None = None, *, min_count: int | None = None,
                            max_len: int = 10, max_basket_size: int | None = None,
                            query: BasketQuery | None = None, max_candidates: int = 50_000_000) -> Itemsets:
    """The :class:`~bundlewise.mining.itemsets.Itemsets` :func:`~bundlewise.mining.frequent_itemsets` finds,
    counted on Spark from basket lines (codes index the sorted vocabulary of the selected baskets)."""
    from pyspark.sql import functions as F

    if (min_support is None) == (min_count is None):
        raise ConfigError("give exactly one of min_support (share of baskets) or min_count (baskets)")
    check_int("max_len", max_len, 1)
    spark = lines.sparkSession
    prep = prepare(spark, lines, query=query, max_basket_size=max_basket_size)
    n = prep.n_baskets
    threshold = min_count_for(min_support, n) if min_support is not None else min_count
    check_int("min_count", threshold, 1)
    got = prep.baskets.select(F.explode("items").alias("code")).groupBy("code").count().toPandas()
    item_counts = np.zeros(len(prep.item_ids), dtype=np.int64)
    item_counts[got["code"].to_numpy(np.int64)] = got["count"].to_numpy(np.int64)
    frequent = np.flatnonzero(item_counts >= threshold).astype(np.int32)
    levels = [(frequent.reshape(-1, 1), item_counts[frequent])]
    if max_len == 1 or len(frequent) < 2:
        return Itemsets(prep.item_ids, n, threshold, levels)
    # frequent products only, renumbered 0..f-1 in code order (rows stay sorted), as the embedded engine does
    import pandas as pd

    remap = spark.createDataFrame(pd.DataFrame({"code": frequent.astype(np.int32),
                                                "local": np.arange(len(frequent), dtype=np.int32)}))
    local = (prep.baskets.select("basket_id", F.explode("items").alias("code")).join(F.broadcast(remap), "code")
             .groupBy("basket_id").agg(F.array_sort(F.collect_list("local")).alias("items"))
             .withColumn("w", F.lit(1.0)).cache())
    pairs, _ = count_pairs(Prepared(local, prep.item_ids, n, 0, float(n), None), threshold)
    got = pairs.select("a", "b", "n_ab").toPandas()
    rows = np.stack([got["a"].to_numpy(np.int32), got["b"].to_numpy(np.int32)], axis=1).reshape(-1, 2)
    order = np.lexsort(rows.T[::-1])
    rows, counts = rows[order], got["n_ab"].to_numpy(np.int64)[order]
    local_levels = [(np.arange(len(frequent), dtype=np.int32).reshape(-1, 1), item_counts[frequent]), (rows, counts)]
    if max_len > 2 and len(rows):
        baskets = local.where(F.size("items") >= 3).select("items").cache()
        try:
            for k in range(3, max_len + 1):
                cand = candidates(rows, len(frequent))
                if len(cand) > max_candidates:
                    raise ResourceLimitError(f"{len(cand):,} candidate itemsets of length {k} (limit "
                                             f"{max_candidates:,}); raise min_support or lower max_len to {k - 1}")
                if not len(cand):
                    break
                bc = spark.sparkContext.broadcast(cand)
                n_f = len(frequent)
                partial = baskets.mapInPandas(lambda it, bc=bc, n_f=n_f: _count_batches(it, bc, n_f),
                                              "cid long, n long")
                summed = partial.groupBy("cid").agg(F.sum("n").alias("n")).where(F.col("n") >= threshold).toPandas()
                bc.unpersist()
                cid = np.sort(summed["cid"].to_numpy(np.int64))
                by_cid = dict(zip(summed["cid"].tolist(), summed["n"].tolist(), strict=True))
                rows = cand[cid]
                counts = np.fromiter((by_cid[c] for c in cid.tolist()), dtype=np.int64, count=len(cid))
                log.info("spark: length %d: %d candidates, %d frequent", k, len(cand), len(rows))
                if not len(rows):
                    break
                local_levels.append((rows, counts))
        finally:
            baskets.unpersist()
    local.unpersist()
    levels = [(frequent[r], c) for r, c in local_levels]
    return Itemsets(prep.item_ids, n, threshold, levels)


class SparkAssociationRules:
    """Association rules on Spark: :class:`~bundlewise.mining.AssociationRules`' parameters and results.

    Parameters
    ----------
    min_support, min_confidence, min_lift, min_len, max_len
        As :class:`~bundlewise.mining.AssociationRules` (arules semantics, inclusive thresholds).
    max_consequent : int
        Most products on the right-hand side (1 = arules' rules; more: see
        :func:`~bundlewise.spark.rules.find_rules_multi`).
    query : BasketQuery, optional
        Segments, stores, customers, dates of the baskets to mine.

    Attributes
    ----------
    itemsets_ : Itemsets
    rules_ : pandas DataFrame
        The columns of :data:`~bundlewise.mining.association.RULE_COLUMNS`.
    n_baskets_ : int
    """

    def __init__(self, min_support: float = 0.1, min_confidence: float = 0.8, min_lift: float | None = None,
                 min_len: int = 1, max_len: int = 10, max_consequent: int = 1, query: BasketQuery | None = None,
                 memory_budget: int | None = None):
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_lift = min_lift
        self.min_len = min_len
        self.max_len = max_len
        self.max_consequent = max_consequent
        self.query = query
        self.memory_budget = memory_budget

    def fit(self, lines: Any) -> SparkAssociationRules:
        """Mine the itemsets (on Spark) and rules (on the driver, from the itemsets) of the basket lines."""
        from bundlewise.mining.association import find_rules
        from bundlewise.spark.rules import find_rules_multi

        check_fraction("min_support", self.min_support)
        check_fraction("min_confidence", self.min_confidence)
        check_positive("min_lift", self.min_lift, none_ok=True)
        check_lengths(self.min_len, self.max_len)
        check_int("max_consequent", self.max_consequent, 1)
        self.itemsets_ = spark_frequent_itemsets(lines, self.min_support, max_len=self.max_len, query=self.query)
        if self.max_consequent == 1:
            self.rule_table_ = find_rules(self.itemsets_, self.min_confidence, min_lift=self.min_lift,
                                          min_len=self.min_len, max_len=self.max_len, memory_budget=self.memory_budget)
            self._frame = None
        else:
            self.rule_table_ = None
            self._frame = find_rules_multi(self.itemsets_, self.min_confidence, min_lift=self.min_lift,
                                           min_len=self.min_len, max_len=self.max_len,
                                           max_consequent=self.max_consequent)
        self.__dict__.pop("rules_", None)
        self.n_baskets_ = self.itemsets_.n_baskets
        return self

    @cached_property
    def rules_(self) -> Any:
        return self._frame if self.rule_table_ is None else self.rule_table_.to_frame()

    def write_parquet(self, spark: Any, path: str | Path, mode: str = "errorifexists") -> None:
        """The rules as Parquet through Spark (any filesystem Spark reaches): ``rule_id`` (the row, best first),
        list columns for the item sets, then the measures; what :func:`~bundlewise.spark.apply.apply_rules` reads."""
        from bundlewise.spark.apply import rules_to_spark

        rules = self.rules_
        extra = rules[["count", "coverage", "leverage", "conviction"]].reset_index(drop=True)
        extra.insert(0, "rule_id", range(len(rules)))
        table = rules_to_spark(spark, rules).join(spark.createDataFrame(extra), "rule_id")
        table.orderBy("rule_id").write.mode(mode).parquet(str(path))
