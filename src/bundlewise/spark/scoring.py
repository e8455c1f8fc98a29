"""Batch scoring of candidate pairs with a trained pair model on Spark (``mapInPandas``).

The checkpoint folder (:func:`bundlewise.pairmodel.io.save_pair_model`) is read once on the
driver and broadcast: Spark ships a broadcast once to each executor, and each Python worker
loads it once (cached by broadcast key; workers are reused between tasks), then scores its
batches with :meth:`~bundlewise.pairmodel.model.PairModel.score_pairs` — the same network, the
same features, the same numbers as scoring in one process. Pairs naming a product the model
does not know get a null score. Executors need torch (CPU), numpy, pandas and bundlewise's
Python code; not the C kernels.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError

log = logging.getLogger(__name__)

_LOADED: dict[str, Any] = {}  # broadcast key -> model, per Python worker process


def _model(bc: Any, key: str) -> Any:
    model = _LOADED.get(key)
    if model is None:
        from bundlewise.pairmodel.io import load_pair_model

        folder = Path(tempfile.mkdtemp(prefix="bundlewise-model-"))
        for name, data in bc.value.items():
            (folder / name).write_bytes(data)
        model = load_pair_model(folder)
        model.device_ = "cpu"
        model.net_ = model.net_.to("cpu")
        _LOADED.clear()  # one model per worker: an older broadcast's is dropped
        _LOADED[key] = model
    return model


def _score_batches(batches, bc, key: str, product_col: str, partner_col: str, out_col: str):  # type: ignore[no-untyped-def]
    model = _model(bc, key)
    ids = np.asarray(model.item_ids_).astype(str)
    for df in batches:
        p = df[product_col].astype(str).to_numpy(dtype=str)
        q = df[partner_col].astype(str).to_numpy(dtype=str)
        score = np.full(len(df), np.nan)
        if len(df) and len(ids):
            pi = np.minimum(np.searchsorted(ids, p), len(ids) - 1)
            qi = np.minimum(np.searchsorted(ids, q), len(ids) - 1)
            known = (ids[pi] == p) & (ids[qi] == q)
            if known.any():
                score[known] = model.score_pairs(p[known], q[known])
        out = df.copy()
        out[out_col] = score
        yield out


def read_checkpoint(path: str | Path) -> dict[str, bytes]:
    """The files of a checkpoint folder, by name (what is broadcast)."""
    from bundlewise.pairmodel.io import is_checkpoint

    path = Path(path)
    if not is_checkpoint(path):
        raise ConfigError(f"{path} is not a pair-model checkpoint folder (bundlewise train --output DIR writes one)")
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.is_file()}


def score_pairs(pairs: Any, checkpoint: str | Path, *, product_col: str = "product_id",
                partner_col: str = "partner_id", out_col: str = "score") -> Any:
    """``pairs`` (a Spark DataFrame with the two id columns) with a ``score`` column: S_ij of the model.

    Examples
    --------
    >>> scored = score_pairs(spark.read.parquet("candidates.parquet"), "model/")  # doctest: +SKIP
    >>> scored.write.parquet("scores.parquet")  # doctest: +SKIP
    """
    for col in (product_col, partner_col):
        if col not in pairs.columns:
            raise ConfigError(f"the pairs to score have no column {col!r} (they have {', '.join(pairs.columns)})")
    if out_col in pairs.columns:
        raise ConfigError(f"the pairs to score already have a column {out_col!r}; pass another out_col")
    files = read_checkpoint(checkpoint)
    bc = pairs.sparkSession.sparkContext.broadcast(files)
    log.info("spark: broadcast pair model %s (%.1f MiB)", checkpoint, sum(map(len, files.values())) / 2**20)
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType([*pairs.schema.fields, StructField(out_col, DoubleType())])  # .add() would change pairs'

    key = uuid.uuid4().hex  # names this broadcast in the workers' model cache
    return pairs.mapInPandas(lambda it: _score_batches(it, bc, key, product_col, partner_col, out_col), schema)
