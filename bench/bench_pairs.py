"""All pair statistics on synthetic baskets: bundlewise vs scipy XᵀX, DuckDB self-join, Spark FPGrowth.

Run: ``python -m bench.bench_pairs`` (``BENCH_SCALE=small`` for a quick look). Baskets:
Zipf-popular products (weight 1/rank), sizes 1 + Poisson(3) (≈4 per basket), duplicates
inside a basket left in (every contender de-duplicates), generated from a fixed seed in
each fresh process before the clock starts. Timed: integer codes in memory → every pair
seen in >= 5 baskets.

* bundlewise — ``Baskets.from_codes`` + ``CoPurchaseStats(min_count=5).fit`` + ``pair_stats()``:
  counts **and** support, confidences, lift, leverage, conviction, Jaccard, cosine, NPMI,
  shrunk lift, Fisher p-values and BH q-values;
* scipy — ``X.T @ X`` on the binarised CSR incidence, upper triangle, count >= 5 (counts only);
* duckdb — ``SELECT a.item, b.item, count(*) … JOIN … ON basket … GROUP BY … HAVING count(*) >= 5``
  (counts only);
* spark — ``pyspark.ml.fpm.FPGrowth`` (local[2]) at minSupport = 5 / n; its itemsets of length 2
  are the pairs (it also mines longer itemsets: it has no length limit). Session start-up and
  writing the input Parquet are outside the clock.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from bench._data import synthetic_codes
from bench._harness import child_main, measure

MIN_COUNT = 5


def _codes(n_baskets: str, n_items: str, mean_size: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    nb, ni = int(n_baskets), int(n_items)
    b, i = synthetic_codes(nb, ni, float(mean_size))
    return b, i, nb, ni


def bundlewise(clock, n_baskets: str, n_items: str, mean_size: str) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.mining import Baskets, CoPurchaseStats

    b, i, nb, ni = _codes(n_baskets, n_items, mean_size)
    ids = np.array([f"p{k:06d}" for k in range(ni)], dtype=object)  # sorted, as Baskets requires
    CoPurchaseStats(min_count=1).fit(Baskets.from_lists([["a", "b"], ["a", "c"]])).pair_stats()  # warm-up
    clock.start()
    baskets = Baskets.from_codes(b, i, ids, nb)
    stats = CoPurchaseStats(min_count=MIN_COUNT).fit(baskets).pair_stats()
    clock.stop()
    return {"pairs": len(stats), "significant": int((stats["q_value"] < 0.05).sum())}


def scipy(clock, n_baskets: str, n_items: str, mean_size: str) -> dict:  # type: ignore[no-untyped-def]
    import scipy.sparse as sp

    b, i, nb, ni = _codes(n_baskets, n_items, mean_size)
    clock.start()
    x = sp.csr_matrix((np.ones(len(b), dtype=np.int32), (b, i)), shape=(nb, ni))
    x.data[:] = 1  # duplicates were summed: binarise
    co = sp.triu(x.T @ x, k=1).tocoo()
    keep = co.data >= MIN_COUNT
    n_pairs = int(keep.sum())
    clock.stop()
    return {"pairs": n_pairs}


def duckdb(clock, n_baskets: str, n_items: str, mean_size: str) -> dict:  # type: ignore[no-untyped-def]
    import duckdb as ddb
    import pyarrow as pa

    b, i, _, _ = _codes(n_baskets, n_items, mean_size)
    lines = pa.table({"basket": b, "item": i})
    con = ddb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("lines", lines)
    clock.start()
    con.execute("CREATE TEMP TABLE t AS SELECT DISTINCT basket, item FROM lines")
    n_pairs = con.execute(f"""
        SELECT count(*) FROM (SELECT a.item, b.item FROM t a JOIN t b ON a.basket = b.basket AND a.item < b.item
                              GROUP BY a.item, b.item HAVING count(*) >= {MIN_COUNT})""").fetchall()[0][0]
    clock.stop()
    return {"pairs": int(n_pairs)}


def spark(clock, n_baskets: str, n_items: str, mean_size: str) -> dict:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    b, i, nb, _ = _codes(n_baskets, n_items, mean_size)
    # one list of distinct items per basket, written as Parquet for Spark to read
    order = np.lexsort((i, b))
    b, i = b[order], i[order]
    first = np.ones(len(b), dtype=bool)
    first[1:] = (b[1:] != b[:-1]) | (i[1:] != i[:-1])
    b, i = b[first], i[first]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=nb))]).astype(np.int32)
    path = os.path.join(tempfile.mkdtemp(), "baskets.parquet")
    pq.write_table(pa.table({"items": pa.ListArray.from_arrays(pa.array(offsets), pa.array(i))}), path)
    spark_session = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
                     .config("spark.driver.memory", "12g").config("spark.sql.shuffle.partitions", "4")
                     .getOrCreate())
    spark_session.sparkContext.setLogLevel("ERROR")
    clock.start()
    df = spark_session.read.parquet(path)
    model = FPGrowth(itemsCol="items", minSupport=MIN_COUNT / nb, minConfidence=1.0).fit(df)
    n_pairs = model.freqItemsets.where(F.size("items") == 2).count()
    clock.stop()
    spark_session.stop()
    return {"pairs": int(n_pairs)}


CONTENDERS = {"bundlewise": bundlewise, "scipy": scipy, "duckdb": duckdb, "spark": spark}


def main() -> None:
    small = os.environ.get("BENCH_SCALE") == "small"
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    timeout = float(os.environ.get("BENCH_TIMEOUT", "900"))
    threads = os.environ.get("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    runs = [(100_000 if small else 1_000_000, list(CONTENDERS)),
            (1_000_000 if small else 10_000_000, ["bundlewise", "scipy", "duckdb"])]
    print(f"pairs seen in >= {MIN_COUNT} baskets; 20,000 products, Zipf, ~4 per basket; {threads} threads; "
          f"median of {repeats} fresh processes (timeout {timeout:.0f} s)")
    print(f"{'baskets':>11} {'contender':<11}{'pairs':>10}{'seconds':>9}{'peak MiB':>10}{'Δ MiB':>8}{'time ×':>8}"
          f"{'mem ×':>7}")
    for n_baskets, names in runs:
        res = {}
        for name in names:
            reps = 1 if name == "spark" or n_baskets >= 10_000_000 else repeats
            res[name] = measure("bench_pairs", name, repeats=reps, timeout=timeout, n_baskets=n_baskets,
                                n_items=20_000, mean_size=4)
        ours = res["bundlewise"]
        for name, r in res.items():
            if r.get("timeout"):
                print(f"{n_baskets:>11,} {name:<11}{'—':>10}{'> ' + str(int(timeout)):>9}  (did not finish)")
                continue
            print(f"{n_baskets:>11,} {name:<11}{r['pairs']:>10,}{r['seconds']:>9.2f}{r['peak_mb']:>10.0f}"
                  f"{r['delta_mb']:>8.0f}{r['seconds'] / ours['seconds']:>8.1f}"
                  f"{r['delta_mb'] / max(ours['delta_mb'], 1):>7.1f}")
        finished = {n: r["pairs"] for n, r in res.items() if not r.get("timeout")}
        print(f"{'':>11} same pair count in every finished contender: {len(set(finished.values())) == 1}")


if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("numpy", "pyarrow", "scipy.sparse", "duckdb", "pandas",
                                        "bundlewise.mining"))
    else:
        main()
