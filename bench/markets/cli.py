"""Drive the real ``bundlewise`` CLI on a written market, as a user would, and read its plan back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLEWISE = ROOT / ".venv" / "bin" / "bundlewise"
BUNDLE_ARGS = ("--max-discount", "0.3", "--max-bundles", "10", "--per-product", "1")


def _exe() -> list[str]:
    if BUNDLEWISE.exists():
        return [str(BUNDLEWISE)]
    return [sys.executable, "-m", "bundlewise"]


def run_cli(files: dict[str, Path], workdir: Path, with_cost: bool, extra: tuple[str, ...] = (),
            reuse: bool = False) -> dict:
    """Ingest products + orders into a fresh warehouse, mine, plan bundles; returns timings and problems.

    The plan lands in ``workdir/plan.csv``. With ``reuse`` an existing plan is kept (no CLI run).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    plan = workdir / "plan.csv"
    log = workdir / "cli.json"
    if reuse and plan.exists() and log.exists():
        return json.loads(log.read_text())
    db = workdir / "bw.duckdb"
    for p in (db, Path(str(db) + ".wal"), plan):
        p.unlink(missing_ok=True)
    products = files["products"] if with_cost else files["products_nocost"]
    steps = [
        ("ingest products", ["ingest", "products", str(products)]),
        ("ingest orders", ["ingest", "orders", str(files["orders"]), "--preset", "online-retail"]),
        ("mine", ["mine"]),
        ("bundles", ["bundles", *BUNDLE_ARGS, *extra, "--output", str(plan)]),
    ]
    out = {"steps": {}, "problems": [], "ok": True}
    for name, args in steps:
        cmd = [*_exe(), "--db", str(db), "-q", *args]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
        out["steps"][name] = round(time.perf_counter() - t0, 2)
        if proc.returncode != 0:
            out["ok"] = False
            out["problems"].append({"command": " ".join(cmd), "rc": proc.returncode,
                                    "stderr": proc.stderr[-2000:], "stdout": proc.stdout[-2000:]})
            break
        if proc.stderr.strip():
            out["problems"].append({"command": " ".join(cmd), "rc": 0, "stderr": proc.stderr[-2000:]})
        if name == "bundles":
            out["stdout_head"] = proc.stdout[:600]
    log.write_text(json.dumps(out, indent=1))
    return out


def proposed_rows(path: Path):
    """The rows of a plan CSV that it proposes (all rows where it has no ``proposed`` column)."""
    import pandas as pd

    df = pd.read_csv(path, dtype={"products": str, "bundle_id": str})
    if "proposed" in df.columns:
        df = df[df["proposed"].astype(str).str.lower() == "true"]
    return df


def read_plan(path: Path, ids: list[str]) -> list[tuple[list[int], float]]:
    """The plan's bundles as (product indices, discount fraction); unknown ids raise."""
    df = proposed_rows(path)
    pos = {pid: i for i, pid in enumerate(ids)}
    out = []
    for prods, disc in zip(df["products"], df["discount"], strict=True):
        members = [pos[p.strip().lstrip("'")] for p in str(prods).split("+")]
        out.append((sorted(members), float(disc)))
    return out
