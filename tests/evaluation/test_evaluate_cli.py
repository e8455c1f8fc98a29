"""``bundlewise evaluate`` end to end on a small warehouse: table, files, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.config import IngestConfig
from bundlewise.ingest import Warehouse, ingest_files
from tests.shop import write_shop

runner = CliRunner()


def _shop_db(tmp_path: Path) -> str:
    db = tmp_path / "shop.duckdb"
    with Warehouse(db) as wh:
        ingest_files(wh, [write_shop(tmp_path / "shop.csv")], IngestConfig(kind="orders"))
    return str(db)


def test_evaluate_prints_table_and_writes_report(tmp_path: Path) -> None:
    db = _shop_db(tmp_path)
    out = tmp_path / "eval"
    result = runner.invoke(app, ["--db", db, "-q", "evaluate", "--models", "random,popularity,cooccurrence",
                                 "--test-days", "20", "--valid-days", "20", "--bootstrap", "100",
                                 "--max-configs", "2", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    for model in ("random", "popularity", "cooccurrence"):
        assert f"{model}" in result.output
    assert "warm" in result.output and "cold" in result.output
    data = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in data["results"]] == ["random", "popularity", "cooccurrence"]
    assert data["config"]["test_days"] == 20
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 4 and "Recall@k" in html
    md = (out / "results.md").read_text()
    assert md.count("| cooccurrence |") == 2  # warm and cold rows


def test_evaluate_rejects_unknown_model(tmp_path: Path) -> None:
    db = _shop_db(tmp_path)
    result = runner.invoke(app, ["--db", db, "-q", "evaluate", "--models", "popularity,gpt", "--output-dir",
                                 str(tmp_path / "e")])
    assert result.exit_code == 1
    assert "unknown model(s) 'gpt'" in result.output and "allowed models are" in result.output


def test_evaluate_unknown_dataset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["-q", "evaluate", "--dataset", "nope", "--workdir", str(tmp_path)])
    assert result.exit_code == 1 and "unknown dataset 'nope'" in result.output
