"""``scripts/demo_serve_check.py`` (make demo's last step): serves, answers, stops; fails fast, never hangs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.conftest import ROOT, Shop

pytestmark = pytest.mark.slow
SCRIPT = ROOT / "scripts" / "demo_serve_check.py"


def _check(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def test_serves_one_answer_and_stops(shop: Shop, tmp_path: Path) -> None:
    db = shop.copy(tmp_path)
    r = _check("--db", str(db), "--plan", str(shop.plan))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("serve check: /ready in ") and "bundles)" in lines[0]
    # one line: the partners of the product with the most stored pairs
    answer = next(line for line in lines if line.startswith("GET /v1/products/"))
    assert "complements?k=3 -> " in answer and "together" in answer
    assert lines[-1].startswith("serve check: stopped (exit ")


def test_fails_with_exit_1_when_the_server_cannot_start(tmp_path: Path) -> None:
    csv = tmp_path / "orders.csv"
    csv.write_text("order_id,product_id\nO1,tent\n", encoding="utf-8")
    before = csv.read_bytes()
    r = _check("--db", str(csv), "--timeout", "30", timeout=90)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED, the server exited with 1" in r.stderr and "not a DuckDB warehouse" in r.stderr
    assert csv.read_bytes() == before
    r = _check("--db", str(tmp_path / "missing.duckdb"), timeout=30)
    assert r.returncode == 1 and "does not exist" in r.stderr
