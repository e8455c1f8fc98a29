"""The evaluation job behind ``bundlewise evaluate``: warehouse → split → tune → test → report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundlewise.config import EvalConfig
from bundlewise.errors import ConfigError, allowed
from bundlewise.evaluation.report import write_report
from bundlewise.evaluation.split import temporal_split
from bundlewise.evaluation.tuning import MAX_CONFIGS, BenchmarkResult, Family, families, tune_and_test
from bundlewise.ingest.catalog import load_catalog
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.mining.source import load_baskets
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.text.jobs import with_embeddings

log = logging.getLogger(__name__)

TEXT_MODELS = ("text", "text-lora", "rerank")  # the ranker reads text similarity among its features


@dataclass
class EvaluationRun:
    bench: BenchmarkResult
    paths: dict[str, Path]
    embedding_model: str | None


def run_evaluation(wh: Warehouse, config: EvalConfig, models: list[str], out_dir: str | Path, *,
                   title: str = "bundlewise evaluation", max_configs: int = MAX_CONFIGS, encoder: Any = None,
                   extra_models: dict[str, Family] | None = None, progress: Progress = NULL_PROGRESS
                   ) -> EvaluationRun:
    """Evaluate the named baselines (and ``extra_models``) on the warehouse's baskets.

    Parameters
    ----------
    wh : Warehouse
    config : EvalConfig
    models : list of str
        Baseline families (see :func:`bundlewise.evaluation.tuning.families`).
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
