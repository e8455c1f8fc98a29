"""bundlewise.outputs: output paths checked before work, atomic writes, CSV formula cells, terminal text."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bundlewise.errors import BundlewiseError, OutputError
from bundlewise.outputs import (
    atomic_write,
    check_output,
    check_output_dir,
    clean_terminal,
    count_formula_like,
    is_formula_like,
    looks_like_duckdb,
    neutralise_cell,
    neutralise_frame,
    replace_folder,
    write_text,
)

CSV = (".csv",)


def _duckdb_file(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    con.close()
    return path


def test_output_error_is_a_bundlewise_value_error() -> None:
    assert issubclass(OutputError, BundlewiseError) and issubclass(OutputError, ValueError)


def test_refuses_the_warehouse_and_its_wal_however_spelled(tmp_path: Path, monkeypatch) -> None:
    wh = _duckdb_file(tmp_path / "shop.duckdb")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for given in (wh, "shop.duckdb", "sub/../shop.duckdb", "./shop.duckdb"):
        with pytest.raises(OutputError, match="is the warehouse; .* pick another file name"):
            check_output(given, allowed_suffixes=(".duckdb", ".html"), what="the report", warehouse=str(wh))
    with pytest.raises(OutputError, match="write-ahead log"):
        check_output("shop.duckdb.wal", allowed_suffixes=(".wal",), what="x", warehouse="shop.duckdb")


def test_refuses_a_suffix_that_does_not_match_what_is_written(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as info:
        check_output(tmp_path / "report.duckdb", allowed_suffixes=(".html", ".htm"), what="the HTML report")
    message = str(info.value)
    assert "'report.duckdb'" in message or "report.duckdb" in message
    assert "suffix '.duckdb'; allowed suffixes are '.html', '.htm'" in message and "'report.html'" in message
    with pytest.raises(OutputError, match=r"suffix '\(none\)'"):
        check_output(tmp_path / "plan", allowed_suffixes=CSV, what="the plan")


def test_refuses_a_folder_a_missing_parent_and_a_duckdb_file_named_csv(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(OutputError, match="is an existing folder"):
        check_output(tmp_path / "out.csv", allowed_suffixes=CSV, what="the plan")
    with pytest.raises(OutputError, match="does not exist; create it first"):
        check_output(tmp_path / "nope" / "plan.csv", allowed_suffixes=CSV, what="the plan")
    disguised = _duckdb_file(tmp_path / "plan.csv")
    assert looks_like_duckdb(disguised)
    with pytest.raises(OutputError, match="is a DuckDB database"):
        check_output(disguised, allowed_suffixes=CSV, what="the plan")


def test_refuses_an_input_file_and_accepts_new_or_earlier_outputs(tmp_path: Path) -> None:
    source = tmp_path / "baskets.csv"
    source.write_text("a,b\n")
    with pytest.raises(OutputError, match="is an input file of this command"):
        check_output(source, allowed_suffixes=CSV, what="the rules", inputs=[source])
    assert check_output(tmp_path / "new.csv", allowed_suffixes=CSV, what="x") == tmp_path / "new.csv"
    assert check_output(source, allowed_suffixes=CSV, what="x") == source  # an ordinary CSV may be replaced
    assert check_output(tmp_path / "UPPER.CSV", allowed_suffixes=CSV, what="x").name == "UPPER.CSV"


def test_atomic_write_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        pd.DataFrame({"a": [1, 2]}).to_csv(tmp, index=False)
        assert target.read_text() == "old\n"  # nothing visible before the block ends
    assert target.read_text() == "a\n1\n2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # keeps the file's permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.csv"]


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path: Path, failure: BaseException) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old\n")
    with pytest.raises(type(failure)), atomic_write(target) as tmp:
        tmp.write_text("half a fi")
        raise failure
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.csv"]  # no temp file left


def test_a_full_disk_is_an_output_error_not_a_bug(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old\n")
    with pytest.raises(OutputError, match="No space left on device; the previous file .* is unchanged"), \
            atomic_write(target) as tmp:
        tmp.write_text("partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_text() == "old\n" and len(list(tmp_path.iterdir())) == 1


def test_atomic_write_works_for_writers_that_need_a_path(tmp_path: Path) -> None:
    parquet = tmp_path / "r.parquet"
    with atomic_write(parquet) as tmp:
        pd.DataFrame({"a": ["x", "y"]}).to_parquet(tmp, index=False)
    assert pd.read_parquet(parquet)["a"].tolist() == ["x", "y"]
    csv = tmp_path / "r.csv"
    with atomic_write(csv) as tmp:
        duckdb.sql(f"COPY (SELECT 42 AS n) TO '{tmp}' (FORMAT csv, HEADER)")
    assert csv.read_text().split() == ["n", "42"]
    assert write_text(tmp_path / "a.html", "<p>é</p>").read_text(encoding="utf-8") == "<p>é</p>"


def test_replace_folder_swaps_by_renames_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with replace_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists()  # the old folder stays until the new one is complete
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp or backup folder left
    with pytest.raises(KeyboardInterrupt), replace_folder(target) as tmp:
        (tmp / "half").write_text("x")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["new.txt"] and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_replace_folder_rechecks_the_target_before_the_swap(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    with pytest.raises(OutputError, match="changed while it was being written"), \
            replace_folder(target, still_ours=lambda p: False) as tmp:
        (tmp / "x").write_text("x")
        (target / "user.txt").write_text("mine")  # appears while we write
    assert (target / "user.txt").read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_check_output_dir(tmp_path: Path, monkeypatch) -> None:
    wh = _duckdb_file(tmp_path / "shop.duckdb")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="is or holds the warehouse"):
        check_output_dir(".", what="a checkpoint", ours=lambda p: False, warehouse=str(wh))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "letter.txt").write_text("dear")
    with pytest.raises(OutputError, match=r"holding files that are not a checkpoint \('letter.txt'\)"):
        check_output_dir(docs, what="a checkpoint", ours=lambda p: False)
    assert check_output_dir(docs, what="a checkpoint", ours=lambda p: True) == docs
    (tmp_path / "empty").mkdir()
    assert check_output_dir("empty", what="a checkpoint", ours=lambda p: False) == Path("empty")
    assert check_output_dir("new", what="a checkpoint", ours=lambda p: False) == Path("new")
    with pytest.raises(OutputError, match="is an existing file"):
        check_output_dir(docs / "letter.txt", what="a checkpoint", ours=lambda p: True)
    with pytest.raises(OutputError, match="does not exist; create it first"):
        check_output_dir("a/b", what="a checkpoint", ours=lambda p: True)
    assert (docs / "letter.txt").read_text() == "dear"


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\",\"x\")", "=cmd|' /C calc'!A0", "+cmd", "-2+3",
                                  "@SUM(A1:A2)", "\t=1", "\r=1", "-", "=", "+33 6 12 34 56"])
def test_formula_cells_get_a_leading_quote(cell: str) -> None:
    assert is_formula_like(cell)
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-1.5", "+3", "-.5", "1e5", "-2E-3", "tea", "", "a=b", "'=x", 3, -1.5, None])
def test_numbers_and_plain_text_are_left_alone(cell: object) -> None:
    assert not is_formula_like(cell)
    assert neutralise_cell(cell) == cell or (cell != cell)


def test_neutralise_frame_round_trip_through_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"title": ["=HYPERLINK(\"x\")", "green tea", "@SUM(1)"], "value": ["-1.5", "-x", None],
                          "price": [-1.0, 2.0, 3.0]})
    assert count_formula_like(frame) == 3
    safe = neutralise_frame(frame)
    assert count_formula_like(safe) == 0 and count_formula_like(frame) == 3  # the input is not modified
    safe.to_csv(tmp_path / "x.csv", index=False)
    back = pd.read_csv(tmp_path / "x.csv", keep_default_na=False)
    assert back["title"].tolist() == ["'=HYPERLINK(\"x\")", "green tea", "'@SUM(1)"]
    assert back["value"].tolist() == ["-1.5", "'-x", ""] and back["price"].tolist() == [-1.0, 2.0, 3.0]


@pytest.mark.parametrize(("raw", "clean"), [
    ("\x1b[31mred\x1b[0m tea", "red tea"),
    ("\x1b]0;pwned\x07title", "title"),  # sets the window title
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),  # a hidden hyperlink
    ("a\x1b[2J\x1b[Hb", "ab"),  # clear screen, cursor home
    ("\x9b31mc1", "c1"),  # 8-bit CSI
    ("nul\x00bell\x07del\x7f", "nulbelldel"),
    ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override
    ("two\nlines\tand tab\r\n", "two\nlines and tab\n"),
    ("茶 ☕ café", "茶 ☕ café"),
])
def test_clean_terminal(raw: str, clean: str) -> None:
    assert clean_terminal(raw) == clean
    assert "\x1b" not in clean_terminal(raw + "\x1b")


def test_clean_terminal_single_line() -> None:
    assert clean_terminal("a\nb", keep_newlines=False) == "a b"
    assert clean_terminal(None) == "None"
