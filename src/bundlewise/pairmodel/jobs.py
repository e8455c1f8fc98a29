"""The training job behind ``bundlewise train``: warehouse → baskets + embedded catalogue → PairModel → checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bundlewise.config import PairModelConfig
from bundlewise.ingest.catalog import load_catalog
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.mining.source import load_baskets
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.text.jobs import with_embeddings

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    model: Any
    path: Path
    encoder_id: str
    n_baskets: int
    n_products: int
    report: Path


def train_pair_model(wh: Warehouse, out_path: str | Path, *, params: PairModelConfig | Mapping[str, Any] | None = None,
                     encoder: Any = None, progress: Progress = NULL_PROGRESS) -> TrainingRun:
    """Fit a :class:`~bundlewise.pairmodel.model.PairModel` on every basket of the warehouse and save it.

    The catalogue is every real product (sold or not: unsold ones are still reachable by text);
    embeddings come from the warehouse's cache. Writes the checkpoint folder plus
    ``training.html`` (loss curves) and ``metrics.json`` inside it; TensorBoard logs too when
    ``torch.utils.tensorboard`` is importable.

    ``params`` is a :class:`~bundlewise.config.PairModelConfig` or a dict of its keys (validated
    through it, so an unknown key or a bad value is a :class:`~bundlewise.errors.ConfigError`
    before anything is read); None = the defaults.
    """
    import json

    from bundlewise.pairmodel.io import check_checkpoint_output, save_pair_model, warehouse_fingerprint
    from bundlewise.pairmodel.model import PairModel, check_order_times

    config = params if isinstance(params, PairModelConfig) else PairModelConfig.from_dict(params or {})
    # refuse a folder we may not replace before minutes of training, not after
    out_path = check_checkpoint_output(out_path, warehouse=wh.path)
    if encoder is None:
        from bundlewise.text import ProductEncoder

        encoder = ProductEncoder()
    baskets = load_baskets(wh, progress=progress)
    check_order_times(baskets)  # before minutes of text encoding
    fingerprint = warehouse_fingerprint(wh)
    catalog, encoder_id = with_embeddings(wh, load_catalog(wh), encoder, progress)
    model = PairModel(**config.to_dict()).fit(baskets, catalog, progress=progress)
    metrics = {"best_held_out_bce": model.best_loss_, "best_epoch": model.best_epoch_,
               "epochs_run": len(model.history_), "stopped_by": model.stopped_by_,
               "fit_seconds": model.fit_seconds_, "n_baskets": baskets.n_baskets, "n_products": len(catalog),
               "examples": model.examples_,
               "calibration": None if model.calibration_ is None else model.calibration_.to_dict()}

    def reports(folder: Path) -> None:  # written into the new folder, so they are swapped in with it
        (folder / "metrics.json").write_text(json.dumps({**metrics, "history": model.history_}, indent=2),
                                             encoding="utf-8")
        _training_report(model, folder / "training.html")
        _tensorboard(model, folder / "tensorboard")

    path = save_pair_model(model, out_path, encoder_id=encoder_id, metrics=metrics, warehouse_fp=fingerprint,
                           also=reports)
    return TrainingRun(model, path, encoder_id, baskets.n_baskets, len(catalog), path / "training.html")


@dataclass
class RankerRun:
    model: Any
    path: Path
    encoder_id: str
    n_baskets: int
    n_products: int
    fit_seconds: float


def ranker_inputs(wh: Warehouse, encoder: Any, progress: Progress = NULL_PROGRESS) -> tuple[Any, pd.DataFrame, str]:
    """The baskets and the embedded catalogue (every real product) a ranker is fitted on and served from."""
    baskets = load_baskets(wh, progress=progress)
    catalog, encoder_id = with_embeddings(wh, load_catalog(wh), encoder, progress)
    return baskets, catalog, encoder_id


def train_reranker(wh: Warehouse, out_path: str | Path, *, params: Mapping[str, Any] | None = None,
                   encoder: Any = None, progress: Progress = NULL_PROGRESS) -> RankerRun:
    """Fit a :class:`~bundlewise.pairmodel.rerank.Reranker` on every basket of the warehouse and save it
    (:func:`~bundlewise.pairmodel.rerank_io.save_reranker`; the folder is checked before any work).

    ``params`` are the ranker's keys (:class:`~bundlewise.pairmodel.rerank.RerankerConfig`: an unknown
    key or a bad value is a :class:`~bundlewise.errors.ConfigError` before anything is read).
    """
    import time

    from bundlewise.pairmodel.io import warehouse_fingerprint
    from bundlewise.pairmodel.rerank import Reranker, RerankerConfig
    from bundlewise.pairmodel.rerank_io import check_ranker_output, save_reranker

    RerankerConfig.from_dict(dict(params or {}))  # refuse bad keys before minutes of work
    if (params or {}).get("network_epochs"):
        from bundlewise.errors import ConfigError

        raise ConfigError("network_epochs > 0: the pair network is not saved with a ranker; leave it at 0")
    out_path = check_ranker_output(out_path, warehouse=wh.path)
    if encoder is None:
        from bundlewise.text import ProductEncoder

        encoder = ProductEncoder()
    baskets, catalog, encoder_id = ranker_inputs(wh, encoder, progress)
    fingerprint = warehouse_fingerprint(wh)
    t0 = time.perf_counter()
    model = Reranker(**dict(params or {})).fit(baskets, catalog)
    seconds = time.perf_counter() - t0
    path = save_reranker(model, out_path, encoder_id=encoder_id, warehouse_fp=fingerprint,
                         metrics={"fit_seconds": seconds, "n_baskets": baskets.n_baskets})
    return RankerRun(model, path, encoder_id, baskets.n_baskets, len(model.item_ids_), seconds)


def _training_report(model: Any, path: Path) -> Path:
    from bundlewise.report import HtmlReport, pyplot

    plt = pyplot()

    hist = pd.DataFrame(model.history_)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(hist.epoch, hist.train_loss, marker="o", label="training loss (BCE + volume)")
    ax.plot(hist.epoch, hist.held_out_bce, marker="o", label="held-out BCE (newer baskets)")
    ax.axvline(model.best_epoch_, color="#999", ls="--", lw=1)
    ax.set_xlabel("epoch")
    ax.legend(frameon=False)
    page = HtmlReport("Pair model training", f"best held-out BCE {model.best_loss_:.4f} at epoch "
                                             f"{model.best_epoch_} of {len(model.history_)} (stopped by "
                                             f"{model.stopped_by_}); {model.fit_seconds_:.0f} s")
    page.heading("Loss curves").figure(fig).table(hist)
    page.heading("Parameters").table(pd.DataFrame([{k: str(v) for k, v in model.get_params().items()}]))
    return page.write(path)


def _tensorboard(model: Any, logdir: Path) -> None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional; the JSON and HTML logs are always written
        return
    writer = SummaryWriter(str(logdir))
    for row in model.history_:
        writer.add_scalar("loss/train", row["train_loss"], row["epoch"])
        writer.add_scalar("loss/held_out_bce", row["held_out_bce"], row["epoch"])
    writer.close()
