"""Product vectors: row normalisation, the catalogue's embeddings, and batched cosine top-k.

Shared by the embedding baselines (:mod:`bundlewise.evaluation.vector_baselines`) and the pair
model (:mod:`bundlewise.pairmodel`), so neither depends on the other.

Examples
--------
>>> import numpy as np
>>> v = normalize_rows(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
>>> codes, scores = cosine_top_k(v[[0]], v, 2, exclude=np.array([0]))
>>> codes.tolist()
[[1, 2]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bundlewise.recommend import top_k_rows

if TYPE_CHECKING:
    import pandas as pd

BATCH = 1024  # query rows per matrix product: bounds the (batch × catalogue) score block


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Unit-length rows as float32 (all-zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def catalog_vectors(catalog: pd.DataFrame, encoder: Any = None) -> np.ndarray:
    """The catalogue's ``embedding`` column as a matrix, or its texts encoded now."""
    if "embedding" in catalog:
        return np.stack(catalog["embedding"].to_numpy()).astype(np.float32)
    from bundlewise.text import ProductEncoder, product_texts

    enc = encoder if encoder is not None else ProductEncoder()
    return enc.encode(product_texts(catalog))


def cosine_top_k(queries: np.ndarray, vectors: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
                 exclude: np.ndarray | None = None, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``vectors`` with the highest dot product with each query row, best first.

    With unit rows (:func:`normalize_rows`) that is cosine. Ties go to the lower row, as in
    :func:`~bundlewise.recommend.top_k_rows`.

    Parameters
    ----------
    queries : array, shape (n, d)
    vectors : array, shape (m, d)
    k : int
    allowed : bool array, shape (m,), optional
        Rows that may be returned (default: all).
    exclude : int array, shape (n,), optional
        A row never returned for each query (its own code), or -1 for none.
    batch_size : int
        Query rows scored per matrix product.

    Returns
    -------
    codes : int64 array, shape (n, k)
        Row numbers; -1 pads.
    scores : float64 array, shape (n, k)
        Dot products; NaN pads.
    """
    n = len(queries)
    codes = np.full((n, k), -1, dtype=np.int64)
    out = np.full((n, k), np.nan)
    for s in range(0, n, batch_size):
        sc = (queries[s: s + batch_size] @ vectors.T).astype(np.float64)
        if allowed is not None:
            sc[:, ~allowed] = -np.inf
        if exclude is not None:
            ex = exclude[s: s + batch_size]
            rows = np.flatnonzero(ex >= 0)
            sc[rows, ex[rows]] = -np.inf
        codes[s: s + len(sc)], out[s: s + len(sc)] = top_k_rows(sc, k)
    return codes, out
