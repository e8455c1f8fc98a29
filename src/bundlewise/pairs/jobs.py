"""The evaluation job behind ``bundlewise evaluate``: warehouse → split → tune → test → report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bundlewise.config import EvalConfig
from bundlewise.errors import ConfigError, allowed
from bundlewise.ingest.catalog import load_catalog
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.mining.source import load_baskets
from bundlewise.pairs.benchmark import BenchmarkResult, Family, families, tune_and_test
from bundlewise.pairs.report import write_report
from bundlewise.pairs.split import temporal_split
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

TEXT_MODELS = ("text",)


@dataclass
class EvaluationRun:
    bench: BenchmarkResult
    paths: dict[str, Path]
    embedding_model: str | None


def with_embeddings(wh: Warehouse, catalog: pd.DataFrame, encoder: Any, progress: Progress) -> tuple[pd.DataFrame,
                                                                                                    str]:
    """The catalogue with an ``embedding`` column from the warehouse's embedding cache."""
    from bundlewise.text import embed_catalog

    res = embed_catalog(wh, encoder, catalog=catalog, progress=progress)
    lookup = dict(zip(res.product_ids, res.vectors, strict=True))
    out = catalog.copy()
    out["embedding"] = [lookup[p] for p in out["product_id"]]
    return out, res.model_id


def run_evaluation(wh: Warehouse, config: EvalConfig, models: list[str], out_dir: str | Path, *,
                   title: str = "bundlewise evaluation", max_configs: int = 8, encoder: Any = None,
                   extra_models: dict[str, Family] | None = None, progress: Progress = NULL_PROGRESS
                   ) -> EvaluationRun:
    """Evaluate the named baselines (and ``extra_models``) on the warehouse's baskets.

    Parameters
    ----------
    wh : Warehouse
    config : EvalConfig
    models : list of str
        Baseline families (see :func:`bundlewise.pairs.benchmark.families`).
    out_dir : path
        Where ``results.md``, ``results.json`` and ``report.html`` go.
    encoder : ProductEncoder, optional
        For text models; default ``ProductEncoder()``.
    extra_models : dict, optional
        More families, e.g. the learned pair model.
    """
    known = families(config.seed)
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ConfigError(f"unknown model(s) {allowed(unknown)}; allowed models are {allowed(sorted(known))}")
    baskets = load_baskets(wh, progress=progress)
    catalog = load_catalog(wh)
    catalog = catalog[catalog["n_orders"] > 0].reset_index(drop=True)  # the split keeps sold products only
    embedding_model = None
    needs_text = any(m in TEXT_MODELS for m in models) or bool(extra_models)
    if needs_text:
        if encoder is None:
            from bundlewise.text import ProductEncoder

            encoder = ProductEncoder()
        catalog, embedding_model = with_embeddings(wh, catalog, encoder, progress)
    split = temporal_split(baskets, catalog, config)
    chosen = {name: fam for name, fam in families(config.seed, encoder).items() if name in models}
    chosen.update(extra_models or {})
    bench = tune_and_test(split, chosen, max_configs=max_configs, progress=progress)
    paths = write_report(bench, out_dir, title=title,
                         extra={"config": config.to_dict(), "embedding_model": embedding_model})
    return EvaluationRun(bench, paths, embedding_model)


@dataclass
class TrainingRun:
    model: Any
    path: Path
    encoder_id: str
    n_baskets: int
    n_products: int
    report: Path


def train_pair_model(wh: Warehouse, out_path: str | Path, *, params: dict[str, Any] | None = None,
                     encoder: Any = None, progress: Progress = NULL_PROGRESS) -> TrainingRun:
    """Fit a :class:`~bundlewise.pairs.model.PairModel` on every basket of the warehouse and save it.

    The catalogue is every real product (sold or not: unsold ones are still reachable by text);
    embeddings come from the warehouse's cache. Writes the checkpoint folder plus
    ``training.html`` (loss curves) and ``metrics.json`` inside it; TensorBoard logs too when
    ``torch.utils.tensorboard`` is importable.
    """
    import json

    from bundlewise.pairs.model import PairModel, check_order_times
    from bundlewise.pairs.model_io import check_checkpoint_output, save_pair_model, warehouse_fingerprint

    # refuse a folder we may not replace before minutes of training, not after
    out_path = check_checkpoint_output(out_path, warehouse=wh.path)
    if encoder is None:
        from bundlewise.text import ProductEncoder

        encoder = ProductEncoder()
    baskets = load_baskets(wh, progress=progress)
    check_order_times(baskets)  # before minutes of text encoding
    fingerprint = warehouse_fingerprint(wh)
    catalog, encoder_id = with_embeddings(wh, load_catalog(wh), encoder, progress)
    model = PairModel(**(params or {})).fit(baskets, catalog, progress=progress)
    metrics = {"best_held_out_bce": model.best_loss_, "best_epoch": model.best_epoch_,
               "fit_seconds": model.fit_seconds_, "n_baskets": baskets.n_baskets, "n_products": len(catalog)}

    def reports(folder: Path) -> None:  # written into the new folder, so they are swapped in with it
        (folder / "metrics.json").write_text(json.dumps({**metrics, "history": model.history_}, indent=2),
                                             encoding="utf-8")
        _training_report(model, folder / "training.html")
        _tensorboard(model, folder / "tensorboard")

    path = save_pair_model(model, out_path, encoder_id=encoder_id, metrics=metrics, warehouse_fp=fingerprint,
                           also=reports)
    return TrainingRun(model, path, encoder_id, baskets.n_baskets, len(catalog), path / "training.html")


def _training_report(model: Any, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bundlewise.report import HtmlReport

    hist = pd.DataFrame(model.history_)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(hist.epoch, hist.train_loss, marker="o", label="training loss (BCE + volume)")
    ax.plot(hist.epoch, hist.held_out_bce, marker="o", label="held-out BCE")
    ax.axvline(model.best_epoch_, color="#999", ls="--", lw=1)
    ax.set_xlabel("epoch")
    ax.legend(frameon=False)
    page = HtmlReport("Pair model training", f"best held-out BCE {model.best_loss_:.4f} at epoch "
                                             f"{model.best_epoch_}; {model.fit_seconds_:.0f} s")
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
