from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse

runner = CliRunner()


def test_embed_then_cached(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    with Warehouse(db) as wh:
        wh.con.executemany("INSERT INTO products (product_id, title, brand, origin) VALUES (?, ?, ?, 'catalog')",
                           [["a", "red mug", "Acme"], ["b", "blue mug", ""], ["c", "teapot", None]])
    result = runner.invoke(app, ["--db", db, "-q", "embed", "--model", "minilm", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "embedded 3 · cached 0" in result.output and "texts/s" in result.output
    again = runner.invoke(app, ["--db", db, "-q", "embed", "--model", "minilm"])
    assert again.exit_code == 0 and "embedded 0 · cached 3" in again.output


def test_embed_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    missing = runner.invoke(app, ["--db", db, "embed", "--model", "minilm"])
    assert missing.exit_code == 1 and "does not exist" in missing.output  # embed writes but never creates
    assert not Path(db).exists()
    Warehouse(db).close()
    empty = runner.invoke(app, ["--db", db, "embed", "--model", "minilm"])
    assert empty.exit_code == 1 and "no products" in empty.output
    with Warehouse(db) as wh:
        wh.con.execute("INSERT INTO products (product_id, title, origin) VALUES ('a', 'mug', 'catalog')")
    bad = runner.invoke(app, ["--db", db, "embed", "--model", "bert"])
    assert bad.exit_code == 1 and "'multilingual-e5-small'" in bad.output
    bad_template = runner.invoke(app, ["--db", db, "embed", "--model", "minilm", "--template", "{name}"])
    assert bad_template.exit_code == 1 and "{name}" in bad_template.output
    assert runner.invoke(app, ["embed", "--help"]).exit_code == 0
