"""Count-based baselines: random (the floor), popularity and SAR-style co-occurrence.

These are what a user would otherwise run; they are tuned on the validation block by
:mod:`bundlewise.evaluation.tuning` like every other model, never left at strawman defaults.

Examples
--------
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["tea", "milk"], ["tea", "milk", "jam"], ["tea", "jam"], ["tea"]])
>>> Popularity().fit(b).recommend(["milk"], k=2)[0].tolist()
[['tea', 'jam']]
>>> CoOccurrence(metric="confidence", min_count=1).fit(b).recommend(["jam"], k=2)[0].tolist()
[['tea', 'milk']]
"""

from __future__ import annotations

import logging
import zlib

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError, allowed
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.copurchase import RANK_METRICS, CoPurchaseStats
from bundlewise.recommend import Recommender, catalog_ids

log = logging.getLogger(__name__)


class RandomRanker(Recommender):
    """A uniformly random ranking of the catalogue per product (seeded): the floor every model must clear.

    Parameters
    ----------
    random_state : int
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> RandomRanker:
        self.item_ids_ = catalog_ids(baskets, catalog)
        return self

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.item_ids_)
        top = np.full((len(codes), k), -1, dtype=np.int64)
        for row, code in enumerate(codes):
            # one stream per (seed, product): the list of a product never depends on the other queries
            rng = np.random.default_rng([self.random_state, zlib.crc32(str(self.item_ids_[code]).encode())])
            perm = rng.permutation(n)
            perm = perm[perm != code]
            if allowed is not None:
                perm = perm[allowed[perm]]
            perm = perm[:k]
            top[row, : len(perm)] = perm
        scores = np.where(top >= 0, -np.arange(k, dtype=np.float64)[None, :], np.nan)
        return top, scores


class Popularity(Recommender):
    """The best sellers of the training baskets, the same for every product (minus the product itself)."""

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> Popularity:
        ids = catalog_ids(baskets, catalog)
        counts = np.zeros(len(ids), dtype=np.float64)
        counts[np.searchsorted(ids.astype(str), baskets.item_ids.astype(str))] = baskets.item_counts()
        self.item_ids_ = ids
        self.counts_ = counts
        self.order_ = np.lexsort((np.arange(len(ids)), -counts))
        self.order_ = self.order_[counts[self.order_] > 0]
        return self

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        order = self.order_ if allowed is None else self.order_[allowed[self.order_]]
        head = order[: k + 1]
        top = np.full((len(codes), k), -1, dtype=np.int64)
        for row, code in enumerate(codes):
            lst = head[head != code][:k]
            top[row, : len(lst)] = lst
        return top, np.where(top >= 0, self.counts_[np.maximum(top, 0)], np.nan)


class CoOccurrence(Recommender):
    """SAR-style item-to-item co-occurrence from the mining stage's exact counts.

    Parameters
    ----------
    metric : str
        Any of :data:`bundlewise.mining.copurchase.RANK_METRICS` — ``confidence`` is SAR's conditional
        probability, ``lift`` favours discoverability, ``jaccard`` sits between, ``shrunk_lift``
        is lift pulled toward 1 for pairs seen in few baskets.
    min_count : int
        Pairs seen together in fewer baskets are ignored.
    half_life_days : float, optional
        Time decay of the counts (SAR's time-decayed affinity).
    backfill : bool
        Fill lists shorter than ``k`` with best sellers (scored below every co-occurrence partner).
    max_basket_size : int, optional
        Ignore larger baskets when counting.
    """

    def __init__(self, metric: str = "confidence", min_count: int = 1, half_life_days: float | None = None,
                 backfill: bool = True, max_basket_size: int | None = None):
        self.metric = metric
        self.min_count = min_count
        self.half_life_days = half_life_days
        self.backfill = backfill
        self.max_basket_size = max_basket_size

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> CoOccurrence:
        if self.metric not in RANK_METRICS:
            raise ConfigError(f"metric is {self.metric!r}; allowed metrics are {allowed(RANK_METRICS)}")
        # counted over the same universe, so the stats' codes are this model's codes
        self.stats_ = CoPurchaseStats(min_count=self.min_count, metric=self.metric,
                                      half_life_days=self.half_life_days,
                                      max_basket_size=self.max_basket_size).fit(baskets, catalog)
        self.popularity_ = Popularity().fit(baskets, catalog)
        self.item_ids_ = self.stats_.item_ids_
        return self

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        top, scores = self.stats_._rank(codes, k, allowed)
        present = top >= 0
        if self.backfill:
            pop_top, _ = self.popularity_._rank(codes, k + k, allowed)
            floor = np.nanmin(scores, axis=1, initial=0.0) if scores.size else np.zeros(len(codes))
            for row in range(len(codes)):
                n_have = int(present[row].sum())
                if n_have == k:
                    continue
                extra = pop_top[row][~np.isin(pop_top[row], top[row, :n_have])]
                extra = extra[extra >= 0][: k - n_have]
                top[row, n_have: n_have + len(extra)] = extra
                # below every real partner, in popularity order
                scores[row, n_have: n_have + len(extra)] = floor[row] - 1.0 - np.arange(len(extra)) / (k + 1)
        return top, scores
