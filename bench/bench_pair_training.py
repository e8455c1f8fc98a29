"""Pair-model training cost against the data size: examples, CPU seconds and peak memory of
``PairModel.fit`` on synthetic shops of growing size, this code beside another checkout's (the "before").

Run: ``python -m bench.bench_pair_training`` — ``BENCH_SIZES=1000,4000,16000`` baskets (2,000
Zipf-popular products, ~4 per basket, one basket an hour, 32-d random "text" vectors: the same
data for both codes, no warehouse), ``BENCH_EPOCHS=2`` (a bounded, equal epoch count, so the
cost of an epoch is compared), ``BENCH_BEFORE=/path/to/old/src`` adds the before contender (that
``src`` first on PYTHONPATH), ``BENCH_TIMEOUT`` (s per fit). Each fit runs in a fresh process
(bench/_harness.py); memory is the peak RSS above the RSS at the clock's start. CPU seconds are
reported beside the wall clock: on a shared box they say more.
"""

from __future__ import annotations

import os
import time

from bench._harness import child_main, measure

N_ITEMS = 2_000


def _shop(n_baskets: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    from bench._data import synthetic_codes
    from bundlewise.mining.baskets import Baskets

    b, i = synthetic_codes(n_baskets, N_ITEMS, 4.0)
    ids = np.array([f"p{k:05d}" for k in range(N_ITEMS)], dtype=object)
    ts = (np.datetime64("2024-01-01T00:00") + np.arange(n_baskets).astype("timedelta64[h]")).astype("datetime64[us]")
    baskets = Baskets.from_long(b.astype(str), ids[i], ts[b])
    rng = np.random.default_rng(0)
    catalog = pd.DataFrame({"product_id": ids, "embedding": list(rng.normal(size=(N_ITEMS, 32)).astype(np.float32))})
    return baskets, catalog


def train(clock, n_baskets: str, epochs: str) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.pairmodel.model import PairModel

    baskets, catalog = _shop(int(n_baskets))
    cpu0 = time.process_time()
    clock.start()
    m = PairModel(epochs=int(epochs), n_threads=1).fit(baskets, catalog)
    clock.stop()
    examples = getattr(m, "examples_", None)
    n_examples = (sum(v for k, v in examples["train"].items() if k != "distinct_positive_pairs") if examples
                  else m.max_positives * (1 + m.n_negatives))
    return {"baskets": baskets.n_baskets, "epochs": len(m.history_), "examples": n_examples,
            "cpu_seconds": time.process_time() - cpu0}


CONTENDERS = {"train": train}


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,4000,16000").split(",")]
    epochs = os.environ.get("BENCH_EPOCHS", "2")
    timeout = float(os.environ.get("BENCH_TIMEOUT", "1200"))
    before = os.environ.get("BENCH_BEFORE")
    print(f"PairModel.fit, synthetic shop ({N_ITEMS:,} products), {epochs} epochs at most, 1 thread")
    print(f"{'baskets':>8} {'code':<7}{'examples':>10}{'epochs':>7}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}"
          f"{'Δ MiB':>8}")
    for n in sizes:
        for code, path in [("after", None), ("before", before)][: 2 if before else 1]:
            saved = os.environ.get("PYTHONPATH")
            if path:
                os.environ["PYTHONPATH"] = path + (os.pathsep + saved if saved else "")
            try:
                r = measure("bench_pair_training", "train", repeats=1, timeout=timeout, n_baskets=n, epochs=epochs)
            finally:
                if path and saved is None:
                    os.environ.pop("PYTHONPATH")
                elif path:
                    os.environ["PYTHONPATH"] = saved
            if r.get("timeout"):
                print(f"{n:>8,} {code:<7}{'—':>10}{'':>7}{'> ' + str(int(timeout)):>9}", flush=True)
                continue
            print(f"{r['baskets']:>8,} {code:<7}{r['examples']:>10,}{r['epochs']:>7}{r['seconds']:>9.1f}"
                  f"{r['cpu_seconds']:>9.1f}{r['peak_mb']:>10.0f}{r['delta_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("numpy", "pandas", "torch", "bundlewise.mining"))
    else:
        main()
