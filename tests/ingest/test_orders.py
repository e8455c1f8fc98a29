"""Orders ingest: routing, derived products, validation policies, idempotency, duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError, DataValidationError, SourceFileError
from bundlewise.ingest import Warehouse, ingest_files

RETAIL_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                 "Country"]
RETAIL_ROWS = [
    ["536365", "85123A", "WHITE HEART", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "United Kingdom"],
    ["536365", "71053", "WHITE LANTERN", "6", "2010-12-01 08:27:00", "3.39", "17850.0", "United Kingdom"],
    ["536365", "POST", "POSTAGE", "1", "2010-12-01 08:26:00", "18.0", "17850.0", "United Kingdom"],
    ["536366", "85123A", "WHITE HANGING HEART", "2", "2010-12-02 09:00:00", "2.65", "", "France"],
    ["536366", "22633", "", "1", "2010-12-02 09:00:00", "0", "", "France"],
    ["C536367", "71053", "WHITE LANTERN", "-1", "2010-12-03 10:00:00", "3.39", "17850.0", "United Kingdom"],
    ["536368", "71053", "WHITE LANTERN", "-5", "2010-12-03 11:00:00", "0", "", "United Kingdom"],
    ["536369", "71053", "WHITE LANTERN", "1", "2010-12-04 12:00:00", "3.10", "13047", "United Kingdom"],
    ["536369", "71053", "WHITE LANTERN", "1", "2010-12-04 12:00:00", "3.10", "13047", "United Kingdom"],
]
RETAIL = IngestConfig(kind="orders", preset="online-retail")


def _q(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def test_online_retail_routing(wh: Warehouse, write_csv) -> None:
    path = write_csv("retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    [r] = ingest_files(wh, [path], RETAIL)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected, r.rows_duplicate) == (9, 9, 0, 1)
    d = r.details
    assert d["orders"] == 5 and d["products"] == 4
    assert d["sale_lines"] == 6  # 536365 x3, 536366 x1, 536369 x2
    assert d["sale_orders"] == 3
    assert (d["return_lines"], d["cancellation_lines"], d["negative_quantity_lines"]) == (2, 1, 1)
    assert d["zero_price_or_quantity_lines"] == 1 and d["non_product_lines"] == 1
    # customer ids written by pandas as floats are normalised; order time is the earliest line's
    assert _q(wh, "SELECT customer_id, ordered_at::VARCHAR, kind FROM orders WHERE order_id = '536365'") == [
        ("17850", "2010-12-01 08:26:00", "sale")]
    assert _q(wh, "SELECT kind FROM orders WHERE order_id = 'C536367'") == [("cancellation",)]
    assert _q(wh, "SELECT order_id, reason, quantity FROM returns ORDER BY order_id") == [
        ("536368", "negative_quantity", 5.0), ("C536367", "cancellation", 1.0)]
    # baskets: real products, positive price and quantity, sales only, distinct per order
    assert _q(wh, "SELECT order_id, product_id FROM basket_items ORDER BY ALL") == [
        ("536365", "71053"), ("536365", "85123A"), ("536366", "85123A"), ("536369", "71053")]
    # derived catalog: latest description and latest positive sale price; fee codes flagged
    assert _q(wh, "SELECT product_id, title, price, is_product, origin FROM products ORDER BY 1") == [
        ("22633", None, None, True, "derived"),
        ("71053", "WHITE LANTERN", 3.10, True, "derived"),
        ("85123A", "WHITE HANGING HEART", 2.65, True, "derived"),
        ("POST", "POSTAGE", 18.0, False, "derived"),
    ]
    # every description a product was sold under is kept
    assert _q(wh, "SELECT title, n_lines FROM product_titles WHERE product_id = '85123A' ORDER BY 1") == [
        ("WHITE HANGING HEART", 1), ("WHITE HEART", 1)]


def test_nothing_lost_every_row_lands_somewhere(wh: Warehouse, write_csv) -> None:
    path = write_csv("retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    ingest_files(wh, [path], RETAIL)
    n_lines = _q(wh, "SELECT count(*) FROM order_lines")[0][0]
    n_returns = _q(wh, "SELECT count(*) FROM returns")[0][0]
    assert n_lines + n_returns == len(RETAIL_ROWS)
    assert _q(wh, "SELECT list_sort(list(source_record)) FROM (SELECT source_record FROM order_lines UNION ALL "
                  "SELECT source_record FROM returns)")[0][0] == list(range(1, len(RETAIL_ROWS) + 1))


def test_fail_writes_nothing_and_names_row_column_value(wh: Warehouse, write_csv) -> None:
    good = write_csv("good.csv", ["order_id", "product_id"], [["1", "a"], ["1", "b"]])
    ingest_files(wh, [good], IngestConfig(kind="orders"))
    before = wh.counts()
    rows = [["2", "a", "1", "2.5"], ["3", "b", "1", "-3.50"], ["4", "c", "two", "1"]]
    bad = write_csv("orders.csv", ["order_id", "product_id", "quantity", "unit_price"], rows)
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [bad], IngestConfig(kind="orders"))
    assert wh.counts() == before
    err = exc.value
    assert err.n_rejected == 2
    assert [(p.row_number, p.column, p.value) for p in err.problems] == [(3, "unit_price", "-3.50"),
                                                                        (4, "quantity", "two")]
    assert "orders.csv row 3: column 'unit_price' is '-3.50'; unit_price must be >= 0" in str(err)
    assert "--on-error quarantine" in str(err)


def test_skip_and_quarantine(wh: Warehouse, write_csv) -> None:
    rows = [["1", "a", "2020-01-01"], ["2", "b", "not a date"], ["", "c", "2020-01-02"]]
    path = write_csv("o.csv", ["order_id", "product_id", "ordered_at"], rows)
    [r] = ingest_files(wh, [path], IngestConfig(kind="orders", on_error="skip"))
    assert (r.rows_accepted, r.rows_rejected) == (1, 2)
    assert wh.counts()["rejected_rows"] == 0
    path2 = write_csv("o2.csv", ["order_id", "product_id", "ordered_at"],
                      [["5", "a", "2020-01-01"], ["6", "b", "31/12/2020"]])
    [r2] = ingest_files(wh, [path2], IngestConfig(kind="orders", on_error="quarantine"))
    got = _q(wh, "SELECT ingest_id, source, row_number, column_name, value, raw->>'$.order_id' FROM rejected_rows")
    assert got == [(r2.ingest_id, "o2.csv", 3, "ordered_at", "31/12/2020", "6")]
    assert _q(wh, "SELECT rows_read, rows_accepted, rows_rejected FROM ingest_log ORDER BY ingest_id") == [
        (3, 1, 2), (2, 1, 1)]


def test_same_file_twice_changes_nothing(wh: Warehouse, write_csv) -> None:
    path = write_csv("retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    [first] = ingest_files(wh, [path], RETAIL)
    before = wh.counts()
    [again] = ingest_files(wh, [path], RETAIL)
    assert again.already_ingested_as == first.ingest_id and not again.changed
    assert wh.counts() == before


def test_order_already_in_warehouse_is_a_duplicate_key(wh: Warehouse, write_csv) -> None:
    ingest_files(wh, [write_csv("a.csv", ["order_id", "product_id"], [["1", "x"], ["2", "y"]])],
                 IngestConfig(kind="orders"))
    overlap = write_csv("b.csv", ["order_id", "product_id"], [["2", "y"], ["3", "z"]])
    with pytest.raises(DataValidationError, match=r"b.csv row 2: column 'order_id' is '2'; duplicate key: order 2 "
                                                 r"is already in the warehouse \(ingest #1"):
        ingest_files(wh, [overlap], IngestConfig(kind="orders"))
    [r] = ingest_files(wh, [overlap], IngestConfig(kind="orders", on_error="skip"))
    assert r.rows_accepted == 1 and _q(wh, "SELECT count(*) FROM orders")[0][0] == 3


def test_one_order_two_customers_is_rejected(wh: Warehouse, write_csv) -> None:
    path = write_csv("o.csv", ["order_id", "product_id", "customer_id"], [["1", "a", "u1"], ["1", "b", "u2"],
                                                                         ["2", "a", "u1"]])
    with pytest.raises(DataValidationError, match="order 1 has lines for 2 different customers"):
        ingest_files(wh, [path], IngestConfig(kind="orders"))


def test_all_files_of_one_call_are_one_transaction(wh: Warehouse, write_csv) -> None:
    good = write_csv("good.csv", ["order_id", "product_id"], [["1", "a"]])
    bad = write_csv("bad.csv", ["order_id", "product_id", "quantity"], [["2", "a", "many"]])
    with pytest.raises(DataValidationError):
        ingest_files(wh, [good, bad], IngestConfig(kind="orders"))
    assert wh.counts()["orders"] == 0 and wh.counts()["ingest_log"] == 0


def test_missing_columns_and_bad_config(wh: Warehouse, write_csv) -> None:
    path = write_csv("o.csv", ["InvoiceNo", "Sku"], [["1", "a"]])
    with pytest.raises(SourceFileError, match=r"required field 'order_id'.*columns found: 'InvoiceNo', 'Sku'"):
        ingest_files(wh, [path], IngestConfig(kind="orders"))
    with pytest.raises(SourceFileError, match=r"has no column 'StockCode' \(mapped to product_id by preset"):
        ingest_files(wh, [path], RETAIL)
    with pytest.raises(ConfigError, match="unknown preset 'shopify'"):
        ingest_files(wh, [path], IngestConfig(kind="orders", preset="shopify"))
    with pytest.raises(ConfigError, match="unknown orders field"):
        ingest_files(wh, [path], IngestConfig(kind="orders", mapping={"sku": "Sku"}))
    [r] = ingest_files(wh, [path], IngestConfig(kind="orders", mapping={"order_id": "InvoiceNo",
                                                                        "product_id": "Sku"}))
    assert r.rows_accepted == 1


def test_timestamps_offsets_and_formats(wh: Warehouse, write_csv) -> None:
    path = write_csv("o.csv", ["order_id", "product_id", "ordered_at"],
                     [["1", "a", "2021-03-04T10:00:00+02:00"], ["2", "a", "2021-03-04T10:00:00Z"],
                      ["3", "a", "2021-03-04"]])
    ingest_files(wh, [path], IngestConfig(kind="orders"))
    assert [r[0] for r in _q(wh, "SELECT ordered_at::VARCHAR FROM orders ORDER BY order_id")] == [
        "2021-03-04 08:00:00", "2021-03-04 10:00:00", "2021-03-04 00:00:00"]
    us = write_csv("us.csv", ["order_id", "product_id", "ordered_at"], [["9", "a", "12/1/2010 8:26"]])
    ingest_files(wh, [us], IngestConfig(kind="orders", timestamp_format="%m/%d/%Y %H:%M"))
    assert _q(wh, "SELECT ordered_at::VARCHAR FROM orders WHERE order_id = '9'") == [("2010-12-01 08:26:00",)]


def test_parquet_typed_with_summed_discount_and_line_total(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({
        "basket_id": [10, 10, 11], "household_id": [1, 1, 2], "store_id": [5, 5, 5],
        "product_id": [100, 101, 100], "quantity": [2, 1, 0], "sales_value": [3.0, 1.5, 0.0],
        "retail_disc": [0.5, 0.0, 0.0], "coupon_disc": [0.25, 0.0, 0.0], "coupon_match_disc": [0.0, 0.0, 0.0],
        "transaction_timestamp": pa.array([1_600_000_000_000_000] * 3, type=pa.timestamp("us")),
    }), path)
    [r] = ingest_files(wh, [path], IngestConfig(kind="orders", preset="complete-journey"))
    assert r.rows_accepted == 3
    assert _q(wh, "SELECT order_id, product_id, quantity, unit_price, discount FROM order_lines ORDER BY ALL") == [
        ("10", "100", 2.0, 1.5, 0.75), ("10", "101", 1.0, 1.5, 0.0), ("11", "100", 0.0, None, 0.0)]
    # a zero-quantity line is kept but never enters a basket
    assert _q(wh, "SELECT count(*) FROM basket_items WHERE order_id = '11'") == [(0,)]


def test_drop_duplicate_lines(wh: Warehouse, write_csv) -> None:
    path = write_csv("retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    [r] = ingest_files(wh, [path], RETAIL.replace(drop_duplicate_lines=True))
    assert r.rows_duplicate == 1
    assert _q(wh, "SELECT count(*) FROM order_lines WHERE order_id = '536369'") == [(1,)]


def test_typed_fast_path_then_group_rejects_are_explained(wh: Warehouse, write_csv) -> None:
    # numbers and timestamps parse typed; the order-level problem is found after, and explained
    # from a second read with the same types (same record numbers)
    rows = [["1", "a", "2", "2.5", "2024-01-01 10:00:00", "u1"], ["1", "b", "1", "3", "2024-01-01 10:00:00", "u2"],
            ["2", "a", "4", "2.5", "2024-01-02 11:00:00", "u1"]]
    path = write_csv("o.csv", ["order_id", "product_id", "quantity", "unit_price", "ordered_at", "customer_id"], rows)
    [r] = ingest_files(wh, [path], IngestConfig(kind="orders", on_error="quarantine"))
    assert (r.rows_accepted, r.rows_rejected) == (1, 2)
    got = _q(wh, "SELECT row_number, column_name, value, raw->>'$.customer_id' FROM rejected_rows ORDER BY 1")
    assert got == [(2, "customer_id", "u1", "u1"), (3, "customer_id", "u2", "u2")]
    assert _q(wh, "SELECT order_id, quantity FROM order_lines") == [("2", 4.0)]


def test_two_basket_files_do_not_collide(wh: Warehouse, tmp_path) -> None:
    (tmp_path / "jan.csv").write_text("milk,bread\ntea\n")
    (tmp_path / "feb.csv").write_text("milk,jam\n")
    results = ingest_files(wh, [tmp_path / "jan.csv", tmp_path / "feb.csv"], IngestConfig(kind="orders",
                                                                                         preset="groceries"))
    assert [r.rows_accepted for r in results] == [3, 2]
    assert _q(wh, "SELECT order_id FROM orders ORDER BY 1") == [("feb.csv:1",), ("jan.csv:1",), ("jan.csv:2",)]


def test_one_bad_order_is_listed_a_few_times_not_fifty(wh: Warehouse, write_csv) -> None:
    ingest_files(wh, [write_csv("a.csv", ["order_id", "product_id"], [["7", "x"]])], IngestConfig(kind="orders"))
    rows = [["7", f"p{i}"] for i in range(50)] + [["8", "a"], ["", "b"]]
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [write_csv("b.csv", ["order_id", "product_id"], rows)], IngestConfig(kind="orders"))
    problems = exc.value.problems
    assert exc.value.n_rejected == 51
    assert [p.row_number for p in problems] == [2, 3, 4, 53]  # three of order 7's lines, then the blank id
    assert "… and 47 more rejected rows" in str(exc.value)


def test_refund_lines_may_carry_negative_amounts(wh: Warehouse, write_csv) -> None:
    rows = [["1", "a", "2", "10.0"], ["R1", "a", "-1", "-5.0"]]
    path = write_csv("o.csv", ["order_id", "product_id", "quantity", "line_total"], rows)
    [r] = ingest_files(wh, [path], IngestConfig(kind="orders"))
    assert r.rows_rejected == 0
    assert _q(wh, "SELECT order_id, quantity, unit_price FROM returns") == [("R1", 1.0, 5.0)]
    bad = write_csv("bad.csv", ["order_id", "product_id", "quantity", "line_total"], [["2", "a", "1", "-3"]])
    with pytest.raises(DataValidationError, match="line_total must be >= 0"):
        ingest_files(wh, [bad], IngestConfig(kind="orders"))


def test_online_retail_spreadsheet_timestamps(wh: Warehouse, write_csv) -> None:
    rows = [[*RETAIL_ROWS[0][:4], "12/1/2010 8:26", *RETAIL_ROWS[0][5:]],
            [*RETAIL_ROWS[1][:4], "2010-12-01 08:27:00", *RETAIL_ROWS[1][5:]]]
    ingest_files(wh, [write_csv("uci.csv", RETAIL_HEADER, rows)], RETAIL)
    assert _q(wh, "SELECT ordered_at::VARCHAR FROM orders") == [("2010-12-01 08:26:00",)]
