"""Fuzzing the readers (issue 10, item 7): random headers, random Arrow types, random JSON shapes.

The invariant, for every file: it is **accepted with every value kept**, or **refused with a
row-level message** (a :class:`BundlewiseError` naming the file, and for rejected rows their row and
column); never an internal error (any other exception); and the warehouse is **unchanged on
refusal** (every table compared before and after).

Catalog files are used because a catalog keeps every column: mapped ones in their fields, the
others in ``attributes``, so "every value kept" can be checked cell by cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bundlewise.config import IngestConfig
from bundlewise.errors import BundlewiseError, DataValidationError
from bundlewise.ingest import Warehouse, ingest_files
from bundlewise.ingest.fields import PRODUCT_FIELDS

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PRODUCTS = IngestConfig(kind="products")
FIELDS = {f.name: f.type for f in PRODUCT_FIELDS}
TABLES = ("products", "product_titles", "orders", "order_lines", "returns", "events", "ingest_log", "rejected_rows")
# header names a careless export or a hostile user may write: fields in any case, internal names, blanks
NAMES = st.one_of(
    st.sampled_from(["title", "price", "cost", "stock", "brand", "is_product", "description"]).flatmap(
        lambda n: st.sampled_from([n, n.upper(), n.title()])),
    st.sampled_from(["_rec", "_bad", "_bw_norm", "_bw_stage", "c1", "c2", "is_cancel", "attributes", "Note", "note",
                     "", " ", "colour"]),
    st.text(st.sampled_from(list("aZ_ 1é\"',;")), min_size=1, max_size=6),
)
CELLS = st.one_of(st.sampled_from(["", " ", "1", "2.50", "-3", "yes", "0", "nan", "12,50 €", "2024-01-01"]),
                  st.text(st.sampled_from(list("ab 1.,\"\n\t€运")), max_size=8))


def _snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    return {t: sorted(map(repr, wh.con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}  # type: ignore[misc]


def _seeded() -> Warehouse:
    wh = Warehouse(":memory:")
    wh.con.execute("INSERT INTO products (product_id, title, origin) VALUES ('seed', 'kept', 'catalog')")
    return wh


def _ingest(wh: Warehouse, path: Path) -> BaseException | None:
    """Ingest; return the refusal (checked to be a row-level BundlewiseError), None when accepted."""
    before = _snapshot(wh)
    try:
        ingest_files(wh, [path], PRODUCTS)
    except BundlewiseError as exc:
        assert path.name in str(exc), f"the message does not name the file: {exc}"
        if isinstance(exc, DataValidationError):
            assert exc.problems and all(p.source == path.name and p.row_number >= 1 and p.column
                                        for p in exc.problems), exc.problems
        assert _snapshot(wh) == before, "a refused file changed the warehouse"
        event(f"refused: {type(exc).__name__}")  # --hypothesis-show-statistics: how often each outcome
        return exc
    event("accepted")
    return None


def _field(name: str) -> str | None:
    """The catalog field a column binds to (case-insensitive, like bind_columns), if any."""
    return name.lower() if name.lower() in FIELDS else None


def _stored(wh: Warehouse) -> dict[str, dict[str, object]]:
    cols = ["product_id", *(n for n in FIELDS if n != "product_id"), "attributes"]
    rows = wh.con.execute(f"SELECT {', '.join(cols)} FROM products WHERE product_id <> 'seed'").fetchall()
    return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}


def _strip(text: str) -> str | None:
    return text.strip(" \t\r\n\xa0") or None


# -- CSV headers -------------------------------------------------------------------------------------
@FUZZ
@given(names=st.lists(NAMES, min_size=0, max_size=5), pid_at=st.integers(0, 5), data=st.data())
def test_csv_random_headers(names: list[str], pid_at: int, data: st.DataObject) -> None:
    header = list(names)
    header.insert(min(pid_at, len(header)), "product_id")
    n_rows = data.draw(st.integers(1, 4))
    rows = [[f"p{r}" if h == "product_id" else data.draw(CELLS) for h in header] for r in range(n_rows)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL if data.draw(st.booleans()) else csv.QUOTE_MINIMAL
               ).writerows([header, *rows])
    with tempfile.TemporaryDirectory() as tmp, _seeded() as wh:
        path = Path(tmp) / "cat.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        if _ingest(wh, path) is not None:
            return
        stored = _stored(wh)
        assert set(stored) == {f"p{r}" for r in range(n_rows)}
        for r, row in enumerate(rows):
            got = stored[f"p{r}"]
            attrs = json.loads(got["attributes"]) if got["attributes"] else {}  # type: ignore[arg-type]
            for position, (name, cell) in enumerate(zip(header, row, strict=True), start=1):
                field = _field(name)
                if not name.strip():  # kept under its label where it holds a value
                    label = f"(unnamed column {position})"
                    assert attrs.get(label) == _strip(cell), (label, cell, attrs)
                elif field is None:
                    assert attrs[name] == cell, (name, cell, attrs)  # as written, spaces and all
                elif FIELDS[field] == "text" or field == "product_id":
                    assert got[field] == _strip(cell), (name, cell, got)
                elif FIELDS[field] == "number":
                    assert got[field] == (float(cell) if _strip(cell) else None), (name, cell, got)
                elif FIELDS[field] == "bool" and _strip(cell):
                    assert got[field] == (cell.strip().lower() in ("true", "t", "yes", "y", "1"))
            assert {a for a in attrs if not a.startswith("(unnamed")} == {
                h for h in header if h.strip() and _field(h) is None}


# -- Parquet types -----------------------------------------------------------------------------------
@st.composite
def _typed(draw: st.DrawFn) -> tuple[pa.DataType, list[object] | pa.Array]:
    """A random Arrow type with 3 values (None included)."""
    kind = draw(st.sampled_from(["int", "uint64", "float", "float16", "bool", "string", "large_string", "binary",
                                 "date", "timestamp", "decimal", "decimal256", "time", "duration", "null", "list",
                                 "struct", "map", "dict"]))

    def values(strategy: st.SearchStrategy) -> list[object]:
        return draw(st.lists(st.one_of(st.none(), strategy), min_size=3, max_size=3))

    if kind == "int":
        bits = draw(st.sampled_from([8, 16, 32, 64]))
        return getattr(pa, f"int{bits}")(), values(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    if kind == "uint64":
        return pa.uint64(), values(st.integers(0, 2**64 - 1))
    if kind == "float":
        return pa.float64(), values(st.floats(allow_nan=True, allow_infinity=True))
    if kind == "float16":
        return pa.float16(), pa.array(values(st.floats(-1000, 1000, width=16)), pa.float32()).cast(pa.float16())
    if kind == "bool":
        return pa.bool_(), values(st.booleans())
    if kind in ("string", "large_string"):
        return getattr(pa, kind)(), values(st.text(st.sampled_from(list("ab 1.5€运\t")), max_size=6))
    if kind == "binary":
        return pa.binary(), values(st.one_of(st.binary(max_size=4), st.text(max_size=4).map(str.encode)))
    if kind == "date":
        return pa.date32(), values(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))
    if kind == "timestamp":
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        tz = draw(st.sampled_from([None, "UTC", "Europe/Paris"]))
        lo, hi = (dt.datetime(1678, 1, 1), dt.datetime(2261, 12, 31)) if unit == "ns" else \
            (dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31))
        return pa.timestamp(unit, tz), values(st.datetimes(lo, hi))
    if kind in ("decimal", "decimal256"):
        precision = 10 if kind == "decimal" else 50
        t = pa.decimal128(precision, 2) if kind == "decimal" else pa.decimal256(precision, 2)
        return t, values(st.decimals(-10**7, 10**7, places=2, allow_nan=False, allow_infinity=False))
    if kind == "time":
        return pa.time64("us"), values(st.times())
    if kind == "duration":
        return pa.duration("s"), values(st.integers(-10**9, 10**9))
    if kind == "null":
        return pa.null(), [None, None, None]
    if kind == "list":
        return pa.list_(pa.int64()), values(st.lists(st.integers(-5, 5), max_size=3))
    if kind == "struct":
        return pa.struct([("w", pa.float64()), ("s", pa.string())]), values(
            st.fixed_dictionaries({"w": st.floats(-9, 9), "s": st.text(max_size=3)}))
    if kind == "map":
        return pa.map_(pa.string(), pa.int64()), values(st.lists(st.tuples(st.text(max_size=2), st.integers(0, 9)),
                                                                 max_size=2))
    return pa.dictionary(pa.int8(), pa.string()), values(st.sampled_from(["x", "y", "z"]))


@FUZZ
@given(data=st.data())
def test_parquet_random_arrow_types(data: st.DataObject) -> None:
    n_cols = data.draw(st.integers(1, 4))
    names = ["product_id"] + [data.draw(NAMES) for _ in range(n_cols)]
    arrays: list[pa.Array] = [pa.array(["p0", "p1", "p2"])]
    for _ in range(n_cols):
        t, vals = data.draw(_typed())
        arrays.append(vals if isinstance(vals, pa.Array) else pa.array(vals, t))
    table = pa.Table.from_arrays(arrays, names=names)
    with tempfile.TemporaryDirectory() as tmp, _seeded() as wh:
        path = Path(tmp) / "cat.parquet"
        pq.write_table(table, path)
        if _ingest(wh, path) is not None:
            return
        stored = _stored(wh)
        assert set(stored) == {"p0", "p1", "p2"}
        for position, (name, arr) in enumerate(zip(names[1:], arrays[1:], strict=True), start=2):
            field = _field(name)
            for r, value in enumerate(arr.to_pylist()):
                got = stored[f"p{r}"]
                attrs = json.loads(got["attributes"]) if got["attributes"] else {}  # type: ignore[arg-type]
                if not name.strip():
                    label = f"(unnamed column {position})"
                    assert (attrs.get(label) is not None) == (value is not None and str(value).strip() != "" and
                                                             value != b""), (label, value, attrs)
                elif field is None:
                    # every value kept: present exactly when the source has one (text as is)
                    assert name in attrs, (name, attrs)
                    if value is None:
                        assert attrs[name] is None
                    elif isinstance(value, str):
                        assert attrs[name] == value
                    else:
                        assert attrs[name] is not None, (name, value)
                elif FIELDS[field] == "number" and value is not None and not isinstance(value, str):
                    # accepted, so finite (NaN/inf are refused on their row): the exact number is stored
                    assert got[field] == float(value), (name, value, got)
                elif FIELDS[field] == "text" and isinstance(value, str):
                    assert got[field] == _strip(value)


# -- JSON shapes -------------------------------------------------------------------------------------
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False),
                         st.text(max_size=5), st.sampled_from(["\ud800", "x\udfffy", "1.5", "", " "]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(st.text(max_size=3), inner,
                                                                                  max_size=3)), max_leaves=6)


@FUZZ
@given(data=st.data())
def test_jsonl_random_shapes(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 5))
    lines: list[str] = []
    objects: dict[int, dict[str, object]] = {}  # line number -> object
    for i in range(n):
        shape = data.draw(st.sampled_from(["object"] * 6 + ["blank", "list", "number", "broken", "deep"]))
        if shape == "object":
            obj: dict[str, object] = {"product_id": f"p{i}"}
            obj.update(data.draw(st.dictionaries(NAMES, JSON_VALUES, max_size=3)))
            text = json.dumps(obj)
        else:
            text = {"blank": "", "list": "[1, 2]", "number": "3", "broken": '{"product_id": "x", ',
                    "deep": '{"product_id": "d", "x": ' + "[" * 20_000 + "]" * 20_000 + "}"}[shape]
            obj = {}
        lines.append(text)
        if obj:
            objects[len(lines)] = obj
    with tempfile.TemporaryDirectory() as tmp, _seeded() as wh:
        path = Path(tmp) / "cat.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        refusal = _ingest(wh, path)
        if isinstance(refusal, DataValidationError):
            assert all(1 <= p.row_number <= len(lines) for p in refusal.problems)
        if refusal is not None:
            return
        stored = _stored(wh)
        assert set(stored) == {o["product_id"] for o in objects.values()}
        for obj in objects.values():
            got = stored[obj["product_id"]]  # type: ignore[index]
            attrs = json.loads(got["attributes"]) if got["attributes"] else {}  # type: ignore[arg-type]
            for key, value in obj.items():
                if key == "product_id" or not key.strip():
                    continue
                if _field(key) is None:
                    expected = value if value is None or isinstance(value, str) else (
                        ("true" if value else "false") if isinstance(value, bool) else
                        repr(value) if isinstance(value, (int, float)) else json.dumps(value, ensure_ascii=False))
                    assert attrs[key] == expected, (key, value, attrs)
                elif FIELDS[_field(key)] == "text" and isinstance(value, str):  # type: ignore[index]
                    assert got[_field(key)] == _strip(value)  # type: ignore[index]
