"""Fixed quarantined lines join the order they belong to; every other line of a held order is a duplicate key."""

from __future__ import annotations

import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import DataValidationError
from bundlewise.ingest import Warehouse, ingest_files

HEADER = ["order_id", "product_id", "quantity", "customer_id", "ordered_at"]
ORDERS = IngestConfig(kind="orders")
QUARANTINE = IngestConfig(kind="orders", on_error="quarantine")


def _q(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def _quarantine_one_line(wh: Warehouse, write_csv) -> None:
    rows = [["7", "a", "1", "u1", "2020-05-01 09:00:00"], ["7", "b", "x", "u1", "2020-05-01 09:30:00"],
            ["7", "c", "1", "u1", "2020-05-01 09:00:00"]]
    [r] = ingest_files(wh, [write_csv("o.csv", HEADER, rows)], QUARANTINE)
    assert r.rows_rejected == 1


@pytest.mark.parametrize(("column", "value", "message"), [
    ("customer_id", "u9", "column 'customer_id' is 'u9'; order 7 is in the warehouse (ingest #1) with "
                          "customer_id u1; a line joining it must agree"),
    ("ordered_at", "2021-05-01 09:00:00", "column 'ordered_at' is '2021-05-01 09:00:00'; order 7 is in the "
                                          "warehouse (ingest #1) with ordered_at 2020-05-01 09:00:00"),
])
def test_a_line_that_disagrees_with_the_order_header_is_refused(wh: Warehouse, write_csv, column: str,
                                                                value: str, message: str) -> None:
    _quarantine_one_line(wh, write_csv)
    fixed = {"order_id": "7", "product_id": "b", "quantity": "2", "customer_id": "u1",
             "ordered_at": "2020-05-01 09:30:00", column: value}
    before = wh.counts()
    with pytest.raises(DataValidationError) as err:
        ingest_files(wh, [write_csv("fix.csv", HEADER, [[fixed[h] for h in HEADER]])], ORDERS)
    assert "fix.csv row 2: " + message in str(err.value)
    assert wh.counts() == before
    assert _q(wh, "SELECT resolved_by_ingest FROM rejected_rows") == [(None,)]


def test_an_agreeing_line_joins_and_an_earlier_time_moves_the_order(wh: Warehouse, write_csv) -> None:
    _quarantine_one_line(wh, write_csv)
    fix = write_csv("fix.csv", HEADER, [["7", "b", "2", "", "2020-05-01 08:45:00"]])  # no customer: agrees
    [r] = ingest_files(wh, [fix], ORDERS)
    assert (r.details["orders"], r.details["orders_joined"], r.details["lines_joined"]) == (0, 1, 1)
    assert _q(wh, "SELECT customer_id, ordered_at::VARCHAR, ingest_id FROM orders") == [
        ("u1", "2020-05-01 08:45:00", 1)]
    assert _q(wh, "SELECT product_id, quantity, ingest_id FROM order_lines ORDER BY 1") == [
        ("a", 1.0, 1), ("b", 2.0, 2), ("c", 1.0, 1)]
    assert _q(wh, "SELECT ingest_id, row_number, resolved_by_ingest FROM rejected_rows") == [(1, 3, 2)]


def test_more_lines_than_quarantined_ones_are_a_duplicate_key(wh: Warehouse, write_csv) -> None:
    _quarantine_one_line(wh, write_csv)
    # The whole original file, fixed and sent again: lines a and c are stored already.
    again = write_csv("all.csv", HEADER, [["7", "a", "1", "u1", "2020-05-01 09:00:00"],
                                          ["7", "b", "2", "u1", "2020-05-01 09:30:00"],
                                          ["7", "c", "1", "u1", "2020-05-01 09:00:00"]])
    with pytest.raises(DataValidationError, match=r"duplicate key: order 7 is already in the warehouse \(ingest #1 "
                                                  r"from .*o.csv\); it has 1 quarantined line\(s\) not yet fixed "
                                                  r"but this file has 3 lines of it"):
        ingest_files(wh, [again], ORDERS)
    assert _q(wh, "SELECT count(*) FROM order_lines")[0][0] == 2


def test_lines_quarantined_by_another_export_never_join(wh: Warehouse, write_csv) -> None:
    ingest_files(wh, [write_csv("a.csv", HEADER, [["5", "a", "1", "u1", "2020-01-01"]])], ORDERS)
    # A later export reuses id 5: its good line is a duplicate key, its bad line is quarantined for quantity.
    later = write_csv("b.csv", HEADER, [["5", "p", "1", "u1", "2020-01-01"], ["5", "q", "x", "u1", "2020-01-01"]])
    [r] = ingest_files(wh, [later], QUARANTINE)
    assert r.rows_rejected == 2
    fix = write_csv("fix.csv", HEADER, [["5", "q", "1", "u1", "2020-01-01"]])
    with pytest.raises(DataValidationError, match="duplicate key: order 5 is already in the warehouse"):
        ingest_files(wh, [fix], ORDERS)
    assert _q(wh, "SELECT product_id FROM order_lines") == [("a",)]


def test_a_wholly_quarantined_order_is_marked_fixed_when_loaded(wh: Warehouse, write_csv) -> None:
    rows = [["1", "a", "1", "u1", "2020-01-01"], ["2", "b", "x", "u2", "2020-01-01"]]
    ingest_files(wh, [write_csv("o.csv", HEADER, rows)], QUARANTINE)
    [r] = ingest_files(wh, [write_csv("fix.csv", HEADER, [["2", "b", "3", "u2", "2020-01-01"]])], ORDERS)
    assert (r.details["orders"], r.details["orders_joined"]) == (1, 0)
    assert _q(wh, "SELECT record_key, resolved_by_ingest FROM rejected_rows") == [("2", r.ingest_id)]


def test_a_v3_warehouse_gains_the_fix_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    from bundlewise.ingest.schema import MIGRATIONS

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR, "
                "applied_at TIMESTAMP)")
    for m in MIGRATIONS[:3]:
        for statement in m.statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, ?, current_timestamp::TIMESTAMP)",
                    [m.version, m.description])
    con.execute("""INSERT INTO rejected_rows VALUES (1, 'orders', 'o.csv', 3, 'quantity', 'x', 'bad', '{}')""")
    con.close()
    with Warehouse(path) as wh:
        assert wh.schema_version() == MIGRATIONS[-1].version >= 4  # every later migration applied too
        assert _q(wh, "SELECT row_number, record_key, resolved_by_ingest FROM rejected_rows") == [(3, None, None)]
