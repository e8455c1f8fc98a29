"""Exact co-purchase statistics of every product pair (the ``CoPurchaseStats`` estimator).

Counts are exact (no sampling, no dense matrix): the native kernel walks the sparse
incidence item by item. With ``half_life_days`` each basket weighs
``0.5 ** (age / half_life)`` and support, confidence, lift and the other rates use the
weighted counts, while the significance test keeps the raw integer counts (a p-value needs
real baskets, not fractions of them).

Examples
--------
>>> from bundlewise.mining import Baskets, CoPurchaseStats
>>> baskets = Baskets.from_lists([["tea", "milk"], ["tea", "milk", "jam"], ["jam"], ["tea"]])
>>> stats = CoPurchaseStats(min_count=1).fit(baskets).pair_stats()
>>> stats[["item_a", "item_b", "n_ab", "lift"]].round(3).values.tolist()
[['jam', 'milk', 1, 1.0], ['jam', 'tea', 1, 0.667], ['milk', 'tea', 2, 1.333]]

As a recommender the ranking metric is a parameter; :meth:`CoPurchaseStats.with_metric` ranks the
same counts by another one without counting again:

>>> model = CoPurchaseStats(min_count=1, metric="count").fit(baskets)
>>> model.recommend(["tea"], k=2)[0].tolist()
[['milk', 'jam']]
>>> model.with_metric("confidence").recommend(["jam"], k=2)[1].round(2).tolist()
[[0.5, 0.5]]
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError, allowed
from bundlewise.mining import _native, guards, metrics
from bundlewise.mining._validate import check_int, check_positive
from bundlewise.mining.baskets import Baskets, decay_weights
from bundlewise.recommend import Recommender, catalog_ids

log = logging.getLogger(__name__)

RANK_METRICS = ("lift", "shrunk_lift", "confidence", "npmi", "jaccard", "cosine", "leverage", "count")


class CoPurchaseStats(Recommender):
    """Co-purchase statistics for every product pair seen together in >= ``min_count`` baskets.

    Parameters
    ----------
    min_count : int
        Pairs seen in fewer baskets are left out of :meth:`pair_stats` (they are still
        counted, so :meth:`partial_fit` stays exact).
    half_life_days : float, optional
        Time decay: a basket ``half_life_days`` older than the newest weighs half.
    max_basket_size : int, optional
        Baskets with more distinct products are left out. A basket of s products adds
        s(s-1)/2 pair occurrences, so a few wholesale orders of hundreds of lines can
        outweigh thousands of ordinary baskets: on Online Retail a cap of 100 drops 3.2% of
        the invoices but 27% of the lines and 76% of the pair occurrences (bench/README.md).
    prior : float
        Pseudo-baskets of the shrinkage prior of :func:`~bundlewise.mining.metrics.shrunk_lift`.
    reference_time : datetime-like, optional
        The "now" of time decay (default: the newest basket).
    n_threads : int, optional
        Native threads (default: all available CPUs).
    memory_budget : int, optional
        Bytes the counting and :meth:`pair_stats` may plan to use (default 2 GiB; None = no
        limit). Estimated from the basket sizes before any work; beyond it
        :class:`~bundlewise.errors.ResourceLimitError` says which ``max_basket_size`` (or
        ``min_count``) fits and what it drops.
    metric : str
        How :meth:`recommend` ranks partners: one of ``lift``, ``shrunk_lift``, ``confidence``
        (P(partner | product), directional), ``npmi``, ``jaccard``, ``cosine``, ``leverage``,
        ``count``. Pairs seen in fewer than ``min_count`` baskets are never recommended.
    """

    def __init__(self, min_count: int = 2, half_life_days: float | None = None, max_basket_size: int | None = None,
                 prior: float = 5.0, reference_time: Any = None, n_threads: int | None = None,
                 memory_budget: int | None = guards.DEFAULT_MEMORY_BUDGET, metric: str = "lift"):
        self.metric = metric
        self.min_count = min_count
        self.half_life_days = half_life_days
        self.max_basket_size = max_basket_size
        self.prior = prior
        self.reference_time = reference_time
        self.n_threads = n_threads
        self.memory_budget = memory_budget

    # -- fitting ---------------------------------------------------------------------
    def _check_params(self) -> None:
        check_int("min_count", self.min_count, 1)
        check_positive("half_life_days", self.half_life_days, none_ok=True)
        check_int("max_basket_size", self.max_basket_size, 2, none_ok=True)
        check_positive("prior", self.prior)
        check_int("n_threads", self.n_threads, 1, none_ok=True)
        guards.check_memory_budget("memory_budget", self.memory_budget)
        _check_metric(self.metric)

    def _check_memory(self, baskets: Baskets, extra_bytes: int = 0) -> None:
        guards.check_pair_memory(baskets, self.memory_budget, weighted=self.half_life_days is not None,
                                 n_threads=self.n_threads or _native.default_threads(), extra_bytes=extra_bytes)

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> CoPurchaseStats:
        """Count every item and item pair of ``baskets``.

        ``catalog`` (a ``product_id`` column), when given, widens the vocabulary: its products that
        never sold are known, with no partners, instead of unknown.
        """
        self._check_params()
        if catalog is not None:
            baskets = baskets.with_vocabulary(catalog_ids(baskets, catalog))
        baskets, n_dropped = baskets.cap_size(self.max_basket_size)
        self._check_memory(baskets)
        weights, ref = self._weights(baskets, None)
        self.item_ids_ = baskets.item_ids
        self.n_baskets_ = baskets.n_baskets
        self.n_dropped_baskets_ = n_dropped
        self.item_counts_ = baskets.item_counts()
        self.reference_time_ = ref
        self.total_weight_ = float(weights.sum()) if weights is not None else float(baskets.n_baskets)
        self.item_weights_ = (np.bincount(baskets.indices, weights=np.repeat(weights, baskets.sizes()),
                                          minlength=baskets.n_items) if weights is not None
                              else self.item_counts_.astype(np.float64))
        a, b, n, w = _native.pair_counts(baskets.indptr, baskets.indices, baskets.n_items, weights,
                                         1, self.n_threads)
        self.pair_a_, self.pair_b_, self.pair_n_ = a, b, n
        self.pair_w_ = w  # summed decay weights; None without decay (the counts are the weights)
        self.reindex()
        log.info("counted %d item pairs over %d baskets (%d dropped by the size cap)", len(a), self.n_baskets_,
                 n_dropped)
        return self

    def partial_fit(self, baskets: Baskets) -> CoPurchaseStats:
        """Add new baskets to the counts; the result equals a :meth:`fit` on all baskets.

        With time decay the old sums are first aged to the new reference time (exact,
        since exponential decay multiplies). New products join the vocabulary.
        """
        if not hasattr(self, "item_ids_"):
            return self.fit(baskets)
        self._check_params()
        baskets, n_dropped = baskets.cap_size(self.max_basket_size)
        # merging rebuilds keys, their sort and the summed counts over the old pairs as well
        self._check_memory(baskets, guards.MERGE_PAIR_BYTES * len(self.pair_a_))
        vocab = np.union1d(self.item_ids_.astype(str), baskets.item_ids.astype(str)).astype(object)
        old_remap = np.searchsorted(vocab, self.item_ids_.astype(str)).astype(np.int32)
        new = baskets.with_vocabulary(vocab)
        weights, ref = self._weights(new, self.reference_time_)
        scale = 1.0
        if self.half_life_days is not None and ref is not None and self.reference_time_ is not None:
            age_days = (ref - self.reference_time_).astype(np.float64) / 86_400e6
            scale = 0.5 ** (age_days / self.half_life_days)
        n_items = len(vocab)
        item_counts = np.zeros(n_items, dtype=np.int64)
        item_counts[old_remap] = self.item_counts_
        item_counts += new.item_counts()
        item_weights = np.zeros(n_items, dtype=np.float64)
        item_weights[old_remap] = self.item_weights_ * scale
        item_weights += (np.bincount(new.indices, weights=np.repeat(weights, new.sizes()), minlength=n_items)
                         if weights is not None else new.item_counts())
        a, b, n, w = _native.pair_counts(new.indptr, new.indices, n_items, weights, 1, self.n_threads)
        keys = np.concatenate([old_remap[self.pair_a_].astype(np.int64) * n_items + old_remap[self.pair_b_],
                               a.astype(np.int64) * n_items + b])
        uniq, inverse = np.unique(keys, return_inverse=True)
        pair_n = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(pair_n, inverse, np.concatenate([self.pair_n_, n]))
        self.pair_n_ = pair_n.astype(np.int32)
        if self.pair_w_ is not None:
            self.pair_w_ = np.bincount(inverse, weights=np.concatenate([self.pair_w_ * scale, w]),
                                       minlength=len(uniq))
        self.pair_a_ = (uniq // n_items).astype(np.int32)
        self.pair_b_ = (uniq % n_items).astype(np.int32)
        self.item_ids_ = vocab
        self.item_counts_ = item_counts
        self.item_weights_ = item_weights
        self.n_baskets_ += new.n_baskets
        self.n_dropped_baskets_ += n_dropped
        self.total_weight_ = self.total_weight_ * scale + (float(weights.sum()) if weights is not None
                                                           else float(new.n_baskets))
        self.reference_time_ = ref
        self.reindex()
        return self

    def _weights(self, baskets: Baskets, previous_ref: Any) -> tuple[np.ndarray | None, Any]:
        """Decay weights and the reference time ("now"): the fixed one, else the newest basket seen."""
        if self.half_life_days is None:
            return None, None
        if baskets.timestamps is None:
            raise ConfigError("time decay (half_life_days) needs basket timestamps; these baskets have none")
        reference = self.reference_time
        if reference is None:
            seen = [t for t in (previous_ref, baskets.timestamps.max() if baskets.n_baskets else None)
                    if t is not None]
            reference = max(seen) if seen else None
        return decay_weights(baskets.timestamps, self.half_life_days, reference)

    # -- results ---------------------------------------------------------------------
    def pair_stats(self, min_count: int | None = None) -> pd.DataFrame:
        """Every pair seen in >= ``min_count`` baskets (default: the estimator's) with all metrics.

        Returns
        -------
        DataFrame
            One row per unordered pair (``item_a`` < ``item_b``): counts ``n_ab``, ``n_a``,
            ``n_b``, then ``support``, ``confidence_ab`` (a → b), ``confidence_ba``, ``lift``,
            ``leverage``, ``conviction_ab``, ``conviction_ba``, ``jaccard``, ``cosine``, ``npmi``,
            ``shrunk_lift``, ``p_value`` (one-sided Fisher), ``neg_log10_p`` (its -log10, finite
            where p underflows to 0) and ``q_value`` (Benjamini–Hochberg over all possible pairs
            of the vocabulary).
        """
        self._check_fitted()
        threshold = self.min_count if min_count is None else min_count
        check_int("min_count", threshold, 1)
        guards.check_stats_rows(self.pair_n_, threshold, self.memory_budget)
        keep = self.pair_n_ >= threshold
        a, b, n_ab = self.pair_a_[keep], self.pair_b_[keep], self.pair_n_[keep]
        ia, ib = self.item_counts_[a], self.item_counts_[b]
        wab = self._pair_weights(keep)
        wa, wb, wn = self.item_weights_[a], self.item_weights_[b], self.total_weight_
        log_p = metrics.fisher_log_p_value(n_ab, ia, ib, self.n_baskets_)
        p = np.exp(log_p)
        n_items = int((self.item_counts_ > 0).sum())
        family = max(n_items * (n_items - 1) // 2, len(p))
        return pd.DataFrame({
            "item_a": self.item_ids_[a], "item_b": self.item_ids_[b],
            "n_ab": n_ab.astype(np.int64), "n_a": ia, "n_b": ib,
            "support": metrics.support(wab, wn),
            "confidence_ab": metrics.confidence(wab, wa), "confidence_ba": metrics.confidence(wab, wb),
            "lift": metrics.lift(wab, wa, wb, wn), "leverage": metrics.leverage(wab, wa, wb, wn),
            "conviction_ab": metrics.conviction(wab, wa, wb, wn), "conviction_ba": metrics.conviction(wab, wb, wa, wn),
            "jaccard": metrics.jaccard(wab, wa, wb), "cosine": metrics.cosine(wab, wa, wb),
            "npmi": metrics.npmi(wab, wa, wb, wn), "shrunk_lift": metrics.shrunk_lift(wab, wa, wb, wn, self.prior),
            "p_value": p, "neg_log10_p": -log_p / np.log(10.0), "q_value": metrics.bh_q_values(p, family),
        })

    def with_metric(self, metric: str, min_count: int | None = None) -> CoPurchaseStats:
        """The same fitted counts ranked by ``metric`` (and ``min_count``): a fitted copy, no recount.

        The copy shares the count arrays with ``self`` (read-only: a :meth:`partial_fit` of either
        replaces its own arrays and leaves the other as it was). Returns ``self`` when nothing changes.
        """
        self._check_fitted()
        min_count = self.min_count if min_count is None else min_count
        _check_metric(metric)
        check_int("min_count", min_count, 1)
        if metric == self.metric and min_count == self.min_count and getattr(self, "_index", None) is not None:
            return self
        other = copy.copy(self)
        other.metric, other.min_count = metric, min_count
        other.reindex()
        return other

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        index = getattr(self, "_index", None)  # set by fit; rebuilt (not stored) for hand-assembled stats
        indptr, partners, scores = index if index is not None else self._neighbor_index()
        top = np.full((len(codes), k), -1, dtype=np.int64)
        out = np.full((len(codes), k), np.nan)
        for row, code in enumerate(codes):
            s, e = indptr[code], indptr[code + 1]
            p, sc = partners[s:e], scores[s:e]
            if allowed is not None:
                keep = allowed[p]
                p, sc = p[keep], sc[keep]
            best = np.lexsort((p, -sc))[:k]
            top[row, : len(best)] = p[best]
            out[row, : len(best)] = sc[best]
        return top, out

    def _pair_weights(self, keep: np.ndarray) -> np.ndarray:
        return self.pair_w_[keep] if self.pair_w_ is not None else self.pair_n_[keep].astype(np.float64)

    def reindex(self) -> None:
        """Rebuild the partner lists :meth:`recommend` reads (after fitted arrays were set by hand)."""
        self._index = self._neighbor_index()

    def _neighbor_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each product's partners and their scores by ``metric`` (CSR by query code), pairs >= ``min_count``."""
        metric = self.metric
        keep = self.pair_n_ >= self.min_count
        a, b = self.pair_a_[keep], self.pair_b_[keep]
        n_ab, wab = self.pair_n_[keep], self._pair_weights(keep)
        wa, wb, wn = self.item_weights_[a], self.item_weights_[b], self.total_weight_
        if metric == "confidence":  # directional: the score of partner b for query a is P(b | a)
            s_ab, s_ba = metrics.confidence(wab, wa), metrics.confidence(wab, wb)
        else:
            s_ab = s_ba = _symmetric_score(metric, n_ab, wab, wa, wb, wn, self.prior)
        query = np.concatenate([a, b])
        partner = np.concatenate([b, a])
        score = np.concatenate([s_ab, s_ba])
        order = np.argsort(query, kind="stable")
        indptr = np.zeros(len(self.item_ids_) + 1, dtype=np.int64)
        np.cumsum(np.bincount(query, minlength=len(self.item_ids_)), out=indptr[1:])
        return indptr, partner[order], score[order]


def _check_metric(metric: object) -> None:
    if metric not in RANK_METRICS:
        raise ConfigError(f"metric is {metric!r}; allowed metrics are {allowed(RANK_METRICS)}")


def _symmetric_score(metric: str, n_ab: np.ndarray, wab: np.ndarray, wa: np.ndarray, wb: np.ndarray, wn: float,
                     prior: float) -> np.ndarray:
    if metric == "lift":
        return metrics.lift(wab, wa, wb, wn)
    if metric == "shrunk_lift":
        return metrics.shrunk_lift(wab, wa, wb, wn, prior)
    if metric == "npmi":
        return metrics.npmi(wab, wa, wb, wn)
    if metric == "jaccard":
        return metrics.jaccard(wab, wa, wb)
    if metric == "cosine":
        return metrics.cosine(wab, wa, wb)
    if metric == "leverage":
        return metrics.leverage(wab, wa, wb, wn)
    return n_ab.astype(np.float64)  # "count"
