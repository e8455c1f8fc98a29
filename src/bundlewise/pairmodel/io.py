"""Save and load a fitted :class:`~bundlewise.pairmodel.model.PairModel` without pickle.

A checkpoint is a folder: ``model.safetensors`` (network weights), ``arrays.npz`` (product ids,
vectors, prices, categories, sales and pair counts; ``allow_pickle=False``) and ``model.json``
(format, package version, parameters, encoder id, the pair-feature list, the fingerprints of the
training tables and of the warehouse, size and SHA-256 of both data files, training metrics and
history), plus ``metrics.json``, ``training.html`` and ``tensorboard/`` written by ``train``.

Writing never deletes anything but an earlier checkpoint: the target must be absent, empty or a
checkpoint holding only checkpoint files (checked before training), and the new one is built in a
temporary folder beside it and swapped in by renames. Loading refuses a damaged checkpoint (with
"retrain"), one from an incompatible version or feature list, and one trained on other data than
the warehouse it is used with (unless ``allow_other_data``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise._version import __version__
from bundlewise.errors import CheckpointError
from bundlewise.outputs import check_output_dir, replace_folder
from bundlewise.pairmodel.features import PAIR_FEATURES, PairTable

log = logging.getLogger(__name__)

FORMAT = 1
META, ARRAYS, WEIGHTS = "model.json", "arrays.npz", "model.safetensors"
DATA_FILES = (WEIGHTS, ARRAYS)
# every name a checkpoint folder may hold: a folder with anything else is not replaced (it is not only ours)
CHECKPOINT_FILES = frozenset({META, ARRAYS, WEIGHTS, "metrics.json", "training.html", "tensorboard"})
WHAT = "a pair-model checkpoint"


def data_fingerprint(item_ids: np.ndarray, item_counts: np.ndarray, n_pairs: int) -> str:
    """Fingerprint of the training tables stored in ``arrays.npz`` (ids, sales counts, pair count)."""
    h = hashlib.sha256()
    h.update("\n".join(map(str, item_ids)).encode())
    h.update(np.asarray(item_counts, dtype=np.int64).tobytes())
    h.update(str(n_pairs).encode())
    return h.hexdigest()[:16]


def warehouse_fingerprint(wh: Any) -> str:
    """Fingerprint of the baskets a warehouse holds: every product with its basket count, and the
    number of baskets. The same orders loaded into another warehouse give the same fingerprint;
    another shop, or orders ingested since, give another."""
    h = hashlib.sha256()
    n = wh.con.execute("SELECT count(DISTINCT order_id) FROM basket_items").fetchall()[0][0]
    h.update(f"baskets {n}\n".encode())
    for pid, count in wh.con.execute("SELECT product_id, count(*) FROM basket_items GROUP BY 1 ORDER BY 1"
                                     ).fetchall():
        h.update(f"{pid}\t{count}\n".encode())
    return h.hexdigest()[:16]


def _retrain(path: Path) -> str:
    return f"retrain with bundlewise train --output {path}"


def _damaged(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is damaged ({detail}); {_retrain(path)}")


def _sidecar(path: Path) -> dict[str, Any] | None:
    """The parsed ``model.json`` when it is a bundlewise sidecar, else None (never raises)."""
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and "format" in meta and "bundlewise_version" in meta else None


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a bundlewise checkpoint (a sidecar with a ``format`` key)
    and nothing but checkpoint files."""
    path = Path(path)
    return (path.is_dir() and _sidecar(path) is not None
            and all(p.name in CHECKPOINT_FILES for p in path.iterdir()))


def check_checkpoint_output(path: str | Path, *, warehouse: str | Path | None = None,
                            option: str = "--output") -> Path:
    """Refuse a checkpoint folder that is not absent, empty or an earlier checkpoint; call it before training.

    Raises
    ------
    OutputError
        Naming what is in the way; nothing is created or deleted.
    """
    path = Path(path)
    if path.is_dir() and _sidecar(path) is not None:
        extra = sorted(p.name for p in path.iterdir() if p.name not in CHECKPOINT_FILES)
        if extra:
            from bundlewise.errors import OutputError

            shown = ", ".join(repr(e) for e in extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
            raise OutputError(f"{option} {str(path)!r} holds a checkpoint and other files ({shown}); a checkpoint "
                              "folder is replaced whole, and bundlewise never deletes files it did not write: move "
                              "them out or pick a new folder name")
    return check_output_dir(path, what=WHAT, ours=is_checkpoint, warehouse=warehouse, option=option)


def _file_record(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def write_checkpoint(model: Any, folder: str | Path, *, encoder_id: str | None = None,
                     metrics: dict[str, Any] | None = None, warehouse_fp: str | None = None) -> None:
    """Write the three checkpoint files into an existing (normally new, temporary) ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.net_.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    t, r = model.table_, model.recent_table_
    recent = {} if r is None else {
        "recent_keys": r.keys, "recent_weights": r.weights, "recent_item_weights": r.item_weights,
        "recent_total": np.array([r.total_weight])}
    np.savez(folder / ARRAYS, item_ids=model.item_ids_.astype(str), vectors=model.vectors_,
             has_text=model.has_text_, log_price=model.log_price_, category=model.category_,
             item_counts=model.item_counts_, pair_keys=t.keys, pair_weights=t.weights,
             item_weights=t.item_weights, total_weight=np.array([t.total_weight]), **recent)
    meta = {
        "format": FORMAT, "bundlewise_version": __version__, "params": model.get_params(),
        "encoder_id": encoder_id, "d_text": int(model.vectors_.shape[1]), "pair_features": list(PAIR_FEATURES),
        "data_fingerprint": data_fingerprint(model.item_ids_, model.item_counts_, len(t.keys)),
        "warehouse_fingerprint": warehouse_fp,
        "files": {name: _file_record(folder / name) for name in DATA_FILES},
        "n_products": len(model.item_ids_), "volume_mean": model.volume_mean_, "volume_std": model.volume_std_,
        "best_held_out_bce": model.best_loss_, "best_epoch": model.best_epoch_, "history": model.history_,
        "fit_seconds": model.fit_seconds_, "metrics": metrics or {},
        "calibration": None if getattr(model, "calibration_", None) is None else model.calibration_.to_dict(),
        "examples": getattr(model, "examples_", None), "stopped_by": getattr(model, "stopped_by_", None),
    }
    (folder / META).write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")


def save_pair_model(model: Any, path: str | Path, *, encoder_id: str | None = None,
                    metrics: dict[str, Any] | None = None, warehouse_fp: str | None = None,
                    also: Callable[[Path], None] | None = None) -> Path:
    """Write ``model`` to the checkpoint folder ``path``, replacing an earlier checkpoint atomically.

    Parameters
    ----------
    warehouse_fp
        :func:`warehouse_fingerprint` of the warehouse it was trained on, checked when it is loaded
        for a warehouse.
    also
        Called with the new (temporary) folder to add more files (reports) before the swap.

    Raises
    ------
    OutputError
        ``path`` is a file, or a folder that holds anything but an earlier checkpoint.
    """
    model._check_fitted()
    path = check_checkpoint_output(path)
    with replace_folder(path, still_ours=is_checkpoint) as tmp:
        write_checkpoint(model, tmp, encoder_id=encoder_id, metrics=metrics, warehouse_fp=warehouse_fp)
        if also is not None:
            also(tmp)
    return path


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def read_meta(path: str | Path) -> dict[str, Any]:
    """The checked sidecar of a checkpoint: present, parsable, our format, a compatible version.

    Raises
    ------
    CheckpointError
        What is wrong and how to fix it (mostly: retrain).
    """
    path = Path(path)
    if not path.is_dir():
        hint = ""
        backups = sorted(path.parent.glob(f".{path.name}.old-*")) if path.parent.is_dir() else []
        if backups:
            hint = (f"; a replacement was interrupted and the previous checkpoint is in {backups[-1]}: rename it "
                    f"back to {path.name}")
        raise CheckpointError(f"no pair-model checkpoint at {path}{hint}; train one with bundlewise train "
                              f"--output {path}")
    meta_path = path / META
    if not meta_path.exists():
        if any(path.iterdir()):
            raise _damaged(path, f"{META} is missing")
        raise CheckpointError(f"{path} is an empty folder, not a pair-model checkpoint; train one with "
                              f"bundlewise train --output {path}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, f"{META} is not readable JSON: {exc}") from None
    if not isinstance(meta, dict) or "format" not in meta:
        raise CheckpointError(f"{meta_path} is not a bundlewise checkpoint sidecar (no 'format' key); give the "
                              "folder written by bundlewise train")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {meta.get('format')!r}; this bundlewise reads format "
                              f"{FORMAT}: {_retrain(path)}")
    written = str(meta.get("bundlewise_version", "?"))
    ours, theirs = _version_tuple(__version__), _version_tuple(written)
    if not theirs or theirs[0] != ours[0] or theirs > ours:
        raise CheckpointError(f"{path} was written by bundlewise {written}; this is bundlewise {__version__}, which "
                              f"reads checkpoints of {ours[0]}.x up to {'.'.join(map(str, ours))}: {_retrain(path)} "
                              "(or use the bundlewise that wrote it)")
    features = meta.get("pair_features")
    if features is not None and list(features) != list(PAIR_FEATURES):
        raise CheckpointError(f"{path} was trained on the pair features {features}; this bundlewise computes "
                              f"{list(PAIR_FEATURES)}: {_retrain(path)}")
    for key in ("params", "d_text", "data_fingerprint", "volume_mean", "volume_std", "best_held_out_bce",
                "best_epoch", "history", "fit_seconds"):
        if key not in meta:
            raise _damaged(path, f"{META} has no {key!r}")
    return meta


def _check_files(path: Path, meta: dict[str, Any]) -> None:
    for name in DATA_FILES:
        if not (path / name).is_file():
            raise _damaged(path, f"{name} is missing")
    for name, rec in (meta.get("files") or {}).items():  # older checkpoints carry no record
        got = _file_record(path / name)
        if got["bytes"] != rec.get("bytes"):
            raise _damaged(path, f"{name} has {got['bytes']:,} bytes, the sidecar recorded {rec.get('bytes'):,}")
        if got["sha256"] != rec.get("sha256"):
            raise _damaged(path, f"{name} does not match the checksum recorded in {META} (changed or mixed with "
                                 "another checkpoint)")


def load_pair_model(path: str | Path, *, warehouse: Any = None, allow_other_data: bool = False) -> Any:
    """A fitted PairModel from a checkpoint folder written by :func:`save_pair_model`.

    Parameters
    ----------
    warehouse
        An open :class:`~bundlewise.ingest.Warehouse` the model will be used with: its data must be
        the data the model was trained on (see :func:`check_model_data`).
    allow_other_data
        Accept a model trained on other data (logged as a warning).

    Raises
    ------
    CheckpointError
        Damaged (missing file, bad npz, bad safetensors, bad JSON: "retrain"), incompatible, or other data.
    """
    import torch
    from safetensors.torch import load_file

    from bundlewise.mining.copurchase import CoPurchaseStats
    from bundlewise.pairmodel.calibration import Calibration
    from bundlewise.pairmodel.model import PairModel
    from bundlewise.pairmodel.network import PairNet

    path = Path(path)
    meta = read_meta(path)
    _check_files(path, meta)
    try:
        with np.load(path / ARRAYS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for key in ("item_ids", "vectors", "has_text", "log_price", "category", "item_counts", "pair_keys",
                    "pair_weights", "item_weights", "total_weight"):
            if key not in arrays:
                raise KeyError(key)
        weights = load_file(str(path / WEIGHTS))
    except Exception as exc:  # any failure to parse the files is damage, whatever the library raises
        raise _damaged(path, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if data_fingerprint(arrays["item_ids"], arrays["item_counts"], len(arrays["pair_keys"])) \
            != meta["data_fingerprint"]:
        raise _damaged(path, f"{ARRAYS} does not belong to {META}: their data fingerprints differ")
    model = PairModel(**meta["params"])
    model.item_ids_ = arrays["item_ids"].astype(object)
    model.vectors_, model.has_text_ = arrays["vectors"], arrays["has_text"]
    model.vectors64_ = np.asarray(model.vectors_, dtype=np.float64)
    model.log_price_, model.category_ = arrays["log_price"], arrays["category"]
    model.item_counts_ = arrays["item_counts"]
    n = len(model.item_ids_)
    model.table_ = PairTable(arrays["pair_keys"], arrays["pair_weights"], arrays["item_weights"],
                             float(arrays["total_weight"][0]), n)
    model.recent_table_ = (PairTable(arrays["recent_keys"], arrays["recent_weights"], arrays["recent_item_weights"],
                                     float(arrays["recent_total"][0]), n) if "recent_keys" in arrays else None)
    # the candidate generator's co-purchase index, rebuilt from the stored pair counts
    stats = CoPurchaseStats(min_count=1, metric="confidence")
    stats.item_ids_ = model.item_ids_
    stats.n_baskets_ = int(round(float(arrays["total_weight"][0])))
    stats.item_counts_ = model.item_counts_
    stats.item_weights_ = arrays["item_weights"]
    stats.total_weight_ = float(arrays["total_weight"][0])
    stats.pair_a_ = (arrays["pair_keys"] // n).astype(np.int32)
    stats.pair_b_ = (arrays["pair_keys"] % n).astype(np.int32)
    stats.pair_w_ = arrays["pair_weights"]
    stats.pair_n_ = np.maximum(np.rint(arrays["pair_weights"]), 1).astype(np.int32)  # decayed weights: keep >= 1
    stats.reindex()
    model.stats_ = stats
    model.device_ = "cuda" if torch.cuda.is_available() and model.device != "cpu" else "cpu"
    net = PairNet(meta["d_text"], hidden=meta["params"]["hidden"])
    try:
        net.load_state_dict(weights)
    except RuntimeError as exc:  # missing/unexpected keys or shapes: weights of another network
        raise _damaged(path, f"{WEIGHTS} does not fit the network in {META}: {str(exc).splitlines()[0]}") from None
    model.net_ = net.to(model.device_).eval()
    model.volume_mean_, model.volume_std_ = meta["volume_mean"], meta["volume_std"]
    model.best_loss_, model.best_epoch_ = meta["best_held_out_bce"], meta["best_epoch"]
    model.history_, model.fit_seconds_ = meta["history"], meta["fit_seconds"]
    model.encoder_id_ = meta.get("encoder_id")
    # older checkpoints have no calibration: their scores are shown as scores, not probabilities
    model.calibration_ = Calibration.from_dict(meta.get("calibration"))
    model.examples_, model.stopped_by_ = meta.get("examples"), meta.get("stopped_by")
    model.checkpoint_path_, model.checkpoint_meta_ = path, meta
    if warehouse is not None:
        check_model_data(model, warehouse, allow_other_data=allow_other_data)
    return model


def check_model_data(model: Any, wh: Any, *, allow_other_data: bool = False) -> None:
    """Refuse a loaded model whose training data is not the warehouse's current data.

    ``wh`` is an open warehouse or its :func:`warehouse_fingerprint`.

    Raises
    ------
    CheckpointError
        Unless ``allow_other_data``; then the mismatch is logged as a warning.
    """
    meta = getattr(model, "checkpoint_meta_", None) or {}
    path = getattr(model, "checkpoint_path_", "the checkpoint")
    recorded = meta.get("warehouse_fingerprint")
    current = wh if isinstance(wh, str) else warehouse_fingerprint(wh)
    if recorded == current:
        return
    why = ("records no warehouse fingerprint (saved without one)" if recorded is None else
           f"was trained on other data (fingerprint {recorded}; this warehouse holds {current}: another warehouse, "
           "or orders were ingested since training)")
    if allow_other_data:
        log.warning("checkpoint %s %s; used anyway (--allow-other-data)", path, why)
        return
    raise CheckpointError(f"checkpoint {path} {why}; {_retrain(Path(str(path)))}, or pass --allow-other-data to use "
                          "it with this warehouse anyway")
