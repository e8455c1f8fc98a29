"""Readers: formats, compression, encodings, header problems and exact row numbers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import SourceFileError
from bundlewise.ingest.readers import REC, inspect_source, open_reader
from bundlewise.progress import NullProgress

CFG = IngestConfig(kind="orders")


def _read(path: Path, cfg: IngestConfig = CFG) -> tuple[pa.Table, object]:
    info = inspect_source(path, cfg)
    reader = open_reader(info, cfg)
    with NullProgress().task("t") as task:
        table = reader.stream(task).read_all()
    return table, reader


def test_csv_bom_crlf_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b'\xef\xbb\xbfid,title\r\n1,"two\r\nlines"\r\n\r\n2,"say ""hi"""\r\n'
                     + "3,运动鞋\r\n".encode())
    table, reader = _read(path)
    assert table.column_names == ["id", "title", REC]
    assert table.column("title").to_pylist() == ["two\r\nlines", 'say "hi"', "运动鞋"]
    # records start on lines 2, 5 (after a quoted newline and a blank line), 6
    assert reader.row_numbers(np.array([0, 1, 2])).tolist() == [2, 5, 6]


def test_gzip_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"  # no .gz suffix, but gzip content
    path.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n"))
    table, _ = _read(path)
    assert table.column("a").to_pylist() == ["1", "3"]


def test_tsv_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n1,5\t2\n")
    table, _ = _read(path)
    assert table.column("a").to_pylist() == ["1,5"]


def test_parquet_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"order_id": [1, 2], "price": [1.5, 2.0]}), path)
    table, _ = _read(path)
    assert table.schema.field("order_id").type == pa.int64()
    assert table.column(REC).to_pylist() == [0, 1]


def test_jsonl_values_become_text_and_bad_lines_are_located(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"a": 1, "b": {"x": [1]}}\n\n{"a": "two"}\nnot json\n[1, 2]\n')
    table, reader = _read(path)
    assert table.column("a").to_pylist() == ["1", "two"]
    assert table.column("b").to_pylist() == ['{"x": [1]}', None]
    assert [(p.row_number, p.reason.split(" ")[0]) for p in reader.structural_problems()] == [
        (4, "not"), (5, "expected")]
    assert reader.row_numbers(np.array([1])).tolist() == [3]


def test_basket_file_long_rows_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("milk,bread\n\n  eggs , milk ,\n")
    table, reader = _read(path, IngestConfig(kind="orders", file_format="baskets"))
    assert table.column("basket").to_pylist() == ["b.csv:1", "b.csv:1", "b.csv:2", "b.csv:2"]
    assert table.column("item").to_pylist() == ["milk", "bread", "eggs", "milk"]
    assert reader.row_numbers(np.array([3])).tolist() == [3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty \(0 bytes\)"),
        (b"a,b\n", "header but no data rows"),
        (b"\n\n", "no header and no data rows"),
        (b"a,a\n1,2\n", "appears twice in the header"),
    ],
)
def test_empty_and_bad_headers(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(SourceFileError, match=message):
        _read(path)


def test_wrong_encoding_names_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,title\n1,ok\n2,caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    with pytest.raises(SourceFileError) as exc:
        _read(path)
    text = str(exc.value)
    assert "line 3" in text and "--encoding latin-1" in text and "b'\\xe9'" in text
    table, _ = _read(path, IngestConfig(kind="orders", encoding="latin-1"))
    assert table.column("title").to_pylist()[1] == "café crème"


def test_utf16_with_bom_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes("id,title\n1,运动鞋\n".encode("utf-16"))
    table, _ = _read(path)
    assert table.column("title").to_pylist() == ["运动鞋"]


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(SourceFileError, match="cannot tell the format"):
        inspect_source(tmp_path / "x.xlsx", CFG)
    with pytest.raises(SourceFileError, match="does not exist"):
        inspect_source(tmp_path / "nope.csv", CFG)


def test_field_longer_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long = "x" * (3 << 20)
    path.write_text(f"id,title\n1,{long}\n2,short\n")
    info = inspect_source(path, CFG)
    from bundlewise.ingest.readers import CsvReader

    reader = CsvReader(info, CFG, block_size=1 << 20)
    with NullProgress().task("t") as task:
        table = reader.stream(task).read_all()
    assert [len(t) for t in table.column("title").to_pylist()] == [3 << 20, 5]


def test_jsonl_rows_are_json_objects(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(json.dumps({"id": i}) for i in range(3)))
    table, _ = _read(path)
    assert table.num_rows == 3
