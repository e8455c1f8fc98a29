"""``bundlewise bundles`` and ``bundlewise report`` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse
from tests.bundles.test_pipeline import build_store

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("cli_store")
    products, orders = build_store(directory, n_weeks=10, per_week=100)
    path = str(directory / "store.duckdb")
    for kind, file in (("products", products), ("orders", orders)):
        result = runner.invoke(app, ["--db", path, "-q", "ingest", kind, str(file)])
        assert result.exit_code == 0, result.output
    return path


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["bundles", "--help"])
    assert result.exit_code == 0
    for option in ("--max-discount", "--max-bundles", "--per-product", "--rules", "--output"):
        assert option in result.output
    assert runner.invoke(app, ["report", "--help"]).exit_code == 0


@pytest.mark.slow
def test_bundles_table_csv_and_json(db: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "bundles.csv"
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "10", "--max-bundles", "2",
                                 "--max-discount", "0.2", "--output", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert "bundles chosen from" in result.output and "why:" in result.output
    for header in ("products", "names", "regular", "bundle", "off", "attach w/o→with", "margin /1k [90%]", "n_ab",
                   "lift", "model"):
        assert header in result.output
    table = pd.read_csv(csv_path)
    assert 0 < len(table) <= 2
    assert (table["discount"] <= 0.2 + 1e-9).all() and table["proposed"].all()
    assert {"bundle_price", "attach_rate_without", "attach_rate_with", "incremental_profit", "profit_low",
            "profit_high", "explanation", "n_ab", "lift", "names", "margin_per_week",
            "elasticities"} <= set(table.columns)
    assert "model_score" not in table and "reason" not in table  # empty in every row: left out
    assert (table["bundle_price"] == table["bundle_price"].round(2)).all() and (table["discount"] >= 0.05).all()
    json_path = tmp_path / "all.json"
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "10", "--all", "--output",
                                 str(json_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(json_path.read_text(encoding="utf-8"))
    assert len(rows) > len(table) and {"selected", "proposed", "reason"} <= set(rows[0])
    assert all(isinstance(r["products"], list) for r in rows)


@pytest.mark.slow
def test_rules_file_and_report(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('exclude_products = ["tent"]\n', encoding="utf-8")
    out = tmp_path / "b.json"
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "10", "--rules", str(rules), "--all",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    # tent bundles appear only as set aside by the rules, with the rule's reason
    tent = [r for r in rows if "tent" in r["products"]]
    assert tent and all(r["stage"] == "business rules" and not r["selected"] and r["reason"] for r in tent)
    report = tmp_path / "r" / "report.html"
    report.parent.mkdir()  # a missing output folder is refused (tests/cli/test_outputs_cli.py)
    result = runner.invoke(app, ["--db", db, "-q", "report", "--min-count", "10", "--top", "2", "--output",
                                 str(report)])
    assert result.exit_code == 0, result.output
    assert f"wrote {report}" in result.output.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.count("<svg") >= 3
    # from the plan file: the same bundles, nothing priced again
    from_file = tmp_path / "r" / "from_plan.html"
    result = runner.invoke(app, ["--db", db, "-q", "report", "--plan", str(out), "--output", str(from_file)])
    assert result.exit_code == 0, result.output
    page = from_file.read_text(encoding="utf-8")
    assert page.count("<svg") >= 3 and "Bundles worth running" in page and "Left out, and why" in page
    missing = runner.invoke(app, ["--db", db, "-q", "report", "--plan", str(tmp_path / "nope.csv"), "--output",
                                  str(tmp_path / "r" / "x.html")])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_errors_exit_1_with_a_message(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('never_togther = [["a", "b"]]\n', encoding="utf-8")
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--rules", str(bad)])
    assert result.exit_code == 1
    assert "bad.toml" in result.output and "never_togther" in result.output and "allowed keys" in result.output
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--max-discount", "1.5"])
    assert result.exit_code == 1 and "--max-discount is 1.5" in result.output
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "100000"])
    assert result.exit_code == 1 and "no product pair is bought together" in result.output
    result = runner.invoke(app, ["--db", str(tmp_path / "empty.duckdb"), "-q", "bundles"])
    assert result.exit_code == 1 and "does not exist" in result.output  # a reading verb creates nothing
    assert not (tmp_path / "empty.duckdb").exists()
    Warehouse(tmp_path / "empty.duckdb").close()
    result = runner.invoke(app, ["--db", str(tmp_path / "empty.duckdb"), "-q", "bundles"])
    assert result.exit_code == 1 and "no baskets" in result.output


def test_bad_output_suffix(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "10", "--output",
                                 str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1 and "allowed suffixes are '.csv', '.json'" in result.output


@pytest.mark.slow
def test_margins_file_and_minimum_step(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "margins.csv"
    bad.write_text("category,margin_rate\nOutdoor,1.5\n", encoding="utf-8")
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--margins", str(bad)])
    assert result.exit_code == 1 and "margins.csv" in result.output and "row 2" in result.output
    good = tmp_path / "good.csv"
    good.write_text("category,margin_rate\nOutdoor,0.45\n", encoding="utf-8")
    out = tmp_path / "all.json"
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "10", "--margins", str(good),
                                 "--min-discount", "0.1", "--all", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    stove = [r for r in rows if "stove" in r["products"] and r["stage"] != "business rules"]
    assert stove and all(r["margin_source"] in ("given", "cost") for r in stove)  # the stove has no cost
    assert all(r["discount"] >= 0.1 - 1e-9 for r in rows if r.get("discount") is not None)


@pytest.mark.slow
def test_when_nothing_is_worth_running_the_closest_candidates_are_listed_with_why(db: str) -> None:
    # a 90 % margin floor leaves no discount feasible: every candidate is left out, with its reason
    result = runner.invoke(app, ["--db", db, "-q", "bundles", "--min-count", "10", "--margin-floor", "0.9",
                                 "--top", "4"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "0 bundles chosen" in result.output and "no bundle is worth running" in result.output
    for header in ("names", "margin /1k [90%]", "why left out"):
        assert header in result.output
    assert "margin floor" in result.output
    listed = [line for line in result.output.splitlines() if line.strip()[:2] in {"1 ", "2 ", "3 ", "4 "}]
    assert len(listed) == 4  # --top rows, each a candidate
