"""The recommender contract and the plumbing every recommender shares.

Every model is a :class:`Recommender`:

- ``fit(baskets, catalog=None)`` returns ``self``; ``item_ids_`` (sorted) lists every product the
  fitted model can be asked about.
- ``recommend(product_ids, k=10, *, filter_items=None, items=None) -> (ids, scores)``: ``ids`` an
  object array of shape ``(n, k)`` best first, padded with ``None``; ``scores`` float64 of the
  same shape, padded with NaN. A query is never its own partner; ``filter_items`` are never
  returned; ``items`` restricts the answers to that candidate set. ``recommend`` reads the
  fitted model and never changes it.
- A product it cannot answer for raises :class:`~bundlewise.errors.UnknownProductError`;
  ``recommend`` before ``fit`` raises :class:`~bundlewise.errors.NotFittedError`.
- ``get_params`` / ``set_params`` follow scikit-learn: every ``__init__`` argument is stored,
  unchanged, under its own name, so :func:`clone` (and ``sklearn.base.clone``) builds an unfitted
  copy with the same parameters.

Examples
--------
>>> import numpy as np
>>> class Alphabet(Recommender):
...     '''Partners in alphabetical order (a toy).'''
...     def __init__(self, reverse=False):
...         self.reverse = reverse
...     def fit(self, baskets, catalog=None):
...         self.item_ids_ = np.asarray(sorted(baskets), dtype=object)
...         return self
...     def _rank(self, codes, k, allowed):
...         n = len(self.item_ids_)
...         scores = np.tile(-np.arange(n, dtype=np.float64) * (-1 if self.reverse else 1), (len(codes), 1))
...         scores[np.arange(len(codes)), codes] = -np.inf
...         return top_k_rows(mask_columns(scores, allowed), k)
>>> m = Alphabet().fit(["b", "a", "c"])
>>> m.recommend("a", k=3)[0].tolist()
[['b', 'c', None]]
>>> m.recommend(["a", "b"], k=1, filter_items=["b"])[0].tolist()
[['c'], ['a']]
>>> clone(m.set_params(reverse=True)).get_params()
{'reverse': True}
"""

from __future__ import annotations

import abc
import copy
import inspect
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bundlewise.errors import ConfigError, NotFittedError, UnknownProductError, allowed

if TYPE_CHECKING:
    import pandas as pd


class BasketsLike(Protocol):
    """What the contract needs of :class:`bundlewise.mining.Baskets` (which lives above this module)."""

    @property
    def item_ids(self) -> np.ndarray: ...


def as_queries(product_ids: Any) -> list[str]:
    """One id or a sequence of ids as a list of str."""
    return [product_ids] if isinstance(product_ids, str) else [str(p) for p in product_ids]


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k is {k!r}; it must be an integer >= 1")
    return int(k)


def catalog_ids(baskets: BasketsLike, catalog: pd.DataFrame | None) -> np.ndarray:
    """The sorted union of basket products and catalogue products (the candidate universe)."""
    ids = baskets.item_ids.astype(str)
    if catalog is not None and len(catalog):
        ids = np.union1d(ids, catalog["product_id"].astype(str).to_numpy())
    return np.asarray(ids, dtype=object)


def lookup_codes(item_ids: np.ndarray, queries: list[str], owner: str) -> np.ndarray:
    """Codes of ``queries`` in the sorted ``item_ids``; an unknown id raises UnknownProductError."""
    ids = np.asarray(item_ids).astype(str)
    codes = np.searchsorted(ids, np.asarray(queries, dtype=str)) if queries else np.zeros(0, dtype=np.int64)
    for q, c in zip(queries, codes, strict=True):
        if c >= len(ids) or ids[c] != q:
            raise UnknownProductError(f"product {q!r} is not known to the fitted {owner}; {len(ids):,} products "
                                      "are known (fit with baskets or a catalogue that lists it)")
    return codes.astype(np.int64)


def known_codes(item_ids: np.ndarray, product_ids: Any) -> np.ndarray:
    """Codes of the ids of ``product_ids`` that ``item_ids`` holds; the others are dropped."""
    queries = np.asarray(as_queries(product_ids), dtype=str)
    ids = np.asarray(item_ids).astype(str)
    if not len(queries) or not len(ids):
        return np.zeros(0, dtype=np.int64)
    pos = np.minimum(np.searchsorted(ids, queries), len(ids) - 1)
    return pos[ids[pos] == queries].astype(np.int64)


def mask_columns(scores: np.ndarray, allowed_codes: np.ndarray | None) -> np.ndarray:
    """``scores`` (rows × every item) with the columns outside ``allowed_codes`` set to ``-inf``, in place."""
    if allowed_codes is not None:
        scores[:, ~allowed_codes] = -np.inf
    return scores


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns of each row, best first; ties by lower column; ``-inf`` entries become padding."""
    n, m = scores.shape
    kk = min(k, m)
    if kk == 0:
        return np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.nan)
    if kk < m:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        _lowest_on_ties(scores, part)
    else:
        part = np.tile(np.arange(m), (n, 1))
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


def _lowest_on_ties(scores: np.ndarray, part: np.ndarray) -> None:
    """Where ties straddle the cut, argpartition keeps any of them: keep the lowest columns (in place)."""
    kk = part.shape[1]
    cut = np.take_along_axis(scores, part, axis=1).min(axis=1)
    n_tied = (scores == cut[:, None]).sum(axis=1)
    n_kept = kk - (scores > cut[:, None]).sum(axis=1)
    for row in np.flatnonzero(np.isfinite(cut) & (n_tied > n_kept)):
        above = np.flatnonzero(scores[row] > cut[row])
        tied = np.flatnonzero(scores[row] == cut[row])[: n_kept[row]]
        part[row] = np.concatenate([above, tied])


class Recommender(abc.ABC):
    """Base of every recommender: the id index, the contract checks, padding and the parameters.

    Subclasses store each ``__init__`` argument unchanged under its own name, implement ``fit``
    (setting ``item_ids_``, sorted) and ``_rank(codes, k, allowed)``, which returns ``(codes,
    scores)`` of shape ``(len(codes), k)`` with ``-1`` / NaN padding, best first, excluding each
    query's own code and every code where ``allowed`` (a boolean mask over ``item_ids_``, or None
    for all) is False.
    """

    # -- parameters (scikit-learn's protocol) -----------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            raise TypeError(f"{cls.__name__}.__init__ takes *args; a recommender's parameters must be named")
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` arguments by name (``deep``: also ``name__sub`` of nested recommenders)."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Recommender:
        """Set parameters by name (``name__sub`` reaches a nested recommender); returns ``self``."""
        names = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in names:
                raise ConfigError(f"{type(self).__name__} has no parameter {name!r}; allowed parameters are "
                                  f"{allowed(names)}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        try:
            sig = inspect.signature(type(self).__init__).parameters
            shown = [f"{n}={getattr(self, n)!r}" for n in self._param_names()
                     if sig[n].default is inspect.Parameter.empty or not _same_value(getattr(self, n), sig[n].default)]
        except (AttributeError, TypeError, ValueError):  # a half-built object: never fail in repr
            shown = []
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- the contract -------------------------------------------------------------------
    @abc.abstractmethod
    def fit(self, baskets: BasketsLike, catalog: pd.DataFrame | None = None) -> Recommender:
        """Learn from ``baskets`` (and the catalogue, where the model uses it); returns ``self``."""

    def recommend(self, product_ids: Any, k: int = 10, *, filter_items: Any = None,
                  items: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best partners of each product.

        Parameters
        ----------
        product_ids : str or sequence of str
        k : int
            List length; lists with fewer partners are padded.
        filter_items : sequence of str, optional
            Products never to return (e.g. what the cart already holds).
        items : sequence of str, optional
            Return only products of this candidate set. Ids the model does not know are ignored in
            both (it could never return them).

        Returns
        -------
        ids : object array, shape (n, k)
            Partner ids, best first; ``None`` where fewer than ``k`` partners exist.
        scores : float64 array, shape (n, k)
            Their scores (higher is better); NaN where padded.
        """
        self._check_fitted()
        k = check_k(k)
        codes = self._codes(as_queries(product_ids))
        top, scores = self._rank(codes, k, self._allowed(filter_items, items))
        return self._ids(top, scores)

    @abc.abstractmethod
    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Codes and scores of the top ``k`` allowed partners of each query code (see the class doc)."""

    # -- shared plumbing ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() first")

    def _codes(self, queries: list[str]) -> np.ndarray:
        return lookup_codes(self.item_ids_, queries, type(self).__name__)

    def _allowed(self, filter_items: Any, items: Any) -> np.ndarray | None:
        """The boolean mask over ``item_ids_`` of products an answer may hold (None: all of them)."""
        if filter_items is None and items is None:
            return None
        mask = np.ones(len(self.item_ids_), dtype=bool)
        if items is not None:
            mask[:] = False
            mask[known_codes(self.item_ids_, items)] = True
        if filter_items is not None:
            mask[known_codes(self.item_ids_, filter_items)] = False
        return mask

    def _ids(self, top: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full(top.shape, None, dtype=object)
        ok = top >= 0
        ids[ok] = self.item_ids_[top[ok]]
        return ids, np.where(ok, scores, np.nan).astype(np.float64)


def _same_value(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):  # arrays and the like: shown
        return False


def clone(estimator: Any) -> Any:
    """An unfitted copy of ``estimator`` with the same parameters (nested recommenders cloned too).

    Like ``sklearn.base.clone``: parameters that are recommenders are cloned, the others deep-copied.

    Examples
    --------
    >>> from bundlewise.mining import Baskets, CoPurchaseStats
    >>> fitted = CoPurchaseStats(min_count=1, metric="npmi").fit(Baskets.from_lists([["a", "b"]]))
    >>> copy_ = clone(fitted)
    >>> copy_.get_params() == fitted.get_params(), hasattr(copy_, "item_ids_")
    (True, False)
    """
    if isinstance(estimator, (list, tuple, set, frozenset)):
        return type(estimator)(clone(e) for e in estimator)
    if not hasattr(estimator, "get_params") or isinstance(estimator, type):
        return copy.deepcopy(estimator)
    params = {name: clone(value) for name, value in estimator.get_params(deep=False).items()}
    return type(estimator)(**params)
