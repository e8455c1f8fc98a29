"""Real-world exports that used to end as internal errors or silently lost values (issue 10, item 4).

Each test is one defect a tester found: it failed before the fix (rc 70 "this is a bug", a NULL
timestamp, a price of 1.0, a lost column) and now shows a row- or column-level message or a
documented acceptance.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.config import IngestConfig
from bundlewise.errors import DataValidationError, SourceFileError
from bundlewise.ingest import Warehouse, ingest_files
from bundlewise.ingest.readers import jsonl as readers_json

ORDERS = IngestConfig(kind="orders")
PRODUCTS = IngestConfig(kind="products")
EVENTS = IngestConfig(kind="events")
JAN1, JAN2 = 1704067200, 1704153600  # 2024-01-01 and 2024-01-02 00:00 UTC in epoch seconds


def _q(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def _parquet(tmp_path: Path, name: str, table: pa.Table) -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


# -- events without ids --------------------------------------------------------------------------
def test_blank_event_id_in_csv_gets_a_generated_id(wh: Warehouse, write_csv) -> None:
    path = write_csv("ev.csv", ["event_id", "ts", "event_type"],
                     [["e1", "2024-01-01", "view"], ["", "2024-01-02", "view"], ["", "2024-01-03", "click"]])
    [r] = ingest_files(wh, [path], EVENTS)
    ids = [i for (i,) in _q(wh, "SELECT event_id FROM events ORDER BY ts")]
    assert ids[0] == "e1" and all(re.fullmatch("[0-9a-f]{32}", i) for i in ids[1:]) and ids[1] != ids[2]
    assert r.details["generated_event_ids"] == 2
    assert any("2 events had no event_id; generated from a hash of the row" in n for n in r.notes)


def test_absent_event_id_key_in_jsonl_with_quarantine(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text(json.dumps({"event_id": "e1", "ts": "2024-01-01", "event_type": "view"}) + "\n"
                    + json.dumps({"ts": "2024-01-02", "event_type": "click"}) + "\n")
    [r] = ingest_files(wh, [path], EVENTS.replace(on_error="quarantine"))
    assert (r.rows_accepted, r.rows_rejected, wh.counts()["events"]) == (2, 0, 2)


# -- epoch integers ------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1, 1000])
def test_parquet_int_epoch_ts_is_detected(wh: Warehouse, tmp_path: Path, scale: int) -> None:
    path = _parquet(tmp_path, "ev.parquet", pa.table({"ts": [JAN1 * scale, JAN2 * scale],
                                                      "event_type": ["view", "click"]}))
    ingest_files(wh, [path], EVENTS)
    assert [t for (t,) in _q(wh, "SELECT ts FROM events ORDER BY ts")] == [datetime(2024, 1, 1), datetime(2024, 1, 2)]


def test_parquet_epoch_ordered_at_is_never_silently_null(wh: Warehouse, tmp_path: Path) -> None:
    path = _parquet(tmp_path, "o.parquet", pa.table({"order_id": ["1", "2"], "product_id": ["a", "b"],
                                                     "ordered_at": [JAN1, JAN2]}))
    ingest_files(wh, [path], ORDERS)
    assert _q(wh, "SELECT ordered_at FROM orders ORDER BY 1") == [(datetime(2024, 1, 1),), (datetime(2024, 1, 2),)]


def test_integer_timestamps_that_are_no_epoch_are_refused_or_parsed_as_declared(wh: Warehouse,
                                                                               tmp_path: Path) -> None:
    table = pa.table({"order_id": ["1", "2"], "product_id": ["a", "b"], "ordered_at": [20240101, 20240102]})
    path = _parquet(tmp_path, "ymd.parquet", table)
    with pytest.raises(SourceFileError, match=r"column 'ordered_at' has type int64 with values from 20,240,101.*"
                                              r"--timestamp-format epoch_s"):
        ingest_files(wh, [path], ORDERS)
    assert wh.counts()["orders"] == 0
    ingest_files(wh, [path], ORDERS.replace(timestamp_format="%Y%m%d"))
    assert _q(wh, "SELECT min(ordered_at) FROM orders") == [(datetime(2024, 1, 1),)]


def test_declared_epoch_units_for_ints_floats_and_text(wh: Warehouse, tmp_path: Path, write_csv) -> None:
    ms = _parquet(tmp_path, "ms.parquet", pa.table({"ts": [JAN1 * 1000 + 500], "event_type": ["view"]}))
    ingest_files(wh, [ms], EVENTS.replace(timestamp_format="epoch_ms"))
    floats = _parquet(tmp_path, "f.parquet", pa.table({"ts": [JAN2 + 0.25], "event_type": ["view"]}))
    with pytest.raises(SourceFileError, match="column 'ts' has type double.*--timestamp-format epoch_s"):
        ingest_files(wh, [floats], EVENTS)
    ingest_files(wh, [floats], EVENTS.replace(timestamp_format="epoch_s"))
    text = write_csv("ev.csv", ["ts", "event_type"], [[str(JAN1), "click"]])
    with pytest.raises(DataValidationError, match="epoch_s / epoch_ms for Unix epoch numbers"):
        ingest_files(wh, [text], EVENTS)
    ingest_files(wh, [text], EVENTS.replace(timestamp_format="epoch"))
    assert [t for (t,) in _q(wh, "SELECT ts FROM events ORDER BY ts")] == [
        datetime(2024, 1, 1), datetime(2024, 1, 1, 0, 0, 0, 500000), datetime(2024, 1, 2, 0, 0, 0, 250000)]


# -- booleans where numbers belong ---------------------------------------------------------------
def test_bool_price_is_refused_with_column_and_type(wh: Warehouse, tmp_path: Path) -> None:
    path = _parquet(tmp_path, "p.parquet", pa.table({"product_id": ["a", "b"], "price": [True, False]}))
    with pytest.raises(SourceFileError, match="column 'price' has type bool; price needs a number"):
        ingest_files(wh, [path], PRODUCTS)
    assert wh.counts()["products"] == 0
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"product_id": "a", "price": 2.5}\n{"product_id": "b", "price": true}\n')
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [jsonl], PRODUCTS)
    [p] = exc.value.problems
    assert (p.row_number, p.column, p.value) == (2, "price", "true")


# -- headers -------------------------------------------------------------------------------------
def test_empty_header_names_are_ignored_when_empty_and_kept_when_not(wh: Warehouse, tmp_path: Path) -> None:
    excel = tmp_path / "excel.csv"  # Excel's trailing delimiter: nothing to keep
    excel.write_text("product_id,title,\na,Apple,\nb,Bread,\n")
    [r] = ingest_files(wh, [excel], PRODUCTS)
    assert wh.counts()["products"] == 2 and any("(unnamed column 3): no name in the header" in n for n in r.notes)
    assert _q(wh, "SELECT attributes FROM products WHERE product_id = 'a'") == [(None,)]
    pandas = tmp_path / "pandas.csv"  # a pandas index (and a stray value under a trailing delimiter)
    pandas.write_text(",product_id,title,\n0,c,Cheese,\n1,d,Dates,12\n")
    ingest_files(wh, [pandas], PRODUCTS)
    rows = _q(wh, "SELECT product_id, attributes FROM products WHERE product_id IN ('c', 'd') ORDER BY 1")
    assert [(pid, json.loads(a)) for pid, a in rows] == [
        ("c", {"(unnamed column 1)": "0"}), ("d", {"(unnamed column 1)": "1", "(unnamed column 4)": "12"})]
    orders = tmp_path / "o.csv"
    orders.write_text(",order_id,product_id\n0,1,a\n1,1,b\n")
    [r] = ingest_files(wh, [orders], ORDERS)
    assert r.rows_accepted == 2 and any("ignored (orders keep only mapped columns)" in n for n in r.notes)


@pytest.mark.parametrize("names", [["_rec", "_bad"], ["_bw_norm", "c1", "c2"], ["_rec_x", "is_cancel"]])
def test_columns_named_like_internal_ones_keep_their_values(wh: Warehouse, write_csv, names: list[str]) -> None:
    path = write_csv("p.csv", ["product_id", *names], [["a", *(f"v{i}" for i in range(len(names)))]])
    ingest_files(wh, [path], PRODUCTS)
    [(attrs,)] = _q(wh, "SELECT attributes FROM products")
    assert json.loads(attrs) == {n: f"v{i}" for i, n in enumerate(names)}
    orders = write_csv("o.csv", ["order_id", "product_id", "_rec", "_bad"], [["1", "a", "x", "y"]])
    ingest_files(wh, [orders], ORDERS)
    assert _q(wh, "SELECT order_id, product_id FROM order_lines") == [("1", "a")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_columns_differing_only_by_case_are_refused_with_both_names(wh: Warehouse, tmp_path: Path,
                                                                     fmt: str) -> None:
    rows = {"order_id": ["1"], "product_id": ["a"], "quantity": ["2"], "Quantity": ["3"]}
    path = tmp_path / f"o.{fmt}"
    if fmt == "csv":
        path.write_text("order_id,product_id,quantity,Quantity\n1,a,2,3\n")
    elif fmt == "jsonl":
        path.write_text(json.dumps({k: v[0] for k, v in rows.items()}) + "\n")
    else:
        pq.write_table(pa.table(rows), path)
    with pytest.raises(SourceFileError, match=r"columns 'quantity' \(column 3\) and 'Quantity' \(column 4\) "
                                              "differ only by case"):
        ingest_files(wh, [path], ORDERS)


# -- Parquet types -------------------------------------------------------------------------------
def test_nested_parquet_columns_kept_as_json_or_refused_when_mapped(wh: Warehouse, tmp_path: Path) -> None:
    table = pa.table({
        "product_id": ["a", "b"],
        "tags": pa.array([[1, 2], None], pa.list_(pa.int64())),
        "dims": pa.array([{"w": 1.5, "h": 2}, {"w": None, "h": 3}]),
        "extra": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
    })
    path = _parquet(tmp_path, "cat.parquet", table)
    ingest_files(wh, [path], PRODUCTS)
    [(attrs,)] = _q(wh, "SELECT attributes FROM products WHERE product_id = 'a'")
    assert {k: json.loads(v) for k, v in json.loads(attrs).items()} == {
        "tags": [1, 2], "dims": {"w": 1.5, "h": 2}, "extra": [["k", 1]]}
    mapped = _parquet(tmp_path, "mapped.parquet", table.select(["product_id", "tags"]))
    with pytest.raises(SourceFileError, match=r"column 'tags' has type list<element: int64>; title needs one scalar"):
        ingest_files(wh, [mapped], PRODUCTS.replace(mapping={"title": "tags"}))


def test_binary_parquet_columns_read_as_utf8_or_refused_per_row(wh: Warehouse, tmp_path: Path) -> None:
    table = pa.table({"product_id": pa.array([b"a", b"b", b"c"], pa.binary()),
                      "title": pa.array(["Café".encode(), b"\xff\xfe", None], pa.large_binary())})
    path = _parquet(tmp_path, "bin.parquet", table)
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], PRODUCTS)
    [p] = exc.value.problems
    assert (p.row_number, p.column) == (2, "title") and "not UTF-8 text" in p.reason
    ingest_files(wh, [path], PRODUCTS.replace(on_error="skip"))
    assert _q(wh, "SELECT product_id, title FROM products ORDER BY 1") == [("a", "Café"), ("c", None)]


def test_typed_parquet_string_is_validated_like_text(wh: Warehouse, tmp_path: Path) -> None:
    path = _parquet(tmp_path, "p.parquet", pa.table({"product_id": ["a", "b"], "price": ["1.5", "12,50 €"]}))
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], PRODUCTS)
    [p] = exc.value.problems
    assert (p.row_number, p.column, p.value) == (2, "price", "12,50 €")


# -- JSON ----------------------------------------------------------------------------------------
def test_deeply_nested_json_is_a_row_level_problem(wh: Warehouse, tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "o.jsonl"
    path.write_text('{"order_id": "1", "product_id": "a"}\n'
                    f'{{"order_id": "2", "product_id": "b", "x": {deep}}}\n'
                    '{"order_id": "3", "product_id": "c"}\n')
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], ORDERS)
    [p] = exc.value.problems
    assert p.row_number == 2 and "nested too deeply" in p.reason
    only = tmp_path / "deep.jsonl"
    only.write_text(f'{{"x": {deep}}}\n')
    with pytest.raises(SourceFileError, match="no line is a readable JSON object.*line 1: the JSON is nested"):
        ingest_files(wh, [only], ORDERS)


def test_unpaired_surrogate_in_json_is_a_row_level_problem(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"product_id": "a"}\n{"product_id": "b", "title": "x\\ud800y"}\n')
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], PRODUCTS)
    [p] = exc.value.problems
    assert p.row_number == 2 and "surrogate" in p.reason


def test_jsonl_streams_in_blocks_with_late_keys_and_exact_lines(wh: Warehouse, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers_json, "_JSON_BATCH", 3)  # many blocks from a small file
    lines = [json.dumps({"product_id": f"p{i}", "price": i}) for i in range(7)]
    lines[5] = json.dumps({"product_id": "p5", "price": 5, "colour": "red"})  # a key only the 2nd block has
    lines.insert(4, "not json")
    lines.insert(8, "")
    path = tmp_path / "cat.jsonl"
    path.write_text("\n".join(lines) + '\n{"product_id": "p9", "price": "x"}\n')
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], PRODUCTS)
    assert [(p.row_number, p.column) for p in exc.value.problems] == [(5, "(whole row)"), (10, "price")]
    ingest_files(wh, [path], PRODUCTS.replace(on_error="skip"))
    rows = _q(wh, "SELECT product_id, price, attributes->>'$.colour' FROM products ORDER BY 1")
    assert rows == [(f"p{i}", float(i), "red" if i == 5 else None) for i in range(7)]


# -- cleanup never hides the error ---------------------------------------------------------------
def test_a_failing_unregister_never_masks_the_real_error() -> None:
    from bundlewise.ingest.jobs import _registered

    class Con:
        def register(self, name: str, table: object) -> None:
            pass

        def unregister(self, name: str) -> None:
            raise RuntimeError("cleanup failed")

    with pytest.raises(ValueError, match="the real error"), _registered(Con(), "_bw_src", pa.table({"a": [1]})):
        raise ValueError("the real error")


# -- through the CLI: a message and exit 1, never "internal error" (exit 70) -------------------------
runner = CliRunner()


def _bad_files(tmp_path: Path) -> list[tuple[str, Path, str]]:
    files = [
        ("products", _parquet(tmp_path, "bool.parquet", pa.table({"product_id": ["a"], "price": [True]})),
         "has type bool"),
        ("orders", _parquet(tmp_path, "list.parquet", pa.table({"order_id": ["1"], "product_id": [[1, 2]]})),
         "has type list<element: int64>"),
        ("products", tmp_path / "case.csv", "differ only by case"),
        ("orders", tmp_path / "deep.jsonl", "nested too deeply"),
    ]
    (tmp_path / "case.csv").write_text("product_id,Note,note\na,x,y\n")
    (tmp_path / "deep.jsonl").write_text('{"order_id": "1", "product_id": "a"}\n'
                                         '{"order_id": "2", "product_id": ' + "[" * 50_000 + "]" * 50_000 + "}\n")
    return files


def test_cli_reports_every_defect_as_a_message(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    for kind, path, message in _bad_files(tmp_path):
        result = runner.invoke(app, ["--db", db, "-q", "ingest", kind, str(path)])
        assert result.exit_code == 1, (path.name, result.output)
        assert message in result.output and "internal error" not in result.output, result.output
    events = tmp_path / "ev.csv"
    events.write_text("event_id,ts,event_type\n,2024-01-01,view\n")
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "events", str(events), "--on-error", "skip"])
    assert result.exit_code == 0, result.output
    assert "1 event had no event_id; generated from a hash of the row" in result.output
