"""The README's quarantine -> ``rejects --raw`` -> fix -> ingest loop, end to end through the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse

runner = CliRunner()
HEADER = ["order_id", "product_id", "quantity", "customer_id", "ordered_at"]
ROWS = [["10", "a", "1", "u1", "2020-03-01 10:00:00"],
        ["10", "b", "two", "u1", "2020-03-01 10:00:00"],  # the one bad line of a three-line order
        ["10", "c", "1", "u1", "2020-03-01 10:00:00"],
        ["11", "a", "1", "u2", "2020-03-02 11:00:00"]]


def _cli(db: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", db, "-q", *args])


def _state(db: str) -> tuple:
    with Warehouse(db, read_only=True) as wh:
        q = wh.con.execute
        return (q("SELECT order_id, product_id, quantity FROM order_lines ORDER BY ALL").fetchall(),
                q("SELECT order_id, customer_id FROM orders ORDER BY 1").fetchall(),
                q("SELECT * FROM basket_items ORDER BY ALL").fetchall(),
                q("SELECT ingest_id, row_number, resolved_by_ingest FROM rejected_rows ORDER BY ALL").fetchall(),
                wh.counts())


def test_a_fixed_line_joins_its_order_once(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    first = _cli(db, "ingest", "orders", str(write_csv("orders.csv", HEADER, ROWS)), "--on-error", "quarantine")
    assert first.exit_code == 0, first.output
    fix = tmp_path / "fix.csv"
    exported = _cli(db, "rejects", "--raw", "--ingest", "1", "--output", str(fix))
    assert exported.exit_code == 0, exported.output
    with fix.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["order_id"], r["product_id"], r["quantity"]) for r in rows] == [("10", "b", "two")]
    rows[0]["quantity"] = "2"
    with fix.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    again = _cli(db, "ingest", "orders", str(fix))
    assert again.exit_code == 0, again.output
    assert "joined 1 fixed lines to 1 orders already in the warehouse" in again.output
    lines, orders, baskets, rejected, counts = _state(db)
    assert lines == [("10", "a", 1.0), ("10", "b", 2.0), ("10", "c", 1.0), ("11", "a", 1.0)]
    assert orders == [("10", "u1"), ("11", "u2")]
    assert baskets == [("10", "a"), ("10", "b"), ("10", "c"), ("11", "a")]
    assert rejected == [(1, 3, 2)]  # row 3 of ingest #1, fixed by ingest #2
    listing = _cli(db, "rejects")
    assert listing.exit_code == 0 and "1 shown were fixed by a later ingest" in listing.output

    before = _state(db)
    same = _cli(db, "ingest", "orders", str(fix))
    assert same.exit_code == 0 and "already ingested as #2" in same.output
    # The same fix with other bytes: the order's quarantined line is fixed already, so it is a duplicate key.
    fix2 = tmp_path / "fix2.csv"
    fix2.write_text(fix.read_text().replace(",2,", ",2.0,"))
    twice = _cli(db, "ingest", "orders", str(fix2))
    assert twice.exit_code == 1
    assert "column 'order_id' is '10'; duplicate key: order 10 is already in the warehouse" in twice.output
    assert _state(db) == before


def test_a_new_order_reusing_an_id_is_still_refused(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    assert _cli(db, "ingest", "orders", str(write_csv("orders.csv", HEADER, ROWS)), "--on-error",
                "quarantine").exit_code == 0
    before = _state(db)
    # Order 11 was loaded whole: nothing of it is quarantined, so any line of it is a duplicate key.
    reused = write_csv("later.csv", HEADER, [["11", "z", "1", "u2", "2020-03-02 11:00:00"]])
    result = _cli(db, "ingest", "orders", str(reused))
    assert result.exit_code == 1
    assert "later.csv row 2: column 'order_id' is '11'; duplicate key: order 11 is already in the warehouse" \
        in result.output
    assert _state(db) == before
