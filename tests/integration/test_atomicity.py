"""Crash safety: kill -9 the CLI in the middle of an ingest; the warehouse must be exactly as before."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bundlewise.ingest import Warehouse

pytestmark = pytest.mark.slow


def _big_orders(path: Path, n_lines: int) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "product_id", "quantity", "unit_price", "ordered_at", "customer_id"])
        for i in range(n_lines):
            w.writerow([f"B{i // 5}", f"p{(i * 7919) % 5000}", 1 + i % 3, f"{1 + (i % 97) / 10:.2f}",
                        f"2021-01-{1 + i % 28:02d} 10:{i % 60:02d}:00", f"c{(i // 5) % 1000}"])


def _snapshot(db: Path) -> dict[str, object]:
    with Warehouse(db) as wh:  # opening for writing also replays DuckDB's write-ahead log
        snap: dict[str, object] = dict(wh.counts())
        snap["sum_qty"] = wh.con.execute("SELECT sum(quantity) FROM order_lines").fetchall()[0][0]
        snap["ingests"] = wh.con.execute("SELECT list(ingest_id ORDER BY ingest_id) FROM ingest_log").fetchall()[0][0]
    return snap


def test_kill_mid_ingest_leaves_the_warehouse_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    small = tmp_path / "small.csv"
    small.write_text("order_id,product_id,quantity\nA1,p1,2\nA1,p2,1\nA2,p1,1\n")
    cli = [sys.executable, "-m", "bundlewise.cli.app", "--db", str(db), "-q", "ingest", "orders"]
    subprocess.run([*cli, str(small)], check=True, capture_output=True)
    before = _snapshot(db)
    big = tmp_path / "big.csv"
    _big_orders(big, 600_000)

    def is_complete(snap: dict[str, object]) -> bool:
        return (snap["order_lines"] == before["order_lines"] + 600_000  # type: ignore[operator]
                and snap["ingests"] == [*before["ingests"], 2])  # type: ignore[misc]

    killed_before_commit = 0
    snap = before
    # Kill at growing delays after the process says it is ingesting (inside the transaction), so the
    # kills land mid-ingest on fast and slow machines alike; the last ones may land after the commit.
    for delay in (0.0, 0.1, 0.25, 0.5, 0.8, 1.2, 2.0, 3.0, 5.0):
        verbose = [sys.executable, "-m", "bundlewise.cli.app", "--db", str(db), "-v", "ingest", "orders", str(big)]
        proc = subprocess.Popen(verbose, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:
            if "ingesting big.csv" in line:
                break
        time.sleep(delay)
        running = proc.poll() is None
        if running:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        snap = _snapshot(db)
        # all or nothing: exactly as before, or the whole file (a kill can land after the commit)
        assert snap == before or is_complete(snap), f"partial ingest after a kill at +{delay}s: {snap}"
        if snap == before:
            assert running, "the ingest ended without writing anything"
            killed_before_commit += 1
        else:
            break
    assert killed_before_commit >= 2, "the ingest finished too fast to be interrupted; use a bigger file"
    if snap == before:  # the same ingest, left alone, lands in full
        subprocess.run([*cli, str(big)], check=True, capture_output=True)
        assert is_complete(_snapshot(db))
