"""Save and load a fitted :class:`~bundlewise.pairs.model.PairModel` without pickle.

A checkpoint is a folder: ``model.safetensors`` (network weights), ``arrays.npz`` (product ids,
vectors, prices, categories, sales and pair counts; ``allow_pickle=False``) and ``model.json``
(parameters, encoder id, data fingerprint, training metrics and history, package version).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise._version import __version__
from bundlewise.errors import ConfigError
from bundlewise.pairs.benchmark import Family
from bundlewise.pairs.features import PairTable

FORMAT = 1


def data_fingerprint(item_ids: np.ndarray, item_counts: np.ndarray, n_pairs: int) -> str:
    h = hashlib.sha256()
    h.update("\n".join(map(str, item_ids)).encode())
    h.update(np.asarray(item_counts, dtype=np.int64).tobytes())
    h.update(str(n_pairs).encode())
    return h.hexdigest()[:16]


def save_pair_model(model: Any, path: str | Path, *, encoder_id: str | None = None,
                    metrics: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to the folder ``path`` (replaced atomically)."""
    from safetensors.torch import save_file

    model._check_fitted()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pair-model-", dir=path.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.net_.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        t, r = model.table_, model.recent_table_
        recent = {} if r is None else {
            "recent_keys": r.keys, "recent_weights": r.weights, "recent_item_weights": r.item_weights,
            "recent_total": np.array([r.total_weight])}
        np.savez(tmp / "arrays.npz", item_ids=model.item_ids_.astype(str), vectors=model.vectors_,
                 has_text=model.has_text_, log_price=model.log_price_, category=model.category_,
                 item_counts=model.item_counts_, pair_keys=t.keys, pair_weights=t.weights,
                 item_weights=t.item_weights, total_weight=np.array([t.total_weight]), **recent)
        meta = {
            "format": FORMAT, "bundlewise_version": __version__, "params": model.get_params(),
            "encoder_id": encoder_id, "d_text": int(model.vectors_.shape[1]),
            "data_fingerprint": data_fingerprint(model.item_ids_, model.item_counts_, len(t.keys)),
            "n_products": len(model.item_ids_), "volume_mean": model.volume_mean_, "volume_std": model.volume_std_,
            "best_held_out_bce": model.best_loss_, "best_epoch": model.best_epoch_, "history": model.history_,
            "fit_seconds": model.fit_seconds_, "metrics": metrics or {},
        }
        (tmp / "model.json").write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / "model.json"
    if not meta_path.exists():
        raise ConfigError(f"{path} is not a pair-model checkpoint (no model.json); train one with 'bundlewise train'")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{path} has checkpoint format {meta.get('format')!r}; this bundlewise reads format "
                          f"{FORMAT}: retrain with 'bundlewise train'")
    return meta


def load_pair_model(path: str | Path) -> Any:
    """A fitted PairModel from a checkpoint folder written by :func:`save_pair_model`."""
    import torch
    from safetensors.torch import load_file

    from bundlewise.mining.pairs import CoPurchaseStats
    from bundlewise.pairs.model import PairModel
    from bundlewise.pairs.network import PairNet

    path = Path(path)
    meta = read_meta(path)
    model = PairModel(**meta["params"])
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    model.item_ids_ = arrays["item_ids"].astype(object)
    model.vectors_, model.has_text_ = arrays["vectors"], arrays["has_text"]
    model.log_price_, model.category_ = arrays["log_price"], arrays["category"]
    model.item_counts_ = arrays["item_counts"]
    n = len(model.item_ids_)
    model.table_ = PairTable(arrays["pair_keys"], arrays["pair_weights"], arrays["item_weights"],
                             float(arrays["total_weight"][0]), n)
    model.recent_table_ = (PairTable(arrays["recent_keys"], arrays["recent_weights"], arrays["recent_item_weights"],
                                     float(arrays["recent_total"][0]), n) if "recent_keys" in arrays else None)
    # the candidate generator's co-purchase index, rebuilt from the stored pair counts
    stats = CoPurchaseStats(min_count=1)
    stats.item_ids_ = model.item_ids_
    stats.n_baskets_ = int(round(float(arrays["total_weight"][0])))
    stats.item_counts_ = model.item_counts_
    stats.item_weights_ = arrays["item_weights"]
    stats.total_weight_ = float(arrays["total_weight"][0])
    stats.pair_a_ = (arrays["pair_keys"] // n).astype(np.int32)
    stats.pair_b_ = (arrays["pair_keys"] % n).astype(np.int32)
    stats.pair_w_ = arrays["pair_weights"]
    stats.pair_n_ = np.maximum(np.rint(arrays["pair_weights"]), 1).astype(np.int32)  # decayed weights: keep >= 1
    stats._neighbors = None
    model.stats_ = stats
    model.device_ = "cuda" if torch.cuda.is_available() and model.device != "cpu" else "cpu"
    net = PairNet(meta["d_text"], hidden=meta["params"]["hidden"])
    net.load_state_dict(load_file(str(path / "model.safetensors")))
    model.net_ = net.to(model.device_).eval()
    model.volume_mean_, model.volume_std_ = meta["volume_mean"], meta["volume_std"]
    model.best_loss_, model.best_epoch_ = meta["best_held_out_bce"], meta["best_epoch"]
    model.history_, model.fit_seconds_ = meta["history"], meta["fit_seconds"]
    model.encoder_id_ = meta.get("encoder_id")
    return model


def pair_model_family(path: str | Path) -> Family:
    """The evaluation family of a trained checkpoint: same parameters, refitted inside the split
    (a model trained on all data would have seen the test block)."""
    from bundlewise.pairs.model import PairModel

    params = read_meta(path)["params"]
    grid = {"volume_weight": tuple(dict.fromkeys((0.0, params["volume_weight"])))}
    return Family("pair", lambda **kw: PairModel(**{**params, **kw}), grid)
