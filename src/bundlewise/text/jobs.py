"""The text stage runners: embed a catalogue through the warehouse's cache, attach the vectors."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.ingest.catalog import load_catalog
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.text.cache import EmbeddingResult, _fitted, read_cached, text_sha256, write_vectors
from bundlewise.text.templates import DEFAULT_TEMPLATE, product_texts

log = logging.getLogger(__name__)


def embed_catalog(wh: Warehouse, encoder: Any, catalog: pd.DataFrame | None = None,
                  template: str = DEFAULT_TEMPLATE, progress: Progress = NULL_PROGRESS) -> EmbeddingResult:
    """Vectors of every catalogue product, encoding only texts the cache lacks.

    Parameters
    ----------
    wh : Warehouse
    encoder : ProductEncoder
        Fitted or not; an unfitted ``"auto"`` encoder decides its model from these texts.
    catalog : DataFrame, optional
        Default :func:`bundlewise.ingest.load_catalog` (real products only).
    template : str
        See :func:`bundlewise.text.templates.product_texts`.
    progress : Progress

    Returns
    -------
    EmbeddingResult
        ``vectors`` float32 (n, dim) row-aligned with ``product_ids``; identical texts share one
        encoding and count once in ``n_embedded``/``n_cached``.
    """
    t0 = time.perf_counter()
    if catalog is None:
        catalog = load_catalog(wh)
    texts = product_texts(catalog, template)
    encoder = _fitted(encoder, texts)
    model_id, dim = str(encoder.model_id_), int(encoder.dim_)
    hashes = [text_sha256(t) for t in texts]
    unique = dict(zip(hashes, texts, strict=True))  # hash -> text, first occurrence order
    cached = read_cached(wh, model_id, list(unique))
    missing = [h for h in unique if h not in cached]
    if missing:
        log.info("encoding %d new texts with %s (%d cached)", len(missing), model_id, len(cached))
        new = encoder.encode([unique[h] for h in missing], progress=progress)
        with wh.transaction() as con:
            write_vectors(con, model_id, missing, new)
        cached.update(zip(missing, new, strict=True))
    vectors = np.empty((len(texts), dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = cached[h]
    ids = catalog["product_id"].to_numpy(dtype=object) if "product_id" in catalog.columns else \
        np.arange(len(catalog)).astype(object)
    return EmbeddingResult(product_ids=ids, vectors=vectors, n_embedded=len(missing),
                           n_cached=len(unique) - len(missing), model_id=model_id,
                           seconds=time.perf_counter() - t0)


def with_embeddings(wh: Warehouse, catalog: pd.DataFrame, encoder: Any, progress: Progress) -> tuple[pd.DataFrame,
                                                                                                    str]:
    """The catalogue with an ``embedding`` column from the warehouse's embedding cache."""
    res = embed_catalog(wh, encoder, catalog=catalog, progress=progress)
    lookup = dict(zip(res.product_ids, res.vectors, strict=True))
    out = catalog.copy()
    out["embedding"] = [lookup[p] for p in out["product_id"]]
    return out, res.model_id
