"""Ranking metrics of the frequently-bought-together task, as named vectorised functions.

Every function reads a boolean *hit matrix*: row ``e`` is one evaluation event (a product ``i``
of a test basket), column ``r`` says whether the product ranked ``r + 1`` for ``i`` is another
product of that basket. ``n_targets[e]`` is how many other products the basket holds.

Examples
--------
>>> import numpy as np
>>> hits = np.array([[False, True, False], [True, False, True]])
>>> n_targets = np.array([1, 3])
>>> recall_at_k(hits, n_targets, 2).tolist()
[1.0, 0.3333333333333333]
>>> reciprocal_rank(hits).tolist()
[0.5, 1.0]
"""

from __future__ import annotations

import numpy as np


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def recall_at_k(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Share of the basket's other products found in the top ``k``: ``|top_k ∩ T| / |T|``.

    Range [0, 1]; with more than ``k`` targets the maximum is ``k / |T|`` (the usual
    definition, kept so numbers compare with published ones).
    """
    return hits[:, :k].sum(axis=1) / np.maximum(n_targets, 1)


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """1 where at least one of the basket's other products is in the top ``k``, else 0."""
    return hits[:, :k].any(axis=1).astype(np.float64)


def ndcg_at_k(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Normalised discounted cumulative gain with binary relevance.

    ``DCG = Σ_{r<k} hit_r / log2(r + 2)``, divided by the DCG of a perfect list, which puts
    ``min(|T|, k)`` hits first. Range [0, 1]; equals scikit-learn's ``ndcg_score(k=k)`` on
    0/1 relevance over a full ranking.
    """
    disc = _discounts(k)
    dcg = (hits[:, :k] * disc).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal_cum[np.minimum(n_targets, k)]
    out = np.zeros(len(hits))
    ok = idcg > 0
    out[ok] = dcg[ok] / idcg[ok]
    return out


def reciprocal_rank(hits: np.ndarray) -> np.ndarray:
    """``1 / rank`` of the first hit within the list (0 without a hit): averaged, MRR@len."""
    any_hit = hits.any(axis=1)
    first = hits.argmax(axis=1)
    return np.where(any_hit, 1.0 / (first + 1.0), 0.0)


def catalog_coverage(lists: np.ndarray, k: int, n_catalog: int) -> float:
    """Share of the catalogue that appears in at least one top-``k`` list (``-1`` = padding)."""
    top = lists[:, :k]
    return float(len(np.unique(top[top >= 0]))) / max(n_catalog, 1)


def popularity_percentile(lists: np.ndarray, k: int, popularity: np.ndarray) -> float:
    """Mean popularity percentile of the recommended products (0 = least sold, 1 = best seller).

    A value near 1 means the model mostly repeats best sellers; near 0.5, it recommends as
    an unbiased draw from the catalogue would. Padding is ignored.
    """
    order = np.argsort(popularity, kind="stable")
    pct = np.empty(len(popularity))
    pct[order] = np.arange(len(popularity)) / max(len(popularity) - 1, 1)
    top = lists[:, :k]
    valid = top >= 0
    return float(pct[top[valid]].mean()) if valid.any() else float("nan")
