"""Save and load a fitted :class:`~bundlewise.pairmodel.rerank.Reranker` without pickle.

A saved ranker is a folder: ``ranker.json`` (format, package version, parameters, the feature list and
the columns used, the gate's decision and held-out recalls, the encoder id, the warehouse fingerprint,
size and SHA-256 of the model files) and ``warm.lgb.txt`` / ``cold.lgb.txt``, LightGBM's own text
format of the two boosters (one file when the gate is off). The evidence the ranker reads (co-purchase
counts, best sellers, texts, prices, categories) is *not* stored: it is rebuilt from the warehouse the
ranker is loaded with, which must hold the baskets it was trained on (its fingerprint is checked) —
a ranker is a few hundred kilobytes, not a copy of the shop.

Writing replaces only an earlier saved ranker, built in a temporary folder and swapped in by
renames (:func:`bundlewise.outputs.replace_folder`). A ranker with the pair network's logit as a
feature (``network_epochs > 0``) is refused: that network is not saved with it yet.

Examples
--------
>>> import tempfile, numpy as np
>>> from pathlib import Path
>>> from bundlewise.mining import Baskets
>>> from bundlewise.pairmodel.rerank import Reranker
>>> rng = np.random.default_rng(0)
>>> groups = [["tea", "pot", "cups"], ["seeds", "gloves", "can"]]
>>> days = np.arange(600).astype("datetime64[D]").astype("datetime64[us]")
>>> lists = [list(rng.choice(groups[i % 2], 2, replace=False)) for i in range(600)]
>>> b = Baskets.from_long(np.repeat(np.arange(600), 2).astype(str), np.array(lists).ravel(), np.repeat(days, 2))
>>> m = Reranker(n_estimators=20, min_data_in_leaf=2).fit(b)
>>> folder = Path(tempfile.mkdtemp()) / "ranker"
>>> _ = save_reranker(m, folder)
>>> again = load_reranker(folder, b)
>>> bool((again.recommend(["tea"], k=2)[1] == m.recommend(["tea"], k=2)[1]).all())
True
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bundlewise._version import __version__
from bundlewise.errors import CheckpointError, ConfigError
from bundlewise.mining.baskets import Baskets
from bundlewise.outputs import check_output_dir, replace_folder
from bundlewise.pairmodel.io import _file_record
from bundlewise.pairmodel.rerank import FEATURES, Reranker

FORMAT = 1
META = "ranker.json"
BOOSTERS = {"warm": "warm.lgb.txt", "cold": "cold.lgb.txt"}
RANKER_FILES = frozenset({META, *BOOSTERS.values()})
WHAT = "a saved ranker"


def _retrain(path: Path) -> str:
    return f"retrain with bundlewise train-ranker --output {path}"


def _sidecar(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("kind") == "reranker" else None


def is_saved_ranker(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a saved ranker and nothing else."""
    path = Path(path)
    return path.is_dir() and _sidecar(path) is not None and all(p.name in RANKER_FILES for p in path.iterdir())


def check_ranker_output(path: str | Path, *, warehouse: str | Path | None = None, option: str = "--output") -> Path:
    """Refuse a folder that is not absent, empty or an earlier saved ranker (call it before training)."""
    return check_output_dir(path, what=WHAT, ours=is_saved_ranker, warehouse=warehouse, option=option)


def products_fingerprint(item_ids: np.ndarray) -> str:
    """Fingerprint of the ranker's product list (the order its rows index)."""
    return hashlib.sha256("\n".join(map(str, item_ids)).encode()).hexdigest()[:16]


def save_reranker(model: Reranker, path: str | Path, *, encoder_id: str | None = None,
                  warehouse_fp: str | None = None, metrics: dict[str, Any] | None = None) -> Path:
    """Write a fitted ranker to the folder ``path``, replacing an earlier saved ranker atomically.

    Raises
    ------
    ConfigError
        The ranker uses the pair network's logit (not saved yet: fit it with ``network_epochs=0``).
    OutputError
        ``path`` is a file, or a folder holding anything but an earlier saved ranker.
    """
    model._check_fitted()
    if model.network_ is not None:
        raise ConfigError("this ranker reads the pair network's logit (network_epochs > 0), which is not saved "
                          "with it; fit it with network_epochs=0 to save it, or keep it in this process")
    path = check_ranker_output(path)
    one = model.models_["cold"] is model.models_["warm"]
    with replace_folder(path, still_ours=is_saved_ranker) as tmp:
        files = {}
        for mode, name in BOOSTERS.items():
            if mode == "cold" and one:
                continue
            (tmp / name).write_text(model.models_[mode].model_to_string(), encoding="utf-8")
            files[name] = _file_record(tmp / name)
        meta = {
            "kind": "reranker", "format": FORMAT, "bundlewise_version": __version__,
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()},
            "features": list(FEATURES), "columns": [int(c) for c in model.columns_],
            "cold_backoff": bool(model.cold_backoff_), "one_model": one,
            "held_recall": {k: float(v) for k, v in model.held_recall_.items()},
            "n_products": len(model.item_ids_), "products_fingerprint": products_fingerprint(model.item_ids_),
            "encoder_id": encoder_id, "warehouse_fingerprint": warehouse_fp, "files": files, "metrics": metrics or {},
        }
        (tmp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def read_ranker_meta(path: str | Path) -> dict[str, Any]:
    """The checked ``ranker.json`` of a saved ranker.

    Raises
    ------
    CheckpointError
        Missing, unreadable, another format or version, another feature list, changed files.
    """
    path = Path(path)
    if not (path / META).is_file():
        raise CheckpointError(f"no saved ranker at {path} (no {META}); train one with bundlewise train-ranker "
                              f"--output {path}")
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"saved ranker {path} is damaged ({META} is not readable JSON: {exc}); "
                              f"{_retrain(path)}") from None
    if not isinstance(meta, dict) or meta.get("kind") != "reranker":
        raise CheckpointError(f"{path / META} is not a saved ranker's sidecar; give the folder written by "
                              "bundlewise train-ranker")
    if meta.get("format") != FORMAT or str(meta.get("bundlewise_version", "")).split(".")[0] \
            != __version__.split(".")[0]:
        raise CheckpointError(f"{path} was saved by bundlewise {meta.get('bundlewise_version')!r} in format "
                              f"{meta.get('format')!r}; this bundlewise {__version__} reads format {FORMAT}: "
                              f"{_retrain(path)}")
    if meta.get("features") != list(FEATURES):
        raise CheckpointError(f"{path} was trained on the features {meta.get('features')}; this bundlewise "
                              f"computes {list(FEATURES)}: {_retrain(path)}")
    for name, rec in (meta.get("files") or {}).items():
        f = path / name
        if not f.is_file() or _file_record(f) != {"bytes": rec.get("bytes"), "sha256": rec.get("sha256")}:
            raise CheckpointError(f"saved ranker {path} is damaged ({name} is missing or does not match the "
                                  f"checksum in {META}); {_retrain(path)}")
    if BOOSTERS["warm"] not in (meta.get("files") or {}):
        raise CheckpointError(f"saved ranker {path} is damaged ({META} lists no {BOOSTERS['warm']}); "
                              f"{_retrain(path)}")
    return meta


def load_reranker(path: str | Path, baskets: Baskets, catalog: pd.DataFrame | None = None, *,
                  warehouse_fp: str | None = None, allow_other_data: bool = False) -> Reranker:
    """A ranker saved by :func:`save_reranker`, serving from ``baskets`` and ``catalog``.

    Parameters
    ----------
    baskets, catalog
        The data it was trained on (its evidence is rebuilt from them), as ``fit`` took them.
    warehouse_fp
        :func:`~bundlewise.pairmodel.io.warehouse_fingerprint` of the warehouse they come from; checked
        against the one recorded at training unless ``allow_other_data`` (newer orders of the same shop:
        the features are rates per basket, so a ranker can serve a longer history).

    Raises
    ------
    CheckpointError
        Damaged or incompatible, or other data than it was trained on.
    """
    import lightgbm as lgb

    path = Path(path)
    meta = read_ranker_meta(path)
    recorded = meta.get("warehouse_fingerprint")
    if not allow_other_data and recorded and warehouse_fp and recorded != warehouse_fp:
        raise CheckpointError(f"the ranker at {path} was trained on other baskets than this warehouse holds "
                              f"(fingerprint {recorded}, this warehouse {warehouse_fp}: orders ingested since, or "
                              f"another shop); {_retrain(path)}, or pass --allow-other-data to serve it anyway")
    params = {k: (tuple(v) if k == "drop_groups" else v) for k, v in meta["params"].items()}
    model = Reranker(**params)
    try:
        boosters = {m: lgb.Booster(model_str=(path / name).read_text(encoding="utf-8"))
                    for m, name in BOOSTERS.items() if name in meta["files"]}
    except Exception as exc:  # any parse failure of LightGBM's text is damage
        raise CheckpointError(f"saved ranker {path} is damaged ({type(exc).__name__}: {exc}); "
                              f"{_retrain(path)}") from None
    boosters.setdefault("cold", boosters["warm"])
    model.serve_from(baskets, catalog, boosters, meta["columns"], meta["cold_backoff"])
    if not allow_other_data and products_fingerprint(model.item_ids_) != meta["products_fingerprint"]:
        raise CheckpointError(f"the ranker at {path} was trained on {meta['n_products']:,} products, these data "
                              f"hold {len(model.item_ids_):,} others; {_retrain(path)}, or pass "
                              "--allow-other-data")
    model.held_recall_ = dict(meta.get("held_recall") or {})
    model.encoder_id_ = meta.get("encoder_id")
    model.saved_meta_ = meta
    return model
