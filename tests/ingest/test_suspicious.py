"""Suspicious but legal values are loaded and reported as warnings, with their rows."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.config import IngestConfig
from bundlewise.ingest import Warehouse, ingest_files

PRODUCTS = IngestConfig(kind="products")
ORDERS = IngestConfig(kind="orders")
P_HEADER = ["product_id", "title", "price", "cost", "stock"]


def _by_column(result) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    return {w.column: (w.count, w.examples) for w in result.warnings}


def test_negative_stock_and_cost_above_price_are_loaded_and_reported(wh: Warehouse, write_csv) -> None:
    rows = [["a", "Apple", "1", "0.5", "-3"], ["b", "Bread", "2", "3", "10"], ["c", "Cheese", "5", "1", "0"]]
    [r] = ingest_files(wh, [write_csv("p.csv", P_HEADER, rows)], PRODUCTS)
    assert r.rows_accepted == 3
    got = _by_column(r)
    assert got == {"stock": (1, ((2, "-3.0"),)), "cost": (1, ((3, "cost 3.0 > price 2.0"),))}
    assert "p.csv: 1 row: column 'stock' is negative; loaded as is" in r.warnings[0].describe()
    assert wh.con.execute("SELECT product_id, stock FROM products WHERE stock < 0").fetchall() == [("a", -3.0)]
    # A later price-only file that drops a price below the stored cost is reported too.
    [later] = ingest_files(wh, [write_csv("prices.csv", ["product_id", "price"], [["c", "0.8"]])], PRODUCTS)
    assert _by_column(later) == {"price": (1, ((2, "cost 1.0 > price 0.8"),))}


def test_clean_files_have_no_warnings(wh: Warehouse, write_csv) -> None:
    [p] = ingest_files(wh, [write_csv("p.csv", P_HEADER, [["a", "Apple", "1", "0.5", "3"]])], PRODUCTS)
    rows = [[str(i), "a", f"2020-01-{1 + i % 28:02d}"] for i in range(30)]
    [o] = ingest_files(wh, [write_csv("o.csv", ["order_id", "product_id", "ordered_at"], rows)], ORDERS)
    assert p.warnings == [] and o.warnings == []


def test_timestamps_far_outside_the_data_range(wh: Warehouse, write_csv) -> None:
    rows = [[str(i), "a", f"2020-{1 + i % 6:02d}-{1 + i % 28:02d} 10:00:00"] for i in range(40)]
    rows += [["y2999", "a", "2999-01-01"], ["y1", "a", "0001-01-01"], ["y2015", "a", "2015-06-01"],
             ["y2019", "a", "2019-03-01"]]  # 2019-03: within a year of the middle half, no warning
    [r] = ingest_files(wh, [write_csv("o.csv", ["order_id", "product_id", "ordered_at"], rows)], ORDERS)
    [w] = r.warnings
    assert (w.column, w.count) == ("ordered_at", 3)
    assert w.examples == ((42, "2999-01-01 00:00:00"), (43, "0001-01-01 00:00:00"), (44, "2015-06-01 00:00:00"))
    assert "far outside the data's range" in w.reason and "check the year" in w.reason
    assert wh.con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 44


def test_event_timestamps_far_outside_the_data_range(wh: Warehouse, write_csv) -> None:
    rows = [[f"e{i}", f"2021-03-{1 + i:02d}", "view"] for i in range(20)] + [["late", "2999-03-01", "view"]]
    [r] = ingest_files(wh, [write_csv("ev.csv", ["event_id", "ts", "event_type"], rows)],
                       IngestConfig(kind="events"))
    assert _by_column(r) == {"ts": (1, ((22, "2999-03-01 00:00:00"),))}


def test_one_product_two_values_in_one_command(wh: Warehouse, write_csv) -> None:
    first = write_csv("p1.csv", ["product_id", "title", "price"], [["a", "Apple", "1"], ["b", "Bread", "2"]])
    second = write_csv("p2.csv", ["product_id", "title", "price"], [["b", "Bread", "2.5"], ["a", "Aple", "1"]])
    r1, r2 = ingest_files(wh, [first, second], PRODUCTS)
    assert r1.warnings == []
    assert _by_column(r2) == {"title": (1, ((3, "Aple vs Apple in p1.csv"),)),
                              "price": (1, ((2, "2.5 vs 2.0 in p1.csv"),))}
    # In a later command the same change is an update, not a mix-up.
    third = write_csv("p3.csv", ["product_id", "title", "price"], [["a", "Apple", "1.5"]])
    [r3] = ingest_files(wh, [third], PRODUCTS)
    assert r3.warnings == []


def test_the_cli_prints_warnings_with_the_summary(tmp_path: Path, write_csv) -> None:
    path = write_csv("p.csv", P_HEADER, [["a", "Apple", "1", "2", "1"]])
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "w.duckdb"), "-q", "ingest", "products", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: p.csv: 1 row: column 'cost' is above the price" in result.output
