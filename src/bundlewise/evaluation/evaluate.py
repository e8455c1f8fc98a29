"""Score any recommender on the frequently-bought-together task of an :class:`EvalSplit`.

For every basket of the scored block and every product ``i`` in it (an *event*), the model
ranks the catalogue for ``i`` and is judged on the basket's other products. Lists are asked
once per distinct product (``recommend(unique_ids, max_rank)``) and hits are found by one
vectorised membership test, so a whole block costs one ``recommend`` call plus array work.

Events are reported for *warm* products (seen in training) and *cold-start* products
separately; confidence intervals resample whole baskets (the events of one basket are not
independent) with a seeded Poisson bootstrap.

Examples
--------
>>> import numpy as np
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["a", "b"], ["a", "b", "c"]])
>>> lists = np.array([[1, 2], [0, 2], [0, 1]])           # item code -> ranked item codes
>>> ev = score_lists(b, np.arange(3), lists)
>>> ev.recall(1).tolist()                                # a→b hit, b→a hit, ...
[1.0, 1.0, 0.5, 0.5, 0.5]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.config import EvalConfig
from bundlewise.errors import UnknownProductError
from bundlewise.evaluation import ranking
from bundlewise.evaluation.split import EvalSplit
from bundlewise.mining.baskets import Baskets

log = logging.getLogger(__name__)

CURVE_KS = (1, 2, 5, 10, 20, 50, 100)


@dataclass(frozen=True)
class Events:
    """The hit matrix of one block: one row per (basket, product) event."""

    basket: np.ndarray      # event -> basket row in the block
    query: np.ndarray       # event -> item code of the product i
    n_targets: np.ndarray   # other products in the basket
    hits: np.ndarray        # bool (n_events, max_rank)

    def recall(self, k: int) -> np.ndarray:
        return ranking.recall_at_k(self.hits, self.n_targets, k)

    def subset(self, mask: np.ndarray) -> Events:
        return Events(self.basket[mask], self.query[mask], self.n_targets[mask], self.hits[mask])


def score_lists(target: Baskets, query_codes: np.ndarray, lists: np.ndarray, chunk: int = 50_000) -> Events:
    """Hit matrix of ranked lists against the baskets of ``target``.

    Parameters
    ----------
    target : Baskets
        The scored block; every basket with at least two products yields one event per product.
    query_codes : int array, shape (q,)
        Item codes that have a list (sorted).
    lists : int array, shape (q, max_rank)
        Ranked item codes per query, ``-1`` for padding. A query's own code is ignored.
    """
    sizes = target.sizes()
    rows = np.repeat(np.arange(target.n_baskets), sizes)
    keep = np.repeat(sizes >= 2, sizes)
    ev_basket, ev_query = rows[keep], target.indices[keep].astype(np.int64)
    basket_keys = rows.astype(np.int64) * target.n_items + target.indices  # globally sorted (CSR rows sorted)
    pos = np.searchsorted(query_codes, ev_query)
    pos = np.minimum(pos, max(len(query_codes) - 1, 0))
    has_list = (len(query_codes) > 0) & (query_codes[pos] == ev_query) if len(query_codes) else \
        np.zeros(len(ev_query), dtype=bool)
    max_rank = lists.shape[1]
    hits = np.zeros((len(ev_query), max_rank), dtype=bool)
    for s in range(0, len(ev_query), chunk):
        e = slice(s, s + chunk)
        cand = lists[pos[e]]  # (c, max_rank)
        valid = (cand >= 0) & (cand != ev_query[e, None]) & has_list[e, None] & _first_occurrence(cand)
        keys = ev_basket[e, None].astype(np.int64) * target.n_items + np.where(valid, cand, 0)
        idx = np.minimum(np.searchsorted(basket_keys, keys), len(basket_keys) - 1)
        hits[e] = valid & (basket_keys[idx] == keys)
    return Events(ev_basket, ev_query, sizes[ev_basket] - 1, hits)


def _first_occurrence(rows: np.ndarray) -> np.ndarray:
    """True where an entry appears for the first time in its row (a repeated product scores once)."""
    order = np.argsort(rows, axis=1, kind="stable")
    ordered = np.take_along_axis(rows, order, axis=1)
    first_sorted = np.ones(rows.shape, dtype=bool)
    first_sorted[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    out = np.empty(rows.shape, dtype=bool)
    np.put_along_axis(out, order, first_sorted, axis=1)
    return out


def ids_to_lists(ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """Recommended product ids (object array, ``None`` padding) → item codes (``-1`` padding)."""
    flat = ids.ravel()
    present = np.array([x is not None for x in flat], dtype=bool)
    codes = np.full(len(flat), -1, dtype=np.int64)
    if present.any():
        names = flat[present].astype(str)
        pos = np.minimum(np.searchsorted(item_ids.astype(str), names), len(item_ids) - 1)
        found = item_ids[pos] == names
        sub = np.full(len(names), -1, dtype=np.int64)
        sub[found] = pos[found]
        codes[present] = sub
    return codes.reshape(ids.shape)


def model_lists(model: Any, query_ids: np.ndarray, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ask ``model`` for top-``k`` lists of the queries it knows; the others get empty lists."""
    known = np.asarray(getattr(model, "item_ids_", item_ids)).astype(str)
    answerable = np.isin(query_ids.astype(str), known)
    lists = np.full((len(query_ids), k), -1, dtype=np.int64)
    if answerable.any():
        try:
            ids, _ = model.recommend(query_ids[answerable].tolist(), k=k)
        except UnknownProductError:  # a model that knows fewer products than it lists in item_ids_
            log.warning("%s refused some queries; scoring them as empty lists", type(model).__name__)
            ids = np.full((int(answerable.sum()), k), None, dtype=object)
        lists[answerable] = ids_to_lists(ids, item_ids)
    return lists, answerable


@dataclass
class EvalResult:
    """Metrics of one model on one block, for warm and cold-start products."""

    model: str
    part: str
    metrics: pd.DataFrame      # group, metric, value, low, high, n_events
    curve: pd.DataFrame        # group, k, recall
    fit_seconds: float
    recommend_seconds: float
    params: dict[str, Any]

    def value(self, metric: str, group: str = "warm") -> float:
        row = self.metrics[(self.metrics.metric == metric) & (self.metrics.group == group)]
        return float(row.value.iloc[0]) if len(row) else float("nan")


def _metric_columns(ev: Events, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    cols = {f"recall@{k}": ev.recall(k) for k in ks}
    k0 = ks[0]
    cols[f"ndcg@{k0}"] = ranking.ndcg_at_k(ev.hits, ev.n_targets, k0)
    cols[f"hit@{k0}"] = ranking.hit_rate_at_k(ev.hits, k0)
    cols["mrr"] = ranking.reciprocal_rank(ev.hits)
    return cols


def _bootstrap(values: np.ndarray, basket: np.ndarray, n_baskets: int, n_boot: int,
               rng: np.random.Generator) -> tuple[float, float]:
    if n_boot == 0 or len(values) == 0:
        return float("nan"), float("nan")
    sums = np.bincount(basket, weights=values, minlength=n_baskets)
    counts = np.bincount(basket, minlength=n_baskets).astype(np.float64)
    used = counts > 0
    sums, counts = sums[used], counts[used]
    lo, _hi = [], []
    for s in range(0, n_boot, 200):  # blocks of replicates keep memory flat on big test blocks
        w = rng.poisson(1.0, size=(min(200, n_boot - s), len(sums))).astype(np.float64)
        means = (w @ sums) / np.maximum(w @ counts, 1e-12)
        lo.append(means)
    allm = np.concatenate(lo)
    return float(np.quantile(allm, 0.025)), float(np.quantile(allm, 0.975))


def evaluate(model: Any, split: EvalSplit, part: str = "test", *, name: str | None = None, fit: bool = True,
             bootstrap: bool = True, params: dict[str, Any] | None = None) -> EvalResult:
    """Fit ``model`` on the data allowed for ``part`` and score it there.

    Parameters
    ----------
    model : recommender
        Anything with ``fit(baskets, catalog=None)`` and ``recommend(ids, k) -> (ids, scores)``.
    split : EvalSplit
    part : {"valid", "test"}
    fit : bool
        False scores an already fitted model.
    bootstrap : bool
        Compute the 95 % intervals (tuning skips them).
    """
    cfg: EvalConfig = split.config
    fit_seconds = 0.0
    if fit:
        t0 = time.perf_counter()
        model.fit(split.fit_data(part), catalog=split.catalog_for(part))
        fit_seconds = time.perf_counter() - t0
    target = split.target(part)
    item_ids = target.item_ids
    query_codes = np.unique(target.indices[np.repeat(target.sizes() >= 2, target.sizes())])
    t0 = time.perf_counter()
    lists, _ = model_lists(model, item_ids[query_codes], item_ids, cfg.max_rank)
    recommend_seconds = time.perf_counter() - t0
    ev = score_lists(target, query_codes, lists)
    cold_mask = np.zeros(len(item_ids), dtype=bool)
    cold_mask[np.searchsorted(item_ids.astype(str), split.cold_items)] = True
    popularity = split.fit_data(part).item_counts().astype(np.float64)
    rng = np.random.default_rng(cfg.seed)
    rows, curve = [], []
    for group, mask in (("warm", ~cold_mask[ev.query]), ("cold", cold_mask[ev.query]), ("all", None)):
        sub = ev if mask is None else ev.subset(mask)
        qmask = np.isin(query_codes, np.unique(sub.query))
        for metric, values in _metric_columns(sub, cfg.ks).items():
            low, high = _bootstrap(values, sub.basket, target.n_baskets, cfg.n_bootstrap if bootstrap else 0, rng)
            rows.append((group, metric, float(values.mean()) if len(values) else float("nan"), low, high, len(values)))
        k0 = cfg.ks[0]
        rows.append((group, f"coverage@{k0}", ranking.catalog_coverage(lists[qmask], k0, len(split.catalog)),
                     float("nan"), float("nan"), len(sub.query)))
        per_event = lists[np.searchsorted(query_codes, sub.query)] if len(sub.query) else lists[:0]
        rows.append((group, f"popularity@{k0}", ranking.popularity_percentile(per_event, k0, popularity),
                     float("nan"), float("nan"), len(sub.query)))
        curve += [(group, k, float(sub.recall(k).mean()) if len(sub.query) else float("nan"))
                  for k in CURVE_KS if k <= cfg.max_rank]
    metrics = pd.DataFrame(rows, columns=["group", "metric", "value", "low", "high", "n_events"])
    return EvalResult(name or type(model).__name__, part, metrics,
                      pd.DataFrame(curve, columns=["group", "k", "recall"]), fit_seconds, recommend_seconds,
                      dict(params or {}))
