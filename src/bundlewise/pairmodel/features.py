"""Inputs of the pair model: product features (text embedding, price, category) and the
directional co-purchase features of an ordered pair ``i → j``.

The co-purchase features come from a fitted :class:`~bundlewise.mining.CoPurchaseStats`; a
pair never seen together gets zeros and ``has_pair = 0``, which is also exactly what a
cold-start product looks like, so one network serves warm and cold products.

Examples
--------
>>> import numpy as np
>>> from bundlewise.mining import Baskets, CoPurchaseStats
>>> stats = CoPurchaseStats(min_count=1).fit(Baskets.from_lists([["a", "b"], ["a", "b"], ["a", "c"]]))
>>> table = PairTable.from_stats(stats)
>>> table.counts(np.array([0, 1, 0]), np.array([1, 0, 2])).tolist()
[2.0, 2.0, 1.0]
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bundlewise.mining import metrics
from bundlewise.mining.copurchase import CoPurchaseStats

PAIR_FEATURES = ("log_n_ij", "conf_ij", "conf_ji", "log_shrunk_lift", "log_count_i", "log_count_j", "text_cos",
                 "has_pair", "nbr_conf", "nbr_log_n", "conf_ij_recent", "log_count_j_recent")
# what a cold-start query lacks, by name: the positions follow PAIR_FEATURES, so reordering it cannot feed the
# wrong columns to the cold-start dropout or to the "co-purchase evidence" attribution
EVIDENCE_FEATURES = ("log_n_ij", "conf_ij", "conf_ji", "log_shrunk_lift", "log_count_i", "has_pair", "conf_ij_recent")
EVIDENCE_COLUMNS = tuple(PAIR_FEATURES.index(name) for name in EVIDENCE_FEATURES)


def feature_columns(*names: str) -> list[int]:
    """Positions of the named :data:`PAIR_FEATURES` columns.

    >>> feature_columns("text_cos", "has_pair")
    [6, 7]
    """
    return [PAIR_FEATURES.index(n) for n in names]
N_CATEGORY_BUCKETS = 1024


@dataclass(frozen=True)
class PairTable:
    """Co-purchase weights of item pairs, looked up by code for arbitrary ordered pairs."""

    keys: np.ndarray        # a * n_items + b for a < b, sorted
    weights: np.ndarray     # summed (decayed) basket weight of each pair
    item_weights: np.ndarray
    total_weight: float
    n_items: int

    @classmethod
    def from_stats(cls, stats: CoPurchaseStats) -> PairTable:
        n = len(stats.item_ids_)
        a, b = stats.pair_a_.astype(np.int64), stats.pair_b_.astype(np.int64)
        w = stats.pair_w_ if stats.pair_w_ is not None else stats.pair_n_.astype(np.float64)
        keys = a * n + b
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], np.asarray(w, dtype=np.float64)[order], np.asarray(stats.item_weights_, np.float64),
                   float(stats.total_weight_), n)

    def counts(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Weight of baskets holding both ``i[k]`` and ``j[k]`` (0 when never together)."""
        lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
        keys = lo * self.n_items + hi
        if len(self.keys) == 0:
            return np.zeros(len(keys))
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, self.weights[pos], 0.0)


@dataclass
class CategoryEvidence:
    """Co-purchases summed over each category's products: what a product of category *c* is bought with,
    the bridge a new product with only a category path can walk (e.g. a new yoghurt → what yoghurts sell with)."""

    keys: np.ndarray         # category * n_items + j, sorted
    weights: np.ndarray      # Σ over the category's products i of w_ij
    cat_weights: np.ndarray  # Σ over the category's products of their basket weight
    indptr: np.ndarray       # each category's top partners, CSR by category code
    partners: np.ndarray
    n_items: int

    @classmethod
    def of(cls, table: PairTable, category: np.ndarray, known: np.ndarray, n_top: int) -> CategoryEvidence:
        n = table.n_items
        n_cat = int(category.max()) + 1 if len(category) else 1
        a, b = table.keys // max(n, 1), table.keys % max(n, 1)
        rows = np.concatenate([category[a], category[b]]).astype(np.int64)
        cols = np.concatenate([b, a])
        ok = np.concatenate([known[a], known[b]])
        keys, inv = np.unique(rows[ok] * n + cols[ok], return_inverse=True)
        weights = np.bincount(inv, weights=np.concatenate([table.weights, table.weights])[ok], minlength=len(keys))
        cat_weights = np.bincount(category[known], weights=table.item_weights[known], minlength=n_cat)
        cat_of, partner = keys // max(n, 1), keys % max(n, 1)
        order = np.lexsort((partner, -weights, cat_of))  # by category, heaviest first, ties by code
        rank = np.arange(len(order)) - np.searchsorted(cat_of[order], cat_of[order])
        top = order[rank < n_top]
        indptr = np.searchsorted(cat_of[top], np.arange(n_cat + 1))
        return cls(keys, weights, cat_weights, indptr, partner[top], n)

    def conf(self, table: PairTable, category: np.ndarray, known: np.ndarray, i: np.ndarray, j: np.ndarray,
             wij: np.ndarray, wi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(j | a product of i's category) with i itself left out, and its log lift over j's base rate (shrunk
        by one basket). ``wij``, ``wi`` are i's *own* evidence even where a training row hides it (a cold row):
        left out, it cannot come back through the category, so the row reads what a new product would."""
        ci = category[i].astype(np.int64)
        keys = ci * self.n_items + j
        if len(self.keys):
            pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            cij = np.where(self.keys[pos] == keys, self.weights[pos], 0.0)
        else:
            cij = np.zeros(len(i))
        num = np.maximum(cij - wij, 0.0)
        den = np.maximum(self.cat_weights[ci] - wi, 0.0)
        ok = known[i] & (den > 0)
        p_j = table.item_weights[j] / max(table.total_weight, 1.0)
        conf = np.where(ok, num / np.maximum(den, 1e-12), 0.0)
        lift = np.zeros(len(i))
        ok &= p_j > 0
        lift[ok] = np.log((num[ok] + p_j[ok]) / ((den[ok] + 1.0) * p_j[ok]))
        return conf, lift

    def top(self, category: np.ndarray, known: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
        """The ``k`` heaviest partners of each query's category (-1 padded; none for an unknown category)."""
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for row, q in enumerate(queries):
            if known[q]:
                c = int(category[q])
                p = self.partners[self.indptr[c]: self.indptr[c + 1]][:k]
                out[row, : len(p)] = p
        return out


def pair_features(table: PairTable, i: np.ndarray, j: np.ndarray, vectors: np.ndarray,
                  known: np.ndarray | None = None, neighbours: tuple[np.ndarray, np.ndarray] | None = None,
                  recent: PairTable | None = None) -> np.ndarray:
    """The :data:`PAIR_FEATURES` of ordered pairs ``i → j`` as float32, shape (n, len(PAIR_FEATURES)).

    ``recent`` is the same evidence with a short half-life (what sells together *now*: seasons,
    launches); without it the recent columns repeat the plain ones.

    ``known`` marks products whose own co-purchase evidence may be used (False → treated as
    cold). ``neighbours`` = (codes (n, m), weights (n, m)) of each ``i``'s nearest texts among
    products with evidence: ``nbr_conf`` is their weighted P(j | neighbour) and ``nbr_log_n``
    the log of their weighted co-purchase count with ``j`` — what "products that read like i"
    are bought with, the bridge that lets a product with only text borrow partners.
    """
    wij = table.counts(i, j)
    wi, wj = table.item_weights[i], table.item_weights[j]
    if known is not None:
        cold = ~known[i]
        wij = np.where(cold, 0.0, wij)
        wi = np.where(cold, 0.0, wi)
    conf_ij = np.where(wi > 0, wij / np.maximum(wi, 1e-12), 0.0)
    conf_ji = np.where(wj > 0, wij / np.maximum(wj, 1e-12), 0.0)
    lift = metrics.shrunk_lift(wij, np.maximum(wi, 1e-9), np.maximum(wj, 1e-9), max(table.total_weight, 1.0))
    cos = _row_dots(vectors[i], vectors[j])
    nbr_conf, nbr_n = neighbour_evidence(table, j, neighbours)
    if recent is not None:
        rij, ri, rj = recent.counts(i, j), recent.item_weights[i], recent.item_weights[j]
        if known is not None:
            rij = np.where(~known[i], 0.0, rij)
        conf_recent = np.where(ri > 0, rij / np.maximum(ri, 1e-12), 0.0)
    else:
        conf_recent, rj = conf_ij, wj
    columns = {"log_n_ij": np.log1p(wij), "conf_ij": conf_ij, "conf_ji": conf_ji, "log_shrunk_lift": np.log(lift),
               "log_count_i": np.log1p(wi), "log_count_j": np.log1p(wj), "text_cos": cos,
               "has_pair": (wij > 0).astype(np.float64), "nbr_conf": nbr_conf, "nbr_log_n": np.log1p(nbr_n),
               "conf_ij_recent": conf_recent, "log_count_j_recent": np.log1p(rj)}
    # stacked by name in PAIR_FEATURES order: the order lives in one place
    return np.stack([columns[name] for name in PAIR_FEATURES], axis=1).astype(np.float32)


def pair_dots(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """``vectors[i[n]] @ vectors[j[n]]`` for every n, in chunks: gathering both sides whole would hold
    ``len(i) × d`` floats twice (3.7 GB for the ranker's 1.2M rows of 384-d texts on Online Retail).

    >>> v = np.eye(3)
    >>> pair_dots(v, np.array([0, 1, 2]), np.array([0, 2, 2]), chunk=2).tolist()
    [1.0, 0.0, 1.0]
    """
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), chunk):
        stop = start + chunk
        out[start:stop] = _row_dots(vectors[i[start:stop]], vectors[j[start:stop]])
    return out


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products, summed in float64: numpy's float32 SIMD sums depend on the arrays' memory
    alignment, which changed the last bit of a feature between two identical fits."""
    return np.einsum("nd,nd->n", a.astype(np.float64), b.astype(np.float64))


def neighbour_evidence(table: PairTable, j: np.ndarray, neighbours: tuple[np.ndarray, np.ndarray] | None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted P(j | neighbour) and weighted co-purchase count of each row's text neighbours with j."""
    if neighbours is None:
        return np.zeros(len(j)), np.zeros(len(j))
    codes, weights = neighbours
    m = codes.shape[1]
    flat_n = codes.ravel()
    ok = flat_n >= 0
    wnj = np.where(ok, table.counts(np.maximum(flat_n, 0), np.repeat(j, m)), 0.0)
    wn = table.item_weights[np.maximum(flat_n, 0)]
    cnj = np.where(ok & (wn > 0), wnj / np.maximum(wn, 1e-12), 0.0)
    return (cnj.reshape(-1, m) * weights).sum(axis=1), (wnj.reshape(-1, m) * weights).sum(axis=1)


def text_only_features(table: PairTable, query_vectors: np.ndarray, j: np.ndarray, vectors: np.ndarray,
                       neighbours: tuple[np.ndarray, np.ndarray], recent: PairTable | None = None) -> np.ndarray:
    """Features of ``text → j`` for a product that exists only as text: no evidence of its own."""
    feats = np.zeros((len(j), len(PAIR_FEATURES)), dtype=np.float32)
    nbr_conf, nbr_n = neighbour_evidence(table, j, neighbours)
    columns = {"log_count_j": np.log1p(table.item_weights[j]),
               "text_cos": _row_dots(query_vectors, vectors[j]),
               "nbr_conf": nbr_conf, "nbr_log_n": np.log1p(nbr_n),
               "log_count_j_recent": np.log1p((recent or table).item_weights[j])}
    for name, values in columns.items():  # the rest (the query's own evidence) stays 0
        feats[:, PAIR_FEATURES.index(name)] = values
    return feats


def text_neighbours(vectors: np.ndarray, query_vectors: np.ndarray, allowed: np.ndarray, m: int,
                    exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` nearest allowed products of each query vector and their weights (positive cosine,
    normalised to sum 1); ``exclude[k]`` (a code or -1) is never its own neighbour."""
    from bundlewise.vectors import cosine_top_k

    # float64 products: the neighbour weights must not depend on BLAS's memory alignment (see _row_dots)
    codes, sims = cosine_top_k(np.asarray(query_vectors, np.float64), np.asarray(vectors, np.float64), m,
                               allowed=allowed, exclude=exclude)
    sims = np.nan_to_num(sims, nan=0.0)
    w = np.clip(sims, 0.0, None) * (codes >= 0)
    total = w.sum(axis=1, keepdims=True)
    return codes, np.where(total > 0, w / np.maximum(total, 1e-12), 0.0)


def category_buckets(categories: pd.Series | np.ndarray) -> np.ndarray:
    """Stable hash of each category path into :data:`N_CATEGORY_BUCKETS` buckets (0 = unknown)."""
    out = np.zeros(len(categories), dtype=np.int64)
    for k, c in enumerate(np.asarray(categories, dtype=object)):
        if isinstance(c, str) and c.strip():
            out[k] = 1 + zlib.crc32(c.strip().lower().encode()) % (N_CATEGORY_BUCKETS - 1)
    return out


def log_prices(prices: np.ndarray) -> np.ndarray:
    """log1p(price), with unknown prices set to the median (so "unknown" is not "free")."""
    p = np.asarray(prices, dtype=np.float64)
    ok = np.isfinite(p) & (p > 0)
    fill = float(np.median(p[ok])) if ok.any() else 1.0
    return np.log1p(np.where(ok, p, fill)).astype(np.float32)


def ppmi_factors(table: PairTable, dim: int, seed: int = 0) -> np.ndarray:
    """ID embeddings of the products: unit rows of the top ``dim`` positive eigenvectors (scaled by the
    root of their eigenvalue) of the positive log shrunk lift of their co-purchases.

    Two products with the same partners get close vectors even when never bought together — the
    transitive evidence a count lookup misses. Products without co-purchases get zero rows.

    >>> import numpy as np
    >>> from bundlewise.mining import Baskets, CoPurchaseStats
    >>> b = Baskets.from_lists([["tea", "pot"]] * 20 + [["tea", "cups"]] * 20 + [["seeds", "can"]] * 20)
    >>> t = PairTable.from_stats(CoPurchaseStats(min_count=1).fit(b))
    >>> f = ppmi_factors(t, 2)
    >>> ids = list(b.item_ids)
    >>> bool(f[ids.index("pot")] @ f[ids.index("cups")] > f[ids.index("pot")] @ f[ids.index("can")])
    True
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    n = table.n_items
    out = np.zeros((n, max(dim, 0)), dtype=np.float64)
    k = min(dim, n - 2)  # eigsh needs k < n - 1
    if k < 1 or not len(table.keys):
        return out
    a, b = table.keys // n, table.keys % n
    wi = table.item_weights
    v = np.log(metrics.shrunk_lift(table.weights, np.maximum(wi[a], 1e-9), np.maximum(wi[b], 1e-9),
                                   max(table.total_weight, 1.0)))
    keep = v > 0
    if not keep.any():
        return out
    a, b, v = a[keep], b[keep], v[keep]
    m = sp.csr_matrix((np.r_[v, v], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    v0 = np.random.default_rng(seed).standard_normal(n)  # ARPACK's start vector: seeded, not random
    vals, vecs = eigsh(m, k=k, which="LA", v0=v0)
    order = np.argsort(-vals)
    vecs = vecs[:, order] * np.sqrt(np.clip(vals[order], 0.0, None))
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    out[:, :k] = np.where(norms > 0, vecs / np.maximum(norms, 1e-12), 0.0)
    return out
