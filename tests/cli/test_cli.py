"""The CLI end to end (typer's runner): help, version, ingest summaries, errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bundlewise import __version__
from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse

runner = CliRunner()

VERBS = [[], ["ingest"], ["ingest", "orders"], ["ingest", "products"], ["ingest", "events"], ["datasets"],
         ["datasets", "list"], ["datasets", "load"], ["stats"], ["rejects"]]


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "root")
def test_help_on_every_verb(verb: list[str]) -> None:
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"bundlewise {__version__}"


def test_ingest_prints_the_summary_and_stats_reads_it(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    path = write_csv("o.csv", ["order_id", "product_id", "unit_price"], [["1", "a", "2"], ["1", "b", "3"],
                                                                         ["2", "a", "2"]])
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(path)])
    assert result.exit_code == 0, result.output
    assert "read 3 · accepted 3 · rejected 0 · duplicates 0" in result.output
    assert "sale lines 3 in 2 orders" in result.output
    again = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(path)])
    assert again.exit_code == 0 and "already ingested as #1" in again.output
    stats = runner.invoke(app, ["--db", db, "stats"])
    assert stats.exit_code == 0 and "baskets 2 · basket items 3" in stats.output


def test_bad_file_exits_nonzero_names_row_and_column_and_changes_nothing(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    ok = write_csv("ok.csv", ["order_id", "product_id"], [["1", "a"]])
    assert runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(ok)]).exit_code == 0
    bad = write_csv("bad.csv", ["order_id", "product_id", "unit_price"], [["2", "a", "1"], ["3", "b", "abc"]])
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv row 3: column 'unit_price' is 'abc'" in result.output
    assert "Traceback" not in result.output
    with Warehouse(db, read_only=True) as wh:
        counts = wh.counts()
    assert (counts["orders"], counts["order_lines"], counts["ingest_log"], counts["rejected_rows"]) == (1, 1, 1, 0)


def test_quarantine_then_export_rejects(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    bad = write_csv("bad.csv", ["order_id", "product_id", "quantity"], [["2", "a", "1"], ["3", "b", "lots"]])
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(bad), "--on-error", "quarantine"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(app, ["--db", db, "rejects"])
    assert "lots" in listing.output and "1 quarantined rows" in listing.output
    out = tmp_path / "rejects.csv"
    exported = runner.invoke(app, ["--db", db, "rejects", "--output", str(out)])
    assert exported.exit_code == 0
    assert "bad.csv,3,quantity,lots" in out.read_text()


def test_usage_and_config_errors_exit_nonzero(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    path = write_csv("o.csv", ["order_id", "product_id"], [["1", "a"]])
    bad_mode = runner.invoke(app, ["--db", db, "ingest", "orders", str(path), "--on-error", "ignore"])
    assert bad_mode.exit_code == 1 and "--on-error is 'ignore'; allowed values are 'fail', 'skip', 'quarantine'" \
        in bad_mode.output
    bad_map = runner.invoke(app, ["--db", db, "ingest", "orders", str(path), "--map", "order_id"])
    assert bad_map.exit_code == 1 and "is not FIELD=COLUMN" in bad_map.output
    missing = runner.invoke(app, ["--db", db, "ingest", "orders", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    no_db = runner.invoke(app, ["--db", str(tmp_path / "none.duckdb"), "stats"])
    assert no_db.exit_code == 1 and "does not exist" in no_db.output
    unknown = runner.invoke(app, ["--db", db, "datasets", "load", "movielens"])
    assert unknown.exit_code == 1 and "unknown dataset" in unknown.output


def test_datasets_list() -> None:
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0
    for name in ("complete-journey", "groceries", "instacart-sample", "online-retail"):
        assert name in result.output


def test_fix_and_reingest_quarantined_rows(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    bad = write_csv("orders.csv", ["order_id", "product_id", "quantity"],
                    [["1", "a", "1"], ["2", "b", "two"], ["3", "c", "1,5"]])
    assert runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(bad), "--on-error", "quarantine"]
                         ).exit_code == 0
    fix = tmp_path / "fix.csv"
    exported = runner.invoke(app, ["--db", db, "rejects", "--raw", "--output", str(fix)])
    assert exported.exit_code == 0, exported.output
    assert fix.read_text().splitlines() == ["order_id,product_id,quantity", "2,b,two", "3,c,\"1,5\""]
    fix.write_text("order_id,product_id,quantity\n2,b,2\n3,c,1.5\n")
    again = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(fix)])
    assert again.exit_code == 0, again.output
    with Warehouse(db, read_only=True) as wh:
        assert wh.con.execute("SELECT order_id, quantity FROM order_lines ORDER BY 1").fetchall() == [
            ("1", 1.0), ("2", 2.0), ("3", 1.5)]
    assert runner.invoke(app, ["--db", db, "rejects", "--raw"]).exit_code == 1
