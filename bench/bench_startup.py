"""Whole-process wall time of the ``bundlewise`` command vs a Python process running mlxtend 0.25.

Run: ``.venv/bin/python bench/bench_startup.py`` (or ``python -m bench.bench_startup``). Every
contender is a fresh process, timed from ``fork`` to exit (interpreter start, imports, reading
the file, mining, writing the rules, printing), N rounds that alternate the contenders:

* ``rules`` — ``bundlewise rules --baskets FILE --min-support 0.01 --min-confidence 0.5
  --max-len 3 --output rules.csv`` on the Online Retail baskets (the file ``bench_rules`` uses);
* ``mlxtend`` — ``python -c`` reading the same file, ``TransactionEncoder`` (sparse one-hot),
  ``fpgrowth`` + ``association_rules`` with the same thresholds, one-product consequents,
  written to CSV (as ``bench_rules`` runs it; mlxtend's ``apriori`` on the same input took
  57–78 s a process here, so fpgrowth is the harder comparison);
* ``rules --db`` — the same thresholds on the same orders from a warehouse (DuckDB, ingested once);
* ``--help`` and ``--version`` of ``bundlewise``.

Processes run without ``PYTHONDONTWRITEBYTECODE`` (.pyc files are used, as an installed package does).

Prints best and median seconds, the ratios against mlxtend, and checks that both found the
same number of rules. ``BENCH_REPEATS=N`` sets the rounds (default 7).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._data import online_retail_baskets_file  # noqa: E402

MIN_SUPPORT = 0.01
MIN_CONFIDENCE = 0.5
MAX_LEN = 3

MLXTEND = f"""
import sys
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

with open(sys.argv[1]) as fh:
    baskets = [line.rstrip("\\n").split(",") for line in fh if line.strip()]
te = TransactionEncoder()
onehot = te.fit(baskets).transform(baskets, sparse=True)
df = pd.DataFrame.sparse.from_spmatrix(onehot, columns=te.columns_)
frequent = fpgrowth(df, min_support={MIN_SUPPORT}, use_colnames=True, max_len={MAX_LEN})
rules = association_rules(frequent, num_itemsets=len(df), metric="confidence", min_threshold={MIN_CONFIDENCE})
rules = rules[rules["consequents"].map(len) == 1]
rules.to_csv(sys.argv[2], index=False)
print(len(rules))
"""


def _bundlewise() -> str:
    script = Path(sys.executable).parent / "bundlewise"
    if not script.exists():
        raise SystemExit(f"{script} is missing: install bundlewise into this environment (pip install -e .)")
    return str(script)


# .pyc files are written and used, as in any installed package (a shell with PYTHONDONTWRITEBYTECODE=1 would make
# every bundlewise process compile its own sources again, ~50 ms, while site-packages keep their .pyc files)
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _warehouse() -> Path:
    """Online Retail in a warehouse (for ``rules --db``), built once and cached beside the basket file."""
    from bench._data import CACHE, ONLINE_RETAIL

    db = CACHE / "online_retail.duckdb"
    if not db.exists():
        from bundlewise.config import IngestConfig
        from bundlewise.ingest import Warehouse, ingest_files

        tmp = db.with_suffix(".tmp.duckdb")
        with Warehouse(tmp) as wh:
            ingest_files(wh, [ONLINE_RETAIL], IngestConfig(kind="orders", preset="online-retail"))
        tmp.rename(db)
    return db


def _time(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_ENV)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} … failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def main() -> None:
    try:
        import mlxtend  # noqa: F401
    except ImportError:
        raise SystemExit("mlxtend is missing: .venv/bin/python -m pip install -e '.[test,bench]'") from None
    baskets = str(online_retail_baskets_file())  # built once (bundlewise's ingest), outside the timings
    repeats = int(os.environ.get("BENCH_REPEATS", "7"))
    bw = _bundlewise()
    with tempfile.TemporaryDirectory() as tmp:
        ours_csv, theirs_csv = str(Path(tmp) / "rules.csv"), str(Path(tmp) / "mlxtend.csv")
        contenders = {
            "rules": [bw, "rules", "--baskets", baskets, "--min-support", str(MIN_SUPPORT), "--min-confidence",
                      str(MIN_CONFIDENCE), "--max-len", str(MAX_LEN), "--output", ours_csv],
            "mlxtend": [sys.executable, "-c", MLXTEND, baskets, theirs_csv],
            "rules --db": [bw, "--db", str(_warehouse()), "rules", "--min-support", str(MIN_SUPPORT),
                           "--min-confidence", str(MIN_CONFIDENCE), "--max-len", str(MAX_LEN)],
            "--help": [bw, "--help"],
            "--version": [bw, "--version"],
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        theirs_count = None
        for name, cmd in contenders.items():  # one untimed round: the OS file cache, .pyc files
            _, stdout = _time(cmd)
            if name == "mlxtend":
                theirs_count = int(stdout.strip().splitlines()[-1])
        for _ in range(repeats):
            for name, cmd in contenders.items():
                times[name].append(_time(cmd)[0])
        with open(ours_csv, encoding="utf-8") as fh:
            ours_count = sum(1 for _ in fh) - 1  # the header
    print(f"whole-process wall time, {repeats} alternating rounds; Online Retail baskets, support >= "
          f"{MIN_SUPPORT}, confidence >= {MIN_CONFIDENCE}, max length {MAX_LEN}")
    theirs = statistics.median(times["mlxtend"])
    print(f"{'command':<12}{'best s':>9}{'median s':>10}{'mlxtend / this (median)':>25}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<12}{min(ts):>9.3f}{med:>10.3f}{theirs / med:>24.1f}×")
    same = ours_count == theirs_count
    print(f"rules: bundlewise {ours_count}, mlxtend {theirs_count} ({'same count' if same else 'DIFFERENT'})")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
