"""The basket-file reader's plain split gives exactly the csv module's records, line numbers and errors."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import SourceFileError
from bundlewise.ingest.readers import inspect_source, open_reader
from bundlewise.ingest.readers.basketfile import BasketReader
from bundlewise.progress import NULL_PROGRESS

# letters, delimiters, every kind of whitespace str.strip() removes, line ends csv knows, a quote, non-ASCII
ALPHABET = ["a", "b", "c", "tea", "é", "水", ",", ",", ",", ";", " ", "\t", "\x0b", "\x0c", "\x1c", "\xa0", "\u3000",
            "\n", "\n", "\n", "\r\n", "\r"]
TASK = NULL_PROGRESS.task("reading")


def _reader(path: Path, delimiter: str | None = None, encoding: str | None = None,
            block_bytes: int | None = None) -> BasketReader:
    cfg = IngestConfig(kind="orders", file_format="baskets", delimiter=delimiter, encoding=encoding)
    reader = open_reader(inspect_source(path, cfg), cfg)
    assert isinstance(reader, BasketReader)
    if block_bytes is not None:
        reader.block_bytes = block_bytes
    return reader


def _both(path: Path, **kw: object) -> tuple[list[tuple[int, list[str]]], list[tuple[int, list[str]]]]:
    reader = _reader(path, **kw)  # type: ignore[arg-type]
    fast = list(reader.records(TASK))
    encoding = "utf-8-sig" if reader.encoding.lower().replace("-", "") in ("utf8", "utf8sig") else reader.encoding
    slow = list(reader._csv_records(encoding, TASK))
    return fast, slow


@pytest.mark.parametrize("seed", range(40))
def test_split_and_csv_agree_on_random_unquoted_text(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 400))) + "tea"  # never all blank
    path = tmp_path / "b.txt"
    path.write_bytes(text.encode("utf-8"))
    for block in (None, 7, 64):  # small blocks: lines, multi-byte characters and \r\n cut at block ends
        fast, slow = _both(path, block_bytes=block)
        assert fast == slow, (text, block)
    assert any(items for _, items in slow)


def test_split_agrees_on_a_semicolon_and_a_tab_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("tea; milk ;;jam\n\n ; \nscone\tjam;x\n", encoding="utf-8")
    fast, slow = _both(path, delimiter=";")
    assert fast == slow == [(1, ["tea", "milk", "jam"]), (4, ["scone\tjam", "x"])]
    fast, slow = _both(path, delimiter="\t")
    assert fast == slow and slow[-1] == (4, ["scone", "jam;x"])


def test_a_quote_hands_the_file_to_the_csv_module_after_the_records_already_given(tmp_path: Path) -> None:
    lines = [f"p{i},q{i}" for i in range(200)] + ['"a, b",c', '"x\ny",z', "tail"]
    path = tmp_path / "b.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, slow = _both(path, block_bytes=256)  # the first blocks are split, the quoted ones are not
    assert fast == slow
    assert fast[-3:] == [(201, ["a, b", "c"]), (202, ["x\ny", "z"]), (204, ["tail"])]
    assert len(fast) == 203


def test_gzip_utf16_and_a_byte_order_mark_read_the_same(tmp_path: Path) -> None:
    text = "\ufefftea,milk\r\njam , tea\r\n\r\nscone\n"
    gz = tmp_path / "b.txt.gz"
    gz.write_bytes(gzip.compress(text.encode("utf-8")))
    fast, slow = _both(gz, block_bytes=5)
    assert fast == slow == [(1, ["tea", "milk"]), (2, ["jam", "tea"]), (4, ["scone"])]
    u16 = tmp_path / "b16.txt"
    u16.write_bytes(text.lstrip("\ufeff").encode("utf-16"))
    fast16, slow16 = _both(u16, block_bytes=3)
    assert fast16 == slow16 == fast


def test_a_bad_byte_is_reported_with_the_csv_paths_message(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_bytes(b"tea,milk\n" * 50 + b"caf\xe9,jam\n")
    reader = _reader(path, block_bytes=64)
    with pytest.raises(SourceFileError, match=r"b.txt line [0-9]+: byte b'\\xe9' is not valid utf-8-sig") as fast:
        list(reader.records(TASK))
    with pytest.raises(SourceFileError) as slow:
        list(reader._csv_records("utf-8-sig", TASK))
    assert str(fast.value) == str(slow.value)
    latin = _reader(path, encoding="latin-1")
    assert list(latin.records(TASK))[-1] == (51, ["café", "jam"])


def test_blank_files_and_corrupt_gzip_fail_as_before(tmp_path: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text(" , \n\n\t\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="has no baskets"):
        list(_reader(blank).records(TASK))
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(gzip.compress(b"tea,milk\n" * 1000)[:60])
    with pytest.raises((EOFError, OSError)):  # the csv path's error (truncated stream), unchanged
        list(_reader(broken).records(TASK))
