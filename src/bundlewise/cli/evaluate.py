"""``bundlewise evaluate``: every baseline (and the pair model) on a leak-free split, warm and cold."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bundlewise.cli._console import STATE, open_warehouse, out, progress
from bundlewise.config import EvalConfig
from bundlewise.errors import ConfigError
from bundlewise.evaluation.tuning import FAMILIES, MAX_CONFIGS
from bundlewise.ingest.datasets import find_local_copy, get_dataset, load_dataset

DEFAULT_MODELS = ",".join(FAMILIES)
_EVAL = EvalConfig()  # the option defaults are the config's


def dataset_roots() -> list[Path]:
    """Where local copies of the public datasets are looked for: $BUNDLEWISE_DATASETS, ./shared, ../shared."""
    roots = [Path(os.environ["BUNDLEWISE_DATASETS"])] if os.environ.get("BUNDLEWISE_DATASETS") else []
    return roots + [Path("shared/datasets"), Path("../shared/datasets")]


def dataset_warehouse(name: str, path: Path | None, workdir: Path) -> Path:
    """A warehouse holding dataset ``name`` (loaded on first use, reused after)."""
    d = get_dataset(name)
    db = workdir / f"{name}.duckdb"
    if db.exists():
        return db
    if path is None and d.path_help:
        path = find_local_copy(name, dataset_roots())
        if path is None:
            raise ConfigError(f"dataset {name!r} is not bundled: give --path {d.path_help}, or set "
                              "BUNDLEWISE_DATASETS to a folder holding it")
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = db.with_suffix(".loading.duckdb")
    tmp.unlink(missing_ok=True)
    with open_warehouse("create", tmp) as wh, progress() as bars:
        load_dataset(wh, name, path, progress=bars)
    tmp.rename(db)  # only a fully loaded warehouse gets the real name
    return db


def evaluate_cmd(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Evaluate on a public dataset (loaded into "
                                                                  "WORKDIR/NAME.duckdb once) instead of --db.")] = None,
    path: Annotated[Path | None, typer.Option("--path", help="Local copy of the dataset (default: looked up in "
                                                             "$BUNDLEWISE_DATASETS, ./shared/datasets, "
                                                             "../shared/datasets).")] = None,
    models: Annotated[str, typer.Option("--models", help="Comma-separated model families.")] = DEFAULT_MODELS,
    test_days: Annotated[float, typer.Option("--test-days", help="Test block: the last N days.")
                         ] = _EVAL.test_days,
    valid_days: Annotated[float, typer.Option("--valid-days", help="Validation block: N days before test.")
                          ] = _EVAL.valid_days,
    cold_fraction: Annotated[float, typer.Option("--cold-fraction", help="Share of later-sold products held out "
                                                                         "of training as cold-start.")
                             ] = _EVAL.cold_fraction,
    seed: Annotated[int, typer.Option("--seed")] = _EVAL.seed,
    max_configs: Annotated[int, typer.Option("--max-configs", help="Grid points tried per model.")] = MAX_CONFIGS,
    max_basket_size: Annotated[int | None, typer.Option("--max-basket-size", help="Leave out larger baskets.")
                               ] = _EVAL.max_basket_size,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates for intervals.")
                         ] = _EVAL.n_bootstrap,
    encoder: Annotated[str, typer.Option("--encoder", help="Text encoder: auto | minilm | "
                                                           "multilingual-e5-small.")] = "auto",
    pair_model: Annotated[Path | None, typer.Option(
        "--pair-model", help="Also evaluate a trained pair model (checkpoint from 'bundlewise train').")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="results.md, results.json, report.html.")] = Path(
        "eval_out"),
    workdir: Annotated[Path, typer.Option("--workdir", help="Where dataset warehouses are kept.")] = Path(
        "bundlewise_data"),
) -> None:
    """Tune every model on validation, score it on test: Recall@10/20, NDCG@10, MRR, coverage, popularity bias,
    for warm and cold-start products, with 95 % bootstrap intervals."""
    from bundlewise.evaluation.jobs import run_evaluation
    from bundlewise.evaluation.report import check_report_dir

    check_report_dir(output_dir, warehouse=None if dataset else STATE.db)  # before minutes of tuning
    names = [m.strip() for m in models.split(",") if m.strip()]
    cfg = EvalConfig(test_days=test_days, valid_days=valid_days, cold_fraction=cold_fraction, seed=seed,
                     n_bootstrap=bootstrap, max_basket_size=max_basket_size)
    db = dataset_warehouse(dataset, path, workdir) if dataset else Path(STATE.db)
    extra = None
    enc = None
    if encoder != "auto" or pair_model is not None or "text" in names:
        from bundlewise.text import ProductEncoder

        enc = ProductEncoder(model=encoder)
    if pair_model is not None:
        from bundlewise.evaluation.tuning import pair_model_family

        extra = {"pair": pair_model_family(pair_model)}
    title = f"bundlewise evaluation: {dataset or db.name}"
    with open_warehouse("write" if enc is not None else "read", db) as wh, progress() as bars:
        run = run_evaluation(wh, cfg, names, output_dir, title=title, max_configs=max_configs, encoder=enc,
                             extra_models=extra, progress=bars)
    bench = run.bench
    out.print(f"{title} — split: " + ", ".join(f"{k} {v}" for k, v in bench.split.items()))
    table = bench.table()
    t = Table("model", "products", "recall@10 [95% CI]", "recall@20", "ndcg@10", "mrr", "coverage@10",
              "popularity@10", "fit s", box=None, pad_edge=False)
    for _, r in table.iterrows():
        t.add_row(r["model"], r["group"], f"{r['recall@10']:.4f} [{r['recall@10_low']:.4f}, {r['recall@10_high']:.4f}]",
                  f"{r['recall@20']:.4f}", f"{r['ndcg@10']:.4f}", f"{r['mrr']:.4f}", f"{r['coverage@10']:.3f}",
                  f"{r['popularity@10']:.3f}", f"{r['fit_s']:.1f}")
    out.print(t)
    for res in bench.results:
        if res.params:
            out.print(f"  {res.model}: chosen on validation {res.params}")
    out.print(f"total {bench.seconds:.0f} s · wrote {', '.join(str(p) for p in run.paths.values())}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)
