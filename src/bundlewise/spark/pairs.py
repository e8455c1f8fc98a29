"""Co-purchase statistics of every product pair on Spark: ``SparkCoPurchaseStats``.

The same numbers as :class:`~bundlewise.mining.CoPurchaseStats` (counts exact, floats to rounding):

* counting runs in Spark — each basket's sorted product codes are exploded into its pairs
  (``a < b``) and summed by pair, with Spark's map-side partial aggregation, so no executor holds
  more than its share of the pairs;
* the rates are :mod:`bundlewise.mining.metrics`' own numpy functions, applied on the executors
  (``mapInPandas``) to each batch of counted pairs; the Fisher test is the kernel's algorithm in
  numpy (:mod:`bundlewise.spark._fisher`), so executors need no compiled bundlewise;
* Benjamini-Hochberg q-values rank all p-values at once (one sorted window: the pairs that pass
  ``min_count`` are far fewer than the baskets; docs/spark.md sizes it).

Examples
--------
>>> from bundlewise.spark import SparkCoPurchaseStats  # doctest: +SKIP
>>> stats = SparkCoPurchaseStats(min_count=5).fit(lines)  # doctest: +SKIP
>>> stats.pair_stats().write.parquet("pairs.parquet")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise.mining._validate import check_int, check_positive
from bundlewise.mining.source import BasketQuery
from bundlewise.spark.baskets import Prepared, prepare

log = logging.getLogger(__name__)

_FLOAT_COLUMNS = ("support", "confidence_ab", "confidence_ba", "lift", "leverage", "conviction_ab", "conviction_ba",
                  "jaccard", "cosine", "npmi", "shrunk_lift", "p_value", "neg_log10_p")
STATS_SCHEMA = ("a int, b int, item_a string, item_b string, n_ab long, n_a long, n_b long, "
                + ", ".join(f"{c} double" for c in _FLOAT_COLUMNS))
COLUMNS = ("item_a", "item_b", "n_ab", "n_a", "n_b", "support", "confidence_ab", "confidence_ba", "lift", "leverage",
           "conviction_ab", "conviction_ba", "jaccard", "cosine", "npmi", "shrunk_lift", "p_value", "neg_log10_p",
           "q_value")
# one basket's pairs a < b from its sorted codes (1-based slice, 0-based [])
_EXPLODE = ("explode(flatten(transform(sequence(1, size(items) - 1), i -> transform(slice(items, i + 1, "
            "size(items) - i), x -> named_struct('a', items[i - 1], 'b', x))))) AS pair")


def _exact_sum(column: str, weighted: bool) -> Any:
    """Sum of decay weights that does not depend on the order Spark adds them in: exact in DECIMAL(38, 28), then
    rounded once. A pair always bought with b then has w_ab == w_b exactly, as in the embedded engine (whose
    sums run over the same baskets in the same order), so confidence is 1 and conviction infinite in both."""
    from pyspark.sql import functions as F

    if not weighted:  # weights of 1.0: float sums of integers are exact anyway
        return F.sum(column)
    return F.sum(F.col(column).cast("decimal(38,28)")).cast("double")


def count_pairs(prepared: Prepared, min_count: int = 1) -> tuple[Any, Any]:
    """(pairs, items) Spark DataFrames: ``a, b, n_ab, w_ab`` for pairs in >= ``min_count`` baskets and
    ``code, n, w`` per product."""
    from pyspark.sql import functions as F

    baskets = prepared.baskets
    weighted = prepared.reference_time is not None
    items = (baskets.select(F.explode("items").alias("code"), "w")
             .groupBy("code").agg(F.count("*").alias("n"), _exact_sum("w", weighted).alias("w")))
    pairs = (baskets.where(F.size("items") >= 2).select("w", F.expr(_EXPLODE))
             .select(F.col("pair.a").alias("a"), F.col("pair.b").alias("b"), "w")
             .groupBy("a", "b").agg(F.count("*").alias("n_ab"), _exact_sum("w", weighted).alias("w_ab")))
    if min_count > 1:
        pairs = pairs.where(F.col("n_ab") >= min_count)
    return pairs, items


def _metrics_batches(batches, items, n_baskets: int, total_weight: float,  # type: ignore[no-untyped-def]
                     prior: float):
    """mapInPandas body: every metric of each batch of counted pairs, by the embedded engine's formulas.

    ``items`` is a broadcast of (ids, counts, weights) by code: products are few next to pairs.
    """
    import pandas as pd

    from bundlewise.mining import metrics
    from bundlewise.spark._fisher import hypergeom_logsf

    ids, counts, weights = items.value
    for df in batches:
        a, b = df["a"].to_numpy(np.int32), df["b"].to_numpy(np.int32)
        n_ab = df["n_ab"].to_numpy(np.int64)
        ia, ib = counts[a], counts[b]
        wab, wa, wb = df["w_ab"].to_numpy(np.float64), weights[a], weights[b]
        wn = total_weight
        log_p = hypergeom_logsf(n_ab, ia, ib, n_baskets)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            yield pd.DataFrame({
                "a": a, "b": b, "item_a": ids[a], "item_b": ids[b], "n_ab": n_ab, "n_a": ia, "n_b": ib,
                "support": metrics.support(wab, wn),
                "confidence_ab": metrics.confidence(wab, wa), "confidence_ba": metrics.confidence(wab, wb),
                "lift": metrics.lift(wab, wa, wb, wn), "leverage": metrics.leverage(wab, wa, wb, wn),
                "conviction_ab": metrics.conviction(wab, wa, wb, wn),
                "conviction_ba": metrics.conviction(wab, wb, wa, wn),
                "jaccard": metrics.jaccard(wab, wa, wb), "cosine": metrics.cosine(wab, wa, wb),
                "npmi": metrics.npmi(wab, wa, wb, wn), "shrunk_lift": metrics.shrunk_lift(wab, wa, wb, wn, prior),
                "p_value": np.exp(log_p), "neg_log10_p": -log_p / np.log(10.0)})


class SparkCoPurchaseStats:
    """Co-purchase statistics of every pair seen together in >= ``min_count`` baskets, counted on Spark.

    Parameters are :class:`~bundlewise.mining.CoPurchaseStats`' (``min_count``, ``half_life_days``,
    ``max_basket_size``, ``prior``, ``reference_time``) plus ``query``, a
    :class:`~bundlewise.mining.BasketQuery` (segments, stores, customers, ``[since, until)``) applied
    by Spark to the basket lines.

    Attributes
    ----------
    pairs_ : Spark DataFrame
        Counted pairs (``a, b, n_ab, w_ab``, cached).
    item_counts_, item_weights_ : arrays by code
        Baskets (and summed weights) holding each product.
    item_ids_ : array of str
        Sorted vocabulary; codes index it.
    n_baskets_, n_dropped_baskets_ : int
    total_weight_ : float
    reference_time_ : datetime64 or None
    """

    def __init__(self, min_count: int = 2, half_life_days: float | None = None, max_basket_size: int | None = None,
                 prior: float = 5.0, reference_time: Any = None, query: BasketQuery | None = None):
        self.min_count = min_count
        self.half_life_days = half_life_days
        self.max_basket_size = max_basket_size
        self.prior = prior
        self.reference_time = reference_time
        self.query = query

    def fit(self, lines: Any) -> SparkCoPurchaseStats:
        """Count every product and pair of the basket lines (a Spark DataFrame, see :mod:`bundlewise.spark.baskets`)."""
        check_int("min_count", self.min_count, 1)
        check_positive("half_life_days", self.half_life_days, none_ok=True)
        check_int("max_basket_size", self.max_basket_size, 2, none_ok=True)
        check_positive("prior", self.prior)
        spark = lines.sparkSession
        prep = prepare(spark, lines, query=self.query, max_basket_size=self.max_basket_size,
                       half_life_days=self.half_life_days, reference_time=self.reference_time)
        pairs, items = count_pairs(prep, self.min_count)
        self.pairs_ = pairs.cache()
        self.item_ids_ = prep.item_ids
        # products are few (a catalogue), pairs many: the per-product numbers live on the driver
        got = items.toPandas()
        self.item_counts_ = np.zeros(len(prep.item_ids), dtype=np.int64)
        self.item_weights_ = np.zeros(len(prep.item_ids), dtype=np.float64)
        codes = got["code"].to_numpy(np.int64)
        self.item_counts_[codes] = got["n"].to_numpy(np.int64)
        self.item_weights_[codes] = got["w"].to_numpy(np.float64)
        self.n_baskets_, self.n_dropped_baskets_ = prep.n_baskets, prep.n_dropped
        self.total_weight_, self.reference_time_ = prep.total_weight, prep.reference_time
        self.n_items_ = int((self.item_counts_ > 0).sum())  # products in >= 1 kept basket (the BH family)
        log.info("spark: pairs counted over %d baskets (%d dropped by the size cap), %d products", self.n_baskets_,
                 self.n_dropped_baskets_, self.n_items_)
        return self

    def pair_stats(self) -> Any:
        """Every counted pair with all metrics: a Spark DataFrame with the columns of
        :meth:`bundlewise.mining.CoPurchaseStats.pair_stats` (plus codes ``a``, ``b``), unordered."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        if not hasattr(self, "pairs_"):
            from bundlewise.errors import NotFittedError

            raise NotFittedError("this SparkCoPurchaseStats is not fitted yet; call fit(lines) first")
        spark = self.pairs_.sparkSession
        items = spark.sparkContext.broadcast((self.item_ids_.astype(str).astype(object), self.item_counts_,
                                              self.item_weights_))
        n, wn, prior = self.n_baskets_, self.total_weight_, float(self.prior)
        stats = self.pairs_.mapInPandas(lambda it: _metrics_batches(it, items, n, wn, prior), STATS_SCHEMA)
        # every counted pair joins two counted products, so the family (all pairs of them) is never smaller
        family = self.n_items_ * (self.n_items_ - 1) // 2
        # BH: rank by p, then the running minimum of p m / rank from the largest rank down
        by_p = Window.orderBy("p_value", "a", "b")
        ranked = stats.withColumn("rank", F.row_number().over(by_p))
        ranked = ranked.withColumn("bh", F.col("p_value") * F.lit(float(family)) / F.col("rank").cast("double"))
        down = Window.orderBy(F.col("rank").desc()).rowsBetween(Window.unboundedPreceding, Window.currentRow)
        with_q = ranked.withColumn("q_value", F.least(F.min("bh").over(down), F.lit(1.0))).drop("rank", "bh")
        return with_q.select("a", "b", *COLUMNS)

    def to_pandas(self) -> Any:
        """:meth:`pair_stats` collected, ordered and typed as the embedded engine's ``pair_stats()``."""
        df = self.pair_stats().orderBy("a", "b").toPandas()
        df = df.drop(columns=["a", "b"]).reset_index(drop=True)
        for c in ("n_ab", "n_a", "n_b"):
            df[c] = df[c].astype(np.int64)
        return df

    def write_parquet(self, path: str | Path, mode: str = "errorifexists") -> None:
        """Write :meth:`pair_stats` as Parquet (a folder of parts), ordered by pair."""
        self.pair_stats().orderBy("a", "b").drop("a", "b").write.mode(mode).parquet(str(path))
