"""Tune every recommender on the validation block, then score it on the test block.

Each family has a grid; a seeded sample of at most ``max_configs`` points is fitted on the
training block and scored on validation (warm Recall@10 decides, without bootstrap), the best
point is refitted on the data allowed for the test (training + validation) and scored there
with confidence intervals. The chosen hyper-parameters are part of the result.

Examples
--------
>>> sorted(FAMILIES)[:3]
['als', 'cooccurrence', 'item2vec']
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.config import TUNING_METRIC
from bundlewise.errors import ConfigError, allowed
from bundlewise.evaluation.baselines import CoOccurrence, Popularity, RandomRanker
from bundlewise.evaluation.evaluate import EvalResult, evaluate
from bundlewise.evaluation.split import EvalSplit
from bundlewise.evaluation.vector_baselines import ALSItemSimilarity, Item2Vec, TextCosine, TextLoRA
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

# grid points sampled per family: the one default of the library, the CLI and bench_eval
MAX_CONFIGS = 6


@dataclass(frozen=True)
class Family:
    """A recommender family: how to build it from parameters, and the grid to tune over."""

    name: str
    factory: Callable[..., Any]
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    objective_group: str = "warm"  # text-only models are tuned on cold products, their reason to exist

    def configs(self, max_configs: int, seed: int) -> list[dict[str, Any]]:
        keys = sorted(self.grid)
        points = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(self.grid[k] for k in keys))]
        if len(points) <= max_configs:
            return points
        rng = np.random.default_rng(seed)
        return [points[i] for i in sorted(rng.choice(len(points), size=max_configs, replace=False))]


def _seeded(cls: type, seed: int) -> Callable[..., Any]:
    def make(**params: Any) -> Any:
        return cls(random_state=seed, **params)
    return make


def families(seed: int = 0, encoder: Any = None) -> dict[str, Family]:
    """The baseline families and their tuning grids."""
    return {
        "random": Family("random", _seeded(RandomRanker, seed)),
        "popularity": Family("popularity", Popularity),
        "cooccurrence": Family("cooccurrence", CoOccurrence, {
            "metric": ("confidence", "lift", "shrunk_lift", "jaccard", "cosine"),
            "min_count": (1, 3), "half_life_days": (None, 90.0)}),
        "item2vec": Family("item2vec", _seeded(Item2Vec, seed), {
            "ns_exponent": (-0.5, 0.0, 0.75), "window": (5, 30), "epochs": (10, 20), "min_count": (1, 3)}),
        "als": Family("als", _seeded(ALSItemSimilarity, seed), {
            "factors": (32, 64, 128), "regularization": (0.01, 0.1, 1.0), "alpha": (1.0, 10.0)}),
        "text": Family("text", lambda: TextCosine(encoder), {}, objective_group="cold"),
        # one grid point: each fit fine-tunes the encoder (minutes on CPU), so it is fitted for the test only
        "text-lora": Family("text-lora", lambda **kw: TextLoRA(encoder, random_state=seed, **kw), {"epochs": (1,)},
                            objective_group="cold"),
        "rerank": reranker_family(seed),
    }



@dataclass
class TuningRecord:
    family: str
    params: dict[str, Any]
    value: float
    seconds: float


@dataclass
class BenchmarkResult:
    """Test results of every family plus the validation scores of every configuration tried."""

    results: list[EvalResult]
    tuning: list[TuningRecord]
    split: dict[str, Any]
    seconds: float

    def table(self, metrics: Iterable[str] = ("recall@10", "recall@20", "ndcg@10", "mrr", "coverage@10",
                                               "popularity@10")) -> pd.DataFrame:
        rows = []
        for res in self.results:
            for group in ("warm", "cold"):
                row: dict[str, Any] = {"model": res.model, "group": group}
                for m in metrics:
                    r = res.metrics[(res.metrics.metric == m) & (res.metrics.group == group)]
                    row[m] = float(r.value.iloc[0]) if len(r) else float("nan")
                    row[m + "_low"] = float(r.low.iloc[0]) if len(r) else float("nan")
                    row[m + "_high"] = float(r.high.iloc[0]) if len(r) else float("nan")
                row["n_events"] = int(res.metrics[res.metrics.group == group].n_events.max())
                row["fit_s"], row["recommend_s"] = res.fit_seconds, res.recommend_seconds
                row["params"] = res.params
                rows.append(row)
        return pd.DataFrame(rows)


def tune_and_test(split: EvalSplit, models: dict[str, Family], *, max_configs: int = MAX_CONFIGS,
                  progress: Progress = NULL_PROGRESS) -> BenchmarkResult:
    """Tune each family on validation, then score the winner on test.

    Parameters
    ----------
    split : EvalSplit
    models : dict of name -> Family
        Usually a subset of :func:`families` plus the learned models.
    max_configs : int
        At most this many grid points per family (a seeded sample when the grid is larger).
    """
    if not models:
        raise ConfigError(f"no models to evaluate; allowed names are {allowed(FAMILIES + OPT_IN)}")
    t_start = time.perf_counter()
    seed = split.config.seed
    tuning: list[TuningRecord] = []
    results: list[EvalResult] = []
    plan = {name: fam.configs(max_configs, seed) for name, fam in models.items()}
    total = sum(len(c) if len(c) > 1 else 0 for c in plan.values()) + len(plan)
    with progress.task("evaluating models", total=total) as task:
        for name, fam in models.items():
            configs = plan[name]
            best = configs[0]
            if len(configs) > 1:
                best_value = -np.inf
                for params in configs:
                    t0 = time.perf_counter()
                    res = evaluate(fam.factory(**params), split, "valid", name=name, bootstrap=False, params=params)
                    value = res.value(TUNING_METRIC, fam.objective_group)  # EvalConfig guarantees ks holds its k
                    tuning.append(TuningRecord(name, params, value, time.perf_counter() - t0))
                    log.info("tune %s %s: valid %s %s %.4f", name, params, fam.objective_group, TUNING_METRIC, value)
                    if value > best_value:
                        best, best_value = params, value
                    task.advance()
            res = evaluate(fam.factory(**best), split, "test", name=name, params=best)
            log.info("%s test warm recall@10 %.4f cold %.4f (%.1f s fit)", name, res.value("recall@10", "warm"),
                     res.value("recall@10", "cold"), res.fit_seconds)
            results.append(res)
            task.advance()
    return BenchmarkResult(results, tuning, split.describe(), time.perf_counter() - t_start)


def pair_model_family(path: str | Path) -> Family:
    """The evaluation family of a trained checkpoint: same parameters, refitted inside the split
    (a model trained on all data would have seen the test block, so only its parameters are used
    and its training data need not be the evaluated warehouse's)."""
    from bundlewise.pairmodel.io import read_meta
    from bundlewise.pairmodel.model import PairModel

    params = read_meta(path)["params"]
    grid = {"volume_weight": tuple(dict.fromkeys((0.0, params["volume_weight"])))}
    return Family("pair", lambda **kw: PairModel(**{**params, **kw}), grid)


def reranker_family(seed: int = 0, **fixed: Any) -> Family:
    """The second-stage ranker (:class:`~bundlewise.pairmodel.rerank.Reranker`) as an evaluation family:
    tuned on the validation block over the label windows' length and number; ``fixed`` parameters
    (e.g. ``gate="off"``, ``drop_groups=("text",)``) are held for every grid point."""

    def make(**params: Any) -> Any:
        from bundlewise.pairmodel.rerank import Reranker

        return Reranker(random_state=seed, **{**fixed, **params})

    return Family("rerank", make, {"label_share": (0.05, 0.1), "label_windows": (1, 3)})


# Families run only when named (``--models …,text-lora``): minutes of fine-tuning per fit on a CPU.
OPT_IN = ("text-lora",)
FAMILIES = tuple(f for f in families() if f not in OPT_IN)  # the default set; after every maker is defined
