"""Text-only partners before and after LoRA fine-tuning of the encoder on co-purchased pairs.

Same leak-free split, metrics and seeds as the yardstick (``bench.bench_eval`` / ``bundlewise evaluate``):
the plain MiniLM cosine (family ``text``) against the cosine of the LoRA-tuned encoder (family
``text-lora``), fine-tuned on pairs of the fit baskets only (training + validation without cold products),
scored on the test block, warm and cold-start products, 95 % basket-bootstrap intervals.

Run: ``python -m bench.bench_finetune [online-retail instacart-sample] [--max-pairs 20000] [--time-budget 600]
[--epochs 1] [--min-count 1]``. Results: ``bench/results/finetune/<name>-min<N>.json`` and a markdown table on
stdout. Run one dataset per command for a clean peak RSS (it is the process's lifetime peak).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

from bench._harness import ROOT

OUT = ROOT / "bench" / "results" / "finetune"


def _cell(res, group: str, metric: str = "recall@10") -> str:
    row = res.metrics[(res.metrics.metric == metric) & (res.metrics.group == group)].iloc[0]
    return f"{row.value:.4f} [{row.low:.4f}, {row.high:.4f}]"


def run(name: str, max_pairs: int, time_budget: float, epochs: int, min_count: int = 1, seed: int = 0,
        lr: float = 2e-4) -> str:
    from bench.bench_eval import dataset_warehouse
    from bundlewise.config import EvalConfig
    from bundlewise.evaluation.evaluate import evaluate
    from bundlewise.evaluation.split import temporal_split
    from bundlewise.evaluation.vector_baselines import TextCosine, TextLoRA
    from bundlewise.ingest import Warehouse
    from bundlewise.ingest.catalog import load_catalog
    from bundlewise.mining import load_baskets
    from bundlewise.progress import NULL_PROGRESS
    from bundlewise.text import ProductEncoder
    from bundlewise.text.jobs import with_embeddings

    t_start = time.perf_counter()
    config = EvalConfig(seed=seed)
    with Warehouse(dataset_warehouse(name)) as wh:  # as run_evaluation loads it
        baskets = load_baskets(wh)
        catalog = load_catalog(wh)
        catalog = catalog[catalog["n_orders"] > 0].reset_index(drop=True)
        encoder = ProductEncoder()
        catalog, model_id = with_embeddings(wh, catalog, encoder, NULL_PROGRESS)
    split = temporal_split(baskets, catalog, config)
    before = evaluate(TextCosine(encoder), split, "test", name="text")
    lora = TextLoRA(encoder, max_pairs=max_pairs, epochs=epochs, min_count=min_count, time_budget_s=time_budget,
                    random_state=seed, lr=lr)
    after = evaluate(lora, split, "test", name="text-lora")
    tuner = lora.tuner_
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        "dataset": name, "split": {k: str(v) for k, v in split.describe().items()}, "encoder": model_id,
        "tuned_encoder": lora.encoder_.model_id_, "max_pairs": max_pairs, "epochs": epochs, "lr": lr,
        "min_count": min_count,
        "time_budget_s": time_budget, "n_pairs": tuner.n_pairs_, "pairs_seen": tuner.pairs_seen_,
        "epochs_done": tuner.epochs_done_, "finetune_s": tuner.seconds_,
        "pairs_per_s": tuner.pairs_seen_ / tuner.seconds_, "text_lora_fit_s": after.fit_seconds,
        "loss_first_50": sum(tuner.loss_history_[:50]) / max(len(tuner.loss_history_[:50]), 1),
        "loss_last_50": sum(tuner.loss_history_[-50:]) / max(len(tuner.loss_history_[-50:]), 1),
        "peak_rss_mb": peak_mb, "wall_s": time.perf_counter() - t_start,
        "results": {res.model: res.metrics.to_dict(orient="records") for res in (before, after)},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-min{min_count}" + ("" if lr == 2e-4 else f"-lr{lr:g}")
    (OUT / f"{stem}.json").write_text(json.dumps(record, indent=1, default=str))
    n_ev = {g: int(before.metrics[before.metrics.group == g].n_events.max()) for g in ("warm", "cold")}
    lines = [f"### {name}, pairs seen in >= {min_count} fit basket(s) (test block; {n_ev['cold']:,} cold and "
             f"{n_ev['warm']:,} warm events)", "",
             "| model | cold R@10 [95 % CI] | warm R@10 [95 % CI] | cold NDCG@10 | fit s |", "|---|---|---|---|---|"]
    for res in (before, after):
        lines.append(f"| {res.model} | {_cell(res, 'cold')} | {_cell(res, 'warm')} | "
                     f"{res.value('ndcg@10', 'cold'):.4f} | {res.fit_seconds:.0f} |")
    lines += ["", f"fine-tuning: {tuner.n_pairs_:,} pairs, {tuner.epochs_done_:.2f} epoch(s), "
              f"{tuner.pairs_seen_ / tuner.seconds_:.1f} pairs/s, {tuner.seconds_:.0f} s; loss "
              f"{record['loss_first_50']:.3f} -> {record['loss_last_50']:.3f} (first/last 50 steps); "
              f"peak RSS {peak_mb:.0f} MiB; wall {record['wall_s']:.0f} s; adapter {lora.encoder_.model_id_}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", default=["online-retail", "instacart-sample"])
    parser.add_argument("--max-pairs", type=int, default=20_000)
    parser.add_argument("--time-budget", type=float, default=600.0, help="fine-tuning seconds at most")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--min-count", type=int, default=1, help="pairs seen in fewer fit baskets are left out")
    parser.add_argument("--lr", type=float, default=2e-4, help="the adapters' learning rate")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in args.datasets:
        print(run(name, args.max_pairs, args.time_budget, args.epochs, args.min_count, lr=args.lr), flush=True)


if __name__ == "__main__":
    main()
