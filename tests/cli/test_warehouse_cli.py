"""How the CLI opens --db: refusals that change nothing, no stray files, shared reading, machine failures."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.errors import ConfigError, SchemaOutdatedError
from bundlewise.ingest import Warehouse

runner = CliRunner()


def _orders(write_csv) -> Path:
    rows = []
    for i in range(12):  # tea + milk in every basket: one pair bought together 12 times
        rows += [[f"o{i}", "tea", "2.50", "2024-01-01"], [f"o{i}", "milk", "1.20", "2024-01-01"]]
        if i % 3 == 0:
            rows.append([f"o{i}", "jam", "3.00", "2024-01-02"])
    return write_csv("orders.csv", ["order_id", "product_id", "unit_price", "ordered_at"], rows)


@pytest.fixture
def shop(tmp_path: Path, write_csv) -> Path:
    """A warehouse loaded through the CLI, with one quarantined row."""
    db = tmp_path / "shop.duckdb"
    result = runner.invoke(app, ["--db", str(db), "-q", "ingest", "orders", str(_orders(write_csv))])
    assert result.exit_code == 0, result.output
    bad = write_csv("bad.csv", ["order_id", "product_id", "quantity"], [["x1", "tea", "lots"]])
    result = runner.invoke(app, ["--db", str(db), "-q", "ingest", "orders", str(bad), "--on-error", "quarantine"])
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("kind", ["csv", "json", "parquet", "empty"])
def test_db_naming_a_data_file_is_refused_and_the_file_is_untouched(tmp_path: Path, write_csv, kind: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = tmp_path / {"csv": "o.csv", "json": "o.json", "parquet": "o.parquet", "empty": "w.duckdb"}[kind]
    if kind == "csv":
        target.write_text("order_id,product_id\n1,a\n", encoding="utf-8")
    elif kind == "json":
        target.write_text('[{"order_id": "1"}]', encoding="utf-8")
    elif kind == "parquet":
        pq.write_table(pa.table({"order_id": ["1"]}), target)
    else:
        target.write_bytes(b"")
    before = target.read_bytes()
    orders = _orders(write_csv)
    for attempt in range(2):  # before the fix the second run said "ingest #1" again: nothing had been kept
        result = runner.invoke(app, ["--db", str(target), "-q", "ingest", "orders", str(orders)])
        assert result.exit_code == 1, (attempt, result.output)
        assert "not a DuckDB warehouse" in result.output and "internal error" not in result.output
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({target.name, orders.name})


def test_foreign_duckdb_is_refused_unchanged_and_accepted_with_adopt(tmp_path: Path, write_csv) -> None:
    db = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t (a INTEGER)")
    con.execute("INSERT INTO t VALUES (7), (8)")
    con.close()
    before = db.read_bytes()
    orders = _orders(write_csv)
    for verb in (["ingest", "orders", str(orders)], ["stats"], ["mine", "--min-count", "1"]):
        result = runner.invoke(app, ["--db", str(db), "-q", *verb])
        assert result.exit_code == 1, (verb, result.output)
        assert "not a bundlewise warehouse" in result.output and "--adopt" in result.output
    assert db.read_bytes() == before
    adopted = runner.invoke(app, ["--db", str(db), "--adopt", "-q", "ingest", "orders", str(orders)])
    assert adopted.exit_code == 0, adopted.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT a FROM t ORDER BY a").fetchall() == [(7,), (8,)]
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(12,)]
    finally:
        con.close()


@pytest.mark.parametrize("verb", [["mine"], ["rules", "--min-support", "0.1"], ["bundles"], ["report"], ["stats"],
                                  ["rejects"], ["embed"]], ids=lambda v: v[0])
def test_a_mistyped_db_leaves_no_file_behind(tmp_path: Path, verb: list[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # report writes ./report.html by default: it must not get that far either
    db = tmp_path / "shpo.duckdb"
    result = runner.invoke(app, ["--db", str(db), "-q", *verb])
    assert result.exit_code == 1, result.output
    assert f"warehouse {str(db)!r} does not exist" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def other_reader(shop: Path) -> Iterator[subprocess.Popen]:
    """Another process holding a read-only connection (DuckDB: a shared lock that excludes writers)."""
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print('ready', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(shop)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def test_reading_verbs_open_read_only_beside_another_reader_on_a_read_only_file(
        shop: Path, other_reader: subprocess.Popen, tmp_path: Path) -> None:
    mode = shop.stat().st_mode
    shop.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))  # root ignores this; other users do not
    try:
        # the other process's shared lock refuses any writer: this is what the reading verbs must not be
        writer = runner.invoke(app, ["--db", str(shop), "-q", "mine", "--min-count", "1"])
        assert writer.exit_code == 1 and "in another process" in writer.output, writer.output
        before = shop.read_bytes()
        for verb in (["stats"], ["rejects"], ["bundles", "--min-count", "2"],
                     ["report", "--min-count", "2", "--output", str(tmp_path / "report.html")]):
            result = runner.invoke(app, ["--db", str(shop), "-q", *verb])
            assert result.exit_code == 0, (verb, result.output)
        assert (tmp_path / "report.html").stat().st_size > 0
        assert shop.read_bytes() == before
    finally:
        shop.chmod(mode)


def test_reading_an_older_warehouse_migrates_it_once(tmp_path: Path, monkeypatch) -> None:
    from bundlewise.ingest import schema, warehouse

    db = tmp_path / "old.duckdb"
    with monkeypatch.context() as m:  # a warehouse written by the previous release (one migration fewer)
        m.setattr(warehouse, "MIGRATIONS", schema.MIGRATIONS[:-1])
        m.setattr(warehouse, "latest_version", lambda: schema.MIGRATIONS[-2].version)
        Warehouse(db).close()
    with pytest.raises(SchemaOutdatedError):
        Warehouse(db, read_only=True)
    result = runner.invoke(app, ["--db", str(db), "-q", "stats"])
    assert result.exit_code == 0, result.output
    with Warehouse(db, read_only=True) as wh:
        assert wh.schema_version() == schema.latest_version()


def _fail_with(exc_factory):
    def fail(*args: object, **kwargs: object) -> None:
        exc_factory()

    return fail


def _write_dev_full() -> None:
    with open("/dev/full", "w", encoding="utf-8") as fh:  # noqa: PTH123 (a device, not a path we manage)
        fh.write("x" * 10_000)


def _duckdb_io_error() -> None:
    duckdb.connect().execute("COPY (SELECT 1 AS a) TO '/nonexistent-folder/x.csv' (FORMAT csv)")


def _memory() -> None:
    raise MemoryError


def _permission() -> None:
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/srv/shared/out.csv")


@pytest.mark.parametrize(("failure", "expected"), [
    (_write_dev_full, "(ENOSPC); the disk is full"),
    (_duckdb_io_error, "failed to read or write a file: IO Error"),
    (_memory, "ran out of memory"),
    (_permission, "could not use /srv/shared/out.csv: Permission denied (EACCES)"),
], ids=["enospc", "duckdb-io", "memory", "permission"])
def test_failures_of_the_machine_are_errors_not_bugs(shop: Path, monkeypatch, failure, expected: str) -> None:
    if failure is _write_dev_full and not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux) to produce a real 'no space left on device'")
    monkeypatch.setattr("bundlewise.cli.stats.warehouse_stats", _fail_with(failure))
    result = runner.invoke(app, ["--db", str(shop), "stats"])
    assert result.exit_code == 1, result.output
    assert expected in result.output and "'bundlewise stats'" in result.output
    assert "internal error" not in result.output and "bug" not in result.output


def test_a_missing_output_folder_is_an_error_not_a_bug(tmp_path: Path) -> None:
    baskets = tmp_path / "baskets.txt"
    baskets.write_text("tea,milk\ntea,milk\ntea,jam\n", encoding="utf-8")
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(baskets), "--min-support", "0.1",
                                 "--output", str(tmp_path / "no-such-folder" / "rules.csv")])
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "no-such-folder" in result.output


def test_a_user_error_is_not_hidden_by_a_failing_clean_up(shop: Path, monkeypatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        try:
            raise ConfigError("the real problem: --top must be >= 1")
        finally:
            raise duckdb.InvalidInputException("unregister failed")  # noqa: B012 (the pattern under test)

    monkeypatch.setattr("bundlewise.cli.stats.warehouse_stats", fail)
    result = runner.invoke(app, ["--db", str(shop), "stats"])
    assert result.exit_code == 1, result.output
    assert "the real problem: --top must be >= 1" in result.output
    assert "while cleaning up: InvalidInputException" in result.output
    assert "this is a bug" not in result.output
