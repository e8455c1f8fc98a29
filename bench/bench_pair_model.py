"""Pair-model speed on Online Retail, CPU: training time per epoch, and scoring every product's
candidates (top-10 partners for the whole catalogue) beside the co-occurrence baseline answering
the same queries.

Run: ``python -m bench.bench_pair_model`` (``BENCH_THREADS=1,2``; ``BENCH_THREADS=`` empty skips training and
times only the scoring: pair model, second-stage ranker, co-occurrence; ``BENCH_REPEATS=3`` timed repeats
each). The warehouse and the embeddings are built before any clock starts
(``bench/results/pair_model.duckdb``); each contender runs in a fresh process (bench/_harness.py); time and
memory cover the timed section only.
"""

from __future__ import annotations

import os

from bench._harness import ROOT, SHARED, child_main, measure

DB = ROOT / "bench" / "results" / "pair_model.duckdb"


def _prepare() -> None:
    from bundlewise.ingest import Warehouse, load_catalog
    from bundlewise.ingest.datasets import load_dataset
    from bundlewise.progress import NULL_PROGRESS
    from bundlewise.text import ProductEncoder
    from bundlewise.text.jobs import with_embeddings

    if DB.exists():
        return
    DB.parent.mkdir(parents=True, exist_ok=True)
    with Warehouse(DB) as wh:
        load_dataset(wh, "online-retail", SHARED / "online_retail" / "online_retail.csv.gz")
        with_embeddings(wh, load_catalog(wh), ProductEncoder(model="minilm"), NULL_PROGRESS)


def _inputs():  # type: ignore[no-untyped-def]
    from bundlewise.ingest import Warehouse, load_catalog
    from bundlewise.mining import load_baskets
    from bundlewise.progress import NULL_PROGRESS
    from bundlewise.text import ProductEncoder
    from bundlewise.text.jobs import with_embeddings

    with Warehouse(DB) as wh:
        baskets = load_baskets(wh)
        catalog, _ = with_embeddings(wh, load_catalog(wh), ProductEncoder(model="minilm"), NULL_PROGRESS)
    return baskets, catalog


def train(clock, threads: str = "1") -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.pairmodel.model import PairModel

    baskets, catalog = _inputs()
    clock.start()
    m = PairModel(n_threads=int(threads)).fit(baskets, catalog)
    clock.stop()
    n_examples = m.max_positives * (1 + m.n_negatives)
    return {"epochs": len(m.history_), "s_per_epoch": m.fit_seconds_ / len(m.history_),
            "examples": n_examples, "baskets": baskets.n_baskets}


def score(clock, model: str = "pair") -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.evaluation import CoOccurrence
    from bundlewise.pairmodel.model import PairModel
    from bundlewise.pairmodel.rerank import Reranker

    baskets, catalog = _inputs()
    m = {"pair": lambda: PairModel(epochs=1, max_positives=20_000), "rerank": Reranker,
         "cooccurrence": lambda: CoOccurrence(half_life_days=90.0)}[model]()
    m.fit(baskets, catalog)
    queries = [p for p in catalog["product_id"] if p in set(m.item_ids_)]
    clock.start()
    ids, _ = m.recommend(queries, k=10)
    clock.stop()
    return {"queries": len(queries)}


def main() -> None:
    _prepare()
    threads = [t for t in os.environ.get("BENCH_THREADS", "1,2").split(",") if t]
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))  # each scoring repeat refits in a fresh process
    rows = []
    for t in threads:
        r = measure("bench_pair_model", "train", repeats=1, threads=t)
        rows.append((f"train, {t} thread(s)", r))
    for model in ("pair", "rerank", "cooccurrence"):
        rows.append((f"top-10 for every product: {model}", measure("bench_pair_model", "score", repeats=repeats,
                                                                   model=model)))
    print("| contender | seconds | MiB above baseline | details |")
    print("|---|---|---|---|")
    for name, r in rows:
        extra = {k: v for k, v in r.items() if k not in ("seconds", "peak_mb", "delta_mb", "baseline_mb",
                                                          "seconds_all")}
        print(f"| {name} | {r['seconds']:.2f} | {r['delta_mb']:.0f} | {extra} |")
    pair, rerank, cooc = (r["seconds"] for _, r in rows[-3:])
    print(f"\nscoring / co-occurrence lookup time: pair model {pair / cooc:.1f}×, ranker {rerank / cooc:.1f}×")


CONTENDERS = {"train": train, "score": score}

if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("numpy", "pandas", "pyarrow", "duckdb", "torch", "bundlewise.evaluation",
                                        "bundlewise.text"))
    else:
        main()
