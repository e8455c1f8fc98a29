"""The frequently-bought-together yardstick: every baseline and the pair model, tuned on validation,
scored on test, warm and cold-start products, on the public datasets.

Run: ``python -m bench.bench_eval [online-retail instacart-sample complete-journey]`` (default: the
first two). Each dataset is loaded once into ``bench/results/eval/<name>.duckdb``; results go to
``bench/results/eval/<name>/`` (results.md, results.json, report.html) and the markdown tables are
printed. Same split, metrics and seeds as ``bundlewise evaluate --dataset NAME --pair-model ...``.
``BENCH_EVAL_SKIP=item2vec,pair`` leaves families out (item2vec is the slow one on Complete Journey);
``BENCH_PAIR_GRID=0`` fits the pair model once (volume weight 0.3) instead of tuning it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from bench._harness import ROOT, SHARED

OUT = ROOT / "bench" / "results" / "eval"
BASELINES = ["random", "popularity", "cooccurrence", "item2vec", "als", "text"]


def dataset_warehouse(name: str) -> Path:
    """``bench/results/eval/<name>.duckdb``, loaded once (the shared copy where the dataset needs a file)."""
    from bundlewise.ingest import Warehouse
    from bundlewise.ingest.datasets import find_local_copy, get_dataset, load_dataset

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"{name}.duckdb"
    if not db.exists():
        path = find_local_copy(name, [SHARED]) if get_dataset(name).path_help else None
        with Warehouse(db) as wh:
            load_dataset(wh, name, path)
    return db


def run(name: str) -> str:
    from bundlewise.config import EvalConfig
    from bundlewise.evaluation.jobs import run_evaluation
    from bundlewise.evaluation.tuning import Family
    from bundlewise.ingest import Warehouse
    from bundlewise.pairmodel.model import PairModel

    db = dataset_warehouse(name)
    grid = {"volume_weight": (0.0, 0.3)} if os.environ.get("BENCH_PAIR_GRID", "1") != "0" else {}
    pair = Family("pair", PairModel, grid)
    skip = set(os.environ.get("BENCH_EVAL_SKIP", "").split(","))
    t0 = time.perf_counter()
    with Warehouse(db) as wh:
        models = [b for b in BASELINES if b not in skip]
        res = run_evaluation(wh, EvalConfig(), models, OUT / name, title=f"bundlewise evaluation: {name}",
                             extra_models={} if "pair" in skip else {"pair": pair})
    md = (OUT / name / "results.md").read_text()
    return f"{md}\n(total {time.perf_counter() - t0:.0f} s; split {res.bench.split})\n"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = sys.argv[1:] or ["online-retail", "instacart-sample"]
    for name in names:
        print(run(name), flush=True)


if __name__ == "__main__":
    main()
