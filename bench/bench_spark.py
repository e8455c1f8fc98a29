"""bundlewise on Spark (local[2]) side by side with the embedded engine, MLlib FPGrowth and plain torch.

Run: ``python -m bench.bench_spark`` (``BENCH_SCALE=small``: 100k baskets instead of 1M;
``BENCH_SCALE=large`` adds 10M for the pair statistics). Every contender runs in a fresh process
(bench/_harness.py: time and peak memory of the process tree, the JVM included, over the timed
section only). Inputs are generated from fixed seeds before the clock: Zipf-popular products
(20,000), sizes 1 + Poisson(3), written as Parquet basket lines for Spark. Spark's session start
is outside the clock (~5-20 s, paid once per job).

1. **pairs** — every pair in >= 5 baskets with all statistics (counts, confidences, lift,
   leverage, convictions, Jaccard, cosine, NPMI, shrunk lift, Fisher p, BH q) collected as a
   pandas table: ``CoPurchaseStats`` (embedded, C kernels) vs ``SparkCoPurchaseStats``.
2. **rules** — arules rules at support 0.0005, confidence 0.2, two or more products (MLlib has
   no empty antecedent): ``AssociationRules`` vs ``SparkAssociationRules`` vs
   ``pyspark.ml.fpm.FPGrowth`` (``associationRules.count()``); the rule counts must agree.
3. **score** — a trained pair model scoring 200,000 candidate pairs: ``PairModel.score_pairs`` in one
   process (plain torch, 2 threads) vs ``bundlewise.spark.score_pairs`` (mapInPandas, local[2]).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from bench._data import CACHE, synthetic_codes
from bench._harness import child_main, measure

MIN_COUNT = 5
SUPPORT, CONFIDENCE = 0.0005, 0.2
N_ITEMS = 20_000
N_SCORE = 200_000


def _ids(n: int) -> np.ndarray:
    return np.array([f"p{k:06d}" for k in range(n)], dtype=object)  # sorted, as Baskets requires


def _baskets(n_baskets: str):  # type: ignore[no-untyped-def]
    from bundlewise.mining import Baskets

    b, i = synthetic_codes(int(n_baskets), N_ITEMS, 4.0)
    return Baskets.from_codes(b, i, _ids(N_ITEMS), int(n_baskets))


def _lines_parquet(n_baskets: str) -> str:
    """Basket lines (basket_id, item_id) of the synthetic baskets as Parquet, cached by size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = CACHE / f"spark_lines_{n_baskets}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        b = _baskets(n_baskets)
        sizes = b.sizes()
        table = pa.table({"basket_id": pa.array(np.repeat(np.arange(b.n_baskets), sizes).astype(str)),
                          "item_id": pa.array(b.item_ids[b.indices].astype(str))})
        pq.write_table(table, path)
    return str(path)


def _spark():  # type: ignore[no-untyped-def]
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from bundlewise.spark.session import SparkConfig, get_session

    spark = get_session(SparkConfig(master="local[2]", shuffle_partitions=4, driver_memory="6g"))
    spark.range(10).count()  # warm the JVM before the clock
    return spark


# -- pairs -------------------------------------------------------------------------------------
def pairs_embedded(clock, n_baskets: str) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.mining import CoPurchaseStats

    baskets = _baskets(n_baskets)
    clock.start()
    stats = CoPurchaseStats(min_count=MIN_COUNT, memory_budget=None).fit(baskets).pair_stats()
    clock.stop()
    return {"pairs": len(stats), "significant": int((stats["q_value"] < 0.05).sum())}


def pairs_spark(clock, n_baskets: str) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.spark import SparkCoPurchaseStats, read_lines

    path = _lines_parquet(n_baskets)
    spark = _spark()
    clock.start()
    stats = SparkCoPurchaseStats(min_count=MIN_COUNT).fit(read_lines(spark, path)).to_pandas()
    clock.stop()
    return {"pairs": len(stats), "significant": int((stats["q_value"] < 0.05).sum())}


# -- rules -------------------------------------------------------------------------------------
def rules_embedded(clock, n_baskets: str) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.mining import AssociationRules

    baskets = _baskets(n_baskets)
    clock.start()
    rules = AssociationRules(min_support=SUPPORT, min_confidence=CONFIDENCE, min_len=2,
                             memory_budget=None).fit(baskets).rule_table_
    clock.stop()
    return {"rules": len(rules)}


def rules_spark(clock, n_baskets: str) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.spark import SparkAssociationRules, read_lines

    path = _lines_parquet(n_baskets)
    spark = _spark()
    clock.start()
    model = SparkAssociationRules(min_support=SUPPORT, min_confidence=CONFIDENCE, min_len=2).fit(
        read_lines(spark, path))
    n = len(model.rules_)
    clock.stop()
    return {"rules": n}


def rules_mllib(clock, n_baskets: str) -> dict:  # type: ignore[no-untyped-def]
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    path = _lines_parquet(n_baskets)
    spark = _spark()
    clock.start()
    baskets = spark.read.parquet(path).groupBy("basket_id").agg(F.collect_set("item_id").alias("items"))
    model = FPGrowth(itemsCol="items", minSupport=SUPPORT, minConfidence=CONFIDENCE).fit(baskets)
    n = model.associationRules.count()
    clock.stop()
    return {"rules": int(n)}


# -- scoring -----------------------------------------------------------------------------------
def _checkpoint() -> Path:
    """A pair model trained on synthetic baskets with random text vectors (cached)."""
    from bundlewise.pairmodel.io import is_checkpoint, save_pair_model

    folder = CACHE / "spark_pair_model"
    if is_checkpoint(folder):
        return folder
    import pandas as pd

    from bundlewise.pairmodel.model import PairModel

    baskets = _baskets("50000")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N_ITEMS, 32)).astype(np.float32)
    catalog = pd.DataFrame({"product_id": _ids(N_ITEMS), "embedding": list(vectors)})
    model = PairModel(epochs=1, hidden=64, max_positives=20_000, random_state=0).fit(baskets, catalog)
    save_pair_model(model, folder)
    return folder


def _candidates() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    ids = _ids(N_ITEMS)
    p, q = rng.integers(0, N_ITEMS, N_SCORE), rng.integers(0, N_ITEMS, N_SCORE)
    return ids[p].astype(str), ids[q].astype(str)


def score_torch(clock) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.pairmodel.io import load_pair_model

    model = load_pair_model(_checkpoint())
    model.n_threads = 2  # both cores, as local[2] has
    p, q = _candidates()
    model.score_pairs(p[:1000], q[:1000])  # warm-up
    clock.start()
    s = model.score_pairs(p, q)
    clock.stop()
    return {"pairs": len(s), "pairs_per_s": len(s) / clock.seconds, "checksum": float(np.round(s.sum(), 3))}


def score_spark(clock) -> dict:  # type: ignore[no-untyped-def]
    import pandas as pd

    from bundlewise.spark import score_pairs

    spark = _spark()
    p, q = _candidates()
    path = os.path.join(tempfile.mkdtemp(), "candidates.parquet")
    pd.DataFrame({"product_id": p, "partner_id": q}).to_parquet(path)
    clock.start()
    scored = score_pairs(spark.read.parquet(path), _checkpoint()).toPandas()
    clock.stop()
    return {"pairs": len(scored), "pairs_per_s": len(scored) / clock.seconds,
            "checksum": float(np.round(scored["score"].sum(), 3))}


CONTENDERS = {"pairs_embedded": pairs_embedded, "pairs_spark": pairs_spark, "rules_embedded": rules_embedded,
              "rules_spark": rules_spark, "rules_mllib": rules_mllib, "score_torch": score_torch,
              "score_spark": score_spark}


def _row(task: str, n: int | str, name: str, r: dict, ref: dict, key: str) -> None:
    if r.get("timeout"):
        print(f"{task:<7}{n:>11} {name:<16}{'—':>10}  (did not finish)")
        return
    print(f"{task:<7}{n:>11} {name:<16}{r[key]:>10,}{r['seconds']:>9.2f}{r['peak_mb']:>10.0f}{r['delta_mb']:>8.0f}"
          f"{r['seconds'] / ref['seconds']:>8.2f}")


def main() -> None:
    scale = os.environ.get("BENCH_SCALE", "")
    timeout = float(os.environ.get("BENCH_TIMEOUT", "600"))
    sizes = [100_000] if scale == "small" else [1_000_000] + ([10_000_000] if scale == "large" else [])
    print(f"bench_spark: {os.cpu_count()} CPUs, Spark local[2]; one fresh process per contender (timeout "
          f"{timeout:.0f} s); seconds exclude Spark's session start")
    print(f"{'task':<7}{'baskets':>11} {'contender':<16}{'result':>10}{'seconds':>9}{'peak MiB':>10}{'Δ MiB':>8}"
          f"{'time ×':>8}")
    for n in sizes:
        _lines_parquet(str(n))
        res = {c: measure("bench_spark", c, repeats=1, timeout=timeout, n_baskets=n)
               for c in ("pairs_embedded", "pairs_spark")}
        for c, r in res.items():
            _row("pairs", f"{n:,}", c, r, res["pairs_embedded"], "pairs")
        same = len({r.get("pairs") for r in res.values()}) == 1
        print(f"{'':<18} same pairs: {same}")
    n = sizes[0]
    res = {c: measure("bench_spark", c, repeats=1, timeout=timeout, n_baskets=n)
           for c in ("rules_embedded", "rules_spark", "rules_mllib")}
    for c, r in res.items():
        _row("rules", f"{n:,}", c, r, res["rules_embedded"], "rules")
    print(f"{'':<18} same rule count: {len({r.get('rules') for r in res.values()}) == 1}")
    _checkpoint()
    res = {c: measure("bench_spark", c, repeats=1, timeout=timeout) for c in ("score_torch", "score_spark")}
    for c, r in res.items():
        _row("score", f"{N_SCORE:,}", c, r, res["score_torch"], "pairs")
    ratio = res["score_spark"]["pairs_per_s"] / res["score_torch"]["pairs_per_s"]
    print(f"{'':<18} Spark throughput = {ratio:.0%} of plain torch ({res['score_spark']['pairs_per_s']:,.0f} vs "
          f"{res['score_torch']['pairs_per_s']:,.0f} pairs/s); same scores (checksum): "
          f"{abs(res['score_spark']['checksum'] - res['score_torch']['checksum']) < 1e-2}")


if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("numpy", "pyarrow", "pandas", "bundlewise.mining"))
    else:
        main()
