"""Shared benchmark harness: each contender runs in a fresh process; we report its time and
peak memory over the timed section only.

A contender is a function ``f(clock, **kwargs) -> dict``; it prepares its inputs, calls
``clock.start()`` right before the work and ``clock.stop()`` right after. Memory is the
peak resident set size of the whole process tree (so a JVM child counts) above the RSS at
``clock.start()``: sampled every 10 ms, and exact when the process's own lifetime peak was
set inside the timed section.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _tree_rss_mb() -> float:
    import psutil

    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child may end while we look
            total += child.memory_info().rss
    return total / 2**20


class Clock:
    """Times one section and samples the memory of the process tree meanwhile."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self.baseline_mb = 0.0
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._maxrss_at_start = 0.0

    def start(self) -> None:
        self.baseline_mb = _tree_rss_mb()
        self.peak_mb = self.baseline_mb
        self._maxrss_at_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_mb = max(self.peak_mb, _tree_rss_mb())

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self._t0
        self._stop.set()
        if self._thread:
            self._thread.join()
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if maxrss > self._maxrss_at_start:  # this process's lifetime peak happened inside the section
            children = _tree_rss_mb() - rss_mb()
            self.peak_mb = max(self.peak_mb, maxrss + max(children, 0.0))


def child_main(contenders: dict[str, Callable[..., dict | None]], preload: tuple[str, ...] = ()) -> None:
    """Entry point of the child process: run one contender, print one JSON line.

    ``preload`` modules are imported first, for every contender alike, so import time and
    import memory are never counted as work.
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
    clock = Clock()
    extra = contenders[args.contender](clock, **kwargs) or {}
    if clock.seconds is None:
        raise RuntimeError(f"contender {args.contender} never called clock.start()/stop()")
    print(json.dumps({"seconds": clock.seconds, "baseline_mb": clock.baseline_mb, "peak_mb": clock.peak_mb,
                      **extra}))


def measure(module: str, contender: str, repeats: int = 3, timeout: float = 3600, **kwargs: object) -> dict:
    """Run a contender ``repeats`` times in fresh processes; median seconds, max peak memory.

    A run that exceeds ``timeout`` seconds is reported as ``{"timeout": True}``.
    """
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, "-m", f"bench.{module}", "--contender", contender]
        for k, v in kwargs.items():
            cmd += ["--arg", f"{k}={v}"]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"timeout": True, "seconds": float("nan"), "delta_mb": float("nan"), "peak_mb": float("nan")}
        if proc.returncode != 0:
            raise RuntimeError(f"{contender} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["seconds_all"] = [round(r["seconds"], 3) for r in runs]
    out["peak_mb"] = max(r["peak_mb"] for r in runs)
    out["delta_mb"] = max(r["peak_mb"] - r["baseline_mb"] for r in runs)
    return out
