"""``bundlewise serve`` opens ``--db`` as every other verb does: refusals exit 1 before a port is bound, and the
root ``--adopt`` flag applies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.serve.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def _serve(db: Path, *args: str, root: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``bundlewise serve`` to its end; bounded, so a server that wrongly starts fails the test, never hangs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUNDLEWISE_")}
    cmd = [sys.executable, "-m", "bundlewise.cli.app", "--db", str(db), *root, "serve", "--port", str(free_port()),
           "--no-access-log", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"serve did not refuse {db}: it kept running\n{exc.stderr}") from None


@pytest.mark.parametrize("mode", [(), ("--no-events",)], ids=["events", "read-only"])
def test_a_csv_as_db_is_refused_and_left_unchanged(tmp_path: Path, mode: tuple[str, ...]) -> None:
    csv = tmp_path / "orders.csv"
    csv.write_text("order_id,product_id,quantity\nO1,tent,1\nO1,pegs,2\n", encoding="utf-8")
    before = csv.read_bytes()
    r = _serve(csv, *mode)
    assert r.returncode == 1, r.stderr
    assert "not a DuckDB warehouse" in r.stderr and "left unchanged" in r.stderr
    assert "Traceback" not in r.stderr and "Uvicorn running" not in r.stderr
    assert csv.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]  # no .wal or lock file beside it


def test_a_missing_db_is_refused_and_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nope.duckdb"
    r = _serve(db)
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr
    assert not db.exists()


def _foreign(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE crm AS SELECT range AS customer, 'c' || range AS name FROM range(5)")
    return path


def _tables(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names}


def test_a_foreign_duckdb_needs_adopt(tmp_path: Path, live) -> None:
    db = _foreign(tmp_path / "crm.duckdb")
    r = _serve(db)
    assert r.returncode == 1, r.stderr
    assert "not a bundlewise warehouse" in r.stderr and "--adopt" in r.stderr
    assert _tables(db) == {"crm": 5}  # nothing added
    # with the root flag the server adds its tables, keeps the database's own, and serves
    server = live(db, "--no-access-log", root=("--adopt",))
    ready = httpx.get(server.url + "/ready", timeout=5.0).json()
    assert ready["ready"] is True and ready["versions"]["warehouse"]["products"] == 0
    server.terminate()
    tables = _tables(db)
    assert tables["crm"] == 5 and "schema_version" in tables and "events" in tables
