"""The second-stage ranker (issue 15) beside popularity, co-occurrence and (optionally) the pair model on the
yardstick's split, with warm / cold ratios and an ablation table.

Run: ``python -m bench.bench_rerank [online-retail instacart-sample]``. Same split, seeds and tuning as
``bench.bench_eval`` (every family tuned on validation, refitted on training + validation, scored on test with
95 % bootstrap intervals). Ablations (feature groups removed one at a time, the gate forced on / off) are
fitted on training and scored on the **validation** block at the tuned parameters: the test block is looked
at once. ``BENCH_RERANK_ABLATE=0`` skips them; ``BENCH_RERANK_PAIR=1`` adds a bounded pair model
(40k positives, 4 epochs); ``BENCH_RERANK_NETWORK=1`` adds ``rerank+net``, the ranker with the pair network's
logit as a feature (10 epochs, 300k positives, at the default label windows: no grid, ~15 min a fit on 2 cores).
"""

from __future__ import annotations

import logging
import os
import sys
import time

from bench.bench_eval import dataset_warehouse


def _cell(res, group: str) -> str:
    m = res.metrics[(res.metrics.metric == "recall@10") & (res.metrics.group == group)].iloc[0]
    return f"{m.value:.4f} [{m.low:.4f}, {m.high:.4f}]"


def run(name: str) -> None:
    """Print the tables of one dataset as they come (the ablations take a while)."""
    from bundlewise.config import EvalConfig
    from bundlewise.evaluation.evaluate import evaluate
    from bundlewise.evaluation.split import temporal_split
    from bundlewise.evaluation.tuning import Family, families, reranker_family, tune_and_test
    from bundlewise.ingest import Warehouse
    from bundlewise.ingest.catalog import load_catalog
    from bundlewise.mining.source import load_baskets
    from bundlewise.pairmodel.rerank import FEATURE_GROUPS
    from bundlewise.progress import NULL_PROGRESS
    from bundlewise.text import ProductEncoder
    from bundlewise.text.jobs import with_embeddings

    db = dataset_warehouse(name)
    config = EvalConfig()
    with Warehouse(db) as wh:
        baskets = load_baskets(wh)
        catalog = load_catalog(wh)
        catalog = catalog[catalog["n_orders"] > 0].reset_index(drop=True)
        catalog, _ = with_embeddings(wh, catalog, ProductEncoder(), NULL_PROGRESS)
    split = temporal_split(baskets, catalog, config)
    base = families(config.seed)
    models = {"popularity": base["popularity"], "cooccurrence": base["cooccurrence"],
              "rerank": reranker_family(config.seed)}
    if os.environ.get("BENCH_RERANK_PAIR") == "1":
        from bundlewise.pairmodel.model import PairModel

        models["pair"] = Family("pair", lambda: PairModel(max_positives=40_000, epochs=4))
    if os.environ.get("BENCH_RERANK_NETWORK") == "1":
        net = reranker_family(config.seed, network_epochs=10, network_max_positives=300_000)
        models["rerank+net"] = Family("rerank+net", net.factory)  # no grid: each fit trains a network
    t0 = time.perf_counter()
    bench = tune_and_test(split, models)
    res = {r.model: r for r in bench.results}
    out = [f"### {name} (test block; {split.describe()})", "",
           "| model | warm recall@10 | cold recall@10 | warm × co-occurrence | cold × popularity | fit s |",
           "|---|---|---|---|---|---|"]
    for model, r in res.items():
        warm_x = r.value("recall@10", "warm") / res["cooccurrence"].value("recall@10", "warm")
        cold_x = r.value("recall@10", "cold") / res["popularity"].value("recall@10", "cold")
        out.append(f"| {model} | {_cell(r, 'warm')} | {_cell(r, 'cold')} | {warm_x:.2f}× | {cold_x:.2f}× | "
                   f"{r.fit_seconds:.1f} |")
    best = res["rerank"].params
    out += ["", f"rerank chosen on validation: {best}; total {time.perf_counter() - t0:.0f} s", ""]
    print("\n".join(out), flush=True)  # the main table first: the ablations take a while
    out = []
    if os.environ.get("BENCH_RERANK_ABLATE", "1") != "0":
        pop = evaluate(base["popularity"].factory(), split, "valid", bootstrap=False)
        cooc_params = next(r.params for r in bench.results if r.model == "cooccurrence")
        cooc = evaluate(base["cooccurrence"].factory(**cooc_params), split, "valid", bootstrap=False)
        out += [f"Ablation (validation block; co-occurrence warm {cooc.value('recall@10', 'warm'):.4f}, "
                f"popularity cold {pop.value('recall@10', 'cold'):.4f}):", "",
                "| variant | warm recall@10 | cold recall@10 | cold backs off to best sellers |", "|---|---|---|---|"]
        print("\n".join(out), flush=True)
        variants = {"all features, gate auto": {}, **{f"without {g}": {"drop_groups": (g,)} for g in FEATURE_GROUPS
                                                   if g != "network"},  # off by default: nothing to drop
                    "gate off (one ranker for all)": {"gate": "off"}, "gate: cold ranker always": {"gate": "ranker"},
                    "gate: best sellers always": {"gate": "popularity"}}
        for label, extra in variants.items():
            fam = reranker_family(config.seed, **extra)
            model = fam.factory(**best)
            r = evaluate(model, split, "valid", bootstrap=False)
            out.append(f"| {label} | {r.value('recall@10', 'warm'):.4f} | {r.value('recall@10', 'cold'):.4f} | "
                       f"{'yes' if model.cold_backoff_ else 'no'} |")
            print(out[-1], flush=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in sys.argv[1:] or ["online-retail", "instacart-sample"]:
        run(name)


if __name__ == "__main__":
    main()
