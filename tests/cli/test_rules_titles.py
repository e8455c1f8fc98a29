"""Issue 14: rules written from a warehouse carry the products' titles beside their ids."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from bundlewise.cli.app import app

runner = CliRunner()
# tea and pot always together (pot has a formula-like title); scone has no title
ROWS = [[f"o{i}", pid, title, "1"] for i in range(4) for pid, title in (("tea", "Earl Grey, loose"),
                                                                          ("pot", "=Tea pot"))]
ROWS += [["o9", "scone", "", "1"], ["o9", "tea", "Earl Grey, loose", "1"], ["o8", "scone", "", "1"],
         ["o8", "tea", "Earl Grey, loose", "1"]]


def _db(tmp_path: Path, write_csv) -> str:
    db = str(tmp_path / "shop.duckdb")
    path = write_csv("orders.csv", ["order_id", "product_id", "title", "quantity"], ROWS)
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(path)])
    assert result.exit_code == 0, result.output
    return db


def test_the_rules_csv_from_a_warehouse_has_title_columns(tmp_path: Path, write_csv) -> None:
    db = _db(tmp_path, write_csv)
    out = tmp_path / "rules.csv"
    result = runner.invoke(app, ["--db", db, "-q", "rules", "--min-support", "0.3", "--min-confidence", "0.6",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["antecedent", "consequent", "support", "confidence", "lift", "count",
                             "antecedent_titles", "consequent_title"]
    by_rule = {(r["antecedent"], r["consequent"]): r for r in rows}
    assert by_rule[("{pot}", "{tea}")]["antecedent_titles"] == "'=Tea pot"  # neutralised, as every CSV cell
    assert by_rule[("{pot}", "{tea}")]["consequent_title"] == "Earl Grey, loose"
    assert by_rule[("{tea}", "{pot}")]["count"] == "4"
    assert "Earl Grey, loose" in result.output  # the table shows them too


def test_the_rules_parquet_from_a_warehouse_has_title_columns(tmp_path: Path, write_csv) -> None:
    db = _db(tmp_path, write_csv)
    out = tmp_path / "rules.parquet"
    result = runner.invoke(app, ["--db", db, "-q", "rules", "--min-support", "0.2", "--min-confidence", "0.3",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pylist()
    by_rule = {(tuple(r["antecedent"]), r["consequent"][0]): r for r in table}
    assert by_rule[(("scone",), "tea")]["antecedent_titles"] == [None]  # no title known
    assert by_rule[(("scone",), "tea")]["consequent_title"] == "Earl Grey, loose"
    assert by_rule[(("tea",), "pot")]["consequent_title"] == "=Tea pot"  # Parquet is data, not a spreadsheet


def test_a_basket_file_has_no_titles_to_add(tmp_path: Path) -> None:
    baskets = tmp_path / "b.txt"
    baskets.write_text("tea,pot\ntea,pot\n", encoding="utf-8")
    out = tmp_path / "rules.csv"
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(baskets), "--min-support", "0.5", "--output",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines()[0] == "antecedent,consequent,support,confidence,lift,count"
