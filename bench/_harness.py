"""Shared benchmark harness: run each contender in a fresh process, report time and peak memory.

Each contender is a function in a bench module; ``measure`` runs
``python -m bench.<module> --contender NAME ...`` in a subprocess, which prints one JSON
line with the seconds of the timed section, the baseline RSS (after imports) and the
peak RSS. Fresh processes keep one contender's memory from leaking into another's.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(contenders: dict[str, Callable[..., dict | None]], preload: tuple[str, ...] = ()) -> None:
    """Entry point of the child process: run one contender, print one JSON line.

    ``preload`` modules are imported before the baseline is taken, for every contender
    alike, so import time and import memory are not counted as work.
    """
    import argparse
    import importlib

    for name in preload:
        importlib.import_module(name)

    parser = argparse.ArgumentParser()
    parser.add_argument("--contender", required=True, choices=sorted(contenders))
    parser.add_argument("--arg", action="append", default=[])
    args = parser.parse_args()
    kwargs = dict(a.split("=", 1) for a in args.arg)
    baseline = rss_mb()
    t0 = time.perf_counter()
    extra = contenders[args.contender](**kwargs) or {}
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "baseline_mb": baseline, "peak_mb": peak_rss_mb(), **extra}))


def measure(module: str, contender: str, repeats: int = 3, timeout: float = 3600, **kwargs: object) -> dict:
    """Run a contender ``repeats`` times in fresh processes; median seconds, max peak memory."""
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, "-m", f"bench.{module}", "--contender", contender]
        for k, v in kwargs.items():
            cmd += ["--arg", f"{k}={v}"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{contender} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["seconds_all"] = [round(r["seconds"], 3) for r in runs]
    out["peak_mb"] = max(r["peak_mb"] for r in runs)
    out["delta_mb"] = max(r["peak_mb"] - r["baseline_mb"] for r in runs)
    return out
