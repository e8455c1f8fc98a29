"""The recommender contract and the plumbing every recommender shares.

Every model answers ``recommend(product_ids, k) -> (ids, scores)``: ``ids`` an object array of
shape ``(n, k)`` best first, padded with ``None``; ``scores`` float64 of the same shape, padded
with NaN. ``fit(baskets, catalog=None)`` returns ``self``; ``item_ids_`` lists every product the
fitted model can be asked about. A product it cannot answer for raises
:class:`~bundlewise.errors.UnknownProductError`; calling ``recommend`` before ``fit`` raises
:class:`~bundlewise.errors.NotFittedError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError, NotFittedError, UnknownProductError
from bundlewise.mining.baskets import Baskets


def as_queries(product_ids: Any) -> list[str]:
    return [product_ids] if isinstance(product_ids, str) else [str(p) for p in product_ids]


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k is {k!r}; it must be an integer >= 1")
    return int(k)


def catalog_ids(baskets: Baskets, catalog: pd.DataFrame | None) -> np.ndarray:
    """The sorted union of basket products and catalogue products (the candidate universe)."""
    ids = baskets.item_ids.astype(str)
    if catalog is not None and len(catalog):
        ids = np.union1d(ids, catalog["product_id"].astype(str).to_numpy())
    return np.asarray(ids, dtype=object)


class CodeRecommender:
    """Base of recommenders that score item codes; subclasses implement ``_rank(codes, k)``.

    ``_rank`` returns (codes, scores) arrays of shape ``(len(codes), k)`` with ``-1`` / NaN padding
    and must already exclude each query's own code.
    """

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _codes(self, queries: list[str]) -> np.ndarray:
        ids = self.item_ids_.astype(str)
        codes = np.searchsorted(ids, np.asarray(queries, dtype=str))
        for q, c in zip(queries, codes, strict=True):
            if c >= len(ids) or ids[c] != q:
                raise UnknownProductError(f"product {q!r} is not known to the fitted {type(self).__name__}; "
                                          f"{len(ids):,} products are known (fit with a catalogue that lists it)")
        return codes

    def recommend(self, product_ids: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best partners of each product: ``(ids, scores)`` of shape ``(n, k)``."""
        self._check_fitted()
        k = check_k(k)
        queries = as_queries(product_ids)
        codes = self._codes(queries)
        top, scores = self._rank(codes, k)
        ids = np.full(top.shape, None, dtype=object)
        ok = top >= 0
        ids[ok] = self.item_ids_[top[ok]]
        return ids, np.where(ok, scores, np.nan).astype(np.float64)

    def _rank(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns of each row, best first; ties by lower column; ``-inf`` entries become padding."""
    n, m = scores.shape
    kk = min(k, m)
    part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk] if kk < m else np.tile(np.arange(m), (n, 1))
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1) if n else np.zeros((0, kk), dtype=np.int64)
    top = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    codes = np.full((n, k), -1, dtype=np.int64)
    out = np.full((n, k), np.nan)
    finite = np.isfinite(vals)
    codes[:, :kk] = np.where(finite, top, -1)
    out[:, :kk] = np.where(finite, vals, np.nan)
    return codes, out
