"""Product embeddings cached in the warehouse, keyed by (encoder model id, sha256 of the text).

A re-run encodes only texts not seen before under the same model id: a changed title is a new
text (new hash) and gets encoded; a new encoder, ``max_length`` or normalisation is a new model
id and encodes everything again. Vectors move between DuckDB and numpy as Arrow arrays; new ones
are written in one transaction.

Examples
--------
>>> from bundlewise.ingest import Warehouse
>>> from bundlewise.text import embed_catalog
>>> class Toy:  # any object with fit/encode/model_id_/dim_ will do; a real one is ProductEncoder
...     model_id_, dim_ = "toy", 2
...     def fit(self, texts=None): return self
...     def encode(self, texts, progress=None):
...         return np.array([[1.0, len(t)] for t in texts], dtype=np.float32)
>>> with Warehouse(":memory:") as wh:
...     _ = wh.con.execute("INSERT INTO products (product_id, title, origin) VALUES ('a', 'mug', 'catalog')")
...     first = embed_catalog(wh, Toy())
...     again = embed_catalog(wh, Toy())
>>> (first.n_embedded, again.n_embedded, again.n_cached, again.vectors.shape)
(1, 0, 1, (1, 2))
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from bundlewise.errors import WarehouseError
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingResult:
    """Vectors of a catalogue, row-aligned with ``product_ids``."""

    product_ids: np.ndarray  # object array (n,)
    vectors: np.ndarray  # float32 (n, dim)
    n_embedded: int  # distinct texts encoded in this run
    n_cached: int  # distinct texts read from the cache
    model_id: str
    seconds: float

    @property
    def texts_per_second(self) -> float:
        """Encoded texts per second of the whole run (0 when nothing was encoded)."""
        return self.n_embedded / self.seconds if self.n_embedded and self.seconds > 0 else 0.0


def text_sha256(text: str) -> str:
    """Hex sha256 of the UTF-8 text: the cache key beside the model id.

    >>> text_sha256("")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fitted(encoder: Any, texts: Sequence[str]) -> Any:
    if getattr(encoder, "model_id_", None) is None:
        encoder.fit(list(texts))
    return encoder


def read_cached(wh: Warehouse, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """Cached vectors of these text hashes under ``model_id`` (absent ones are left out)."""
    if not len(hashes):
        return {}
    wh.con.register("_bw_hashes", pa.table({"text_sha256": pa.array(list(hashes), pa.string())}))
    try:
        tbl = wh.con.sql("""SELECT e.text_sha256, e.dim, e.vector FROM text_embeddings e
                            JOIN _bw_hashes h USING (text_sha256) WHERE e.model_id = ?""",
                         params=[model_id]).to_arrow_table()
    finally:
        wh.con.unregister("_bw_hashes")
    if tbl.num_rows == 0:
        return {}
    dims = set(tbl.column("dim").to_pylist())
    if len(dims) != 1:
        raise WarehouseError(f"text_embeddings holds vectors of sizes {sorted(dims)} for model {model_id!r}; the "
                             "cache is damaged: delete its rows (DELETE FROM text_embeddings) and run bundlewise "
                             "embed again")
    flat = tbl.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    mat = flat.reshape(tbl.num_rows, dims.pop())
    return dict(zip(tbl.column("text_sha256").to_pylist(), mat, strict=True))


def write_vectors(con: Any, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
    """Insert vectors (one Arrow table, inside the caller's transaction); existing keys are kept."""
    n, dim = vectors.shape
    values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    lists = pa.ListArray.from_arrays(pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32)), values)
    con.register("_bw_vectors", pa.table({"text_sha256": pa.array(list(hashes), pa.string()), "vector": lists}))
    try:
        con.execute("""INSERT INTO text_embeddings (model_id, text_sha256, dim, vector, created_at)
                       SELECT ?, text_sha256, ?, vector, now()::TIMESTAMP FROM _bw_vectors
                       ON CONFLICT DO NOTHING""", [model_id, dim])
    finally:
        con.unregister("_bw_vectors")


def embed_texts(encoder: Any, texts: Sequence[str], progress: Progress = NULL_PROGRESS) -> np.ndarray:
    """Vectors of free texts (cold-start products, queries) without any warehouse.

    Returns
    -------
    ndarray of float32, shape (n, dim)
    """
    return _fitted(encoder, list(texts)).encode(list(texts), progress=progress)
