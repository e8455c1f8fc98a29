"""Mining through the warehouse and the CLI: stored tables, filters, rule files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.config import IngestConfig, MiningConfig, RulesConfig
from bundlewise.errors import ConfigError
from bundlewise.ingest import Warehouse, ingest_files
from bundlewise.mining import BasketQuery, load_baskets
from bundlewise.mining.jobs import mine, mine_rules

runner = CliRunner()
HEADER = ["order_id", "product_id", "ordered_at", "segment", "store_id"]


@pytest.fixture
def shop(wh: Warehouse, write_csv) -> Warehouse:
    rows = []
    for i in range(40):
        country = "UK" if i % 4 else "FR"
        day = f"2024-01-{1 + i % 28:02d}"
        items = ["tea", "milk"] if i % 2 else ["tea", "jam", "scone"]
        if i % 5 == 0:
            items.append("milk")
        rows += [[f"o{i}", p, day, country, "s1" if i < 20 else "s2"] for p in items]
    ingest_files(wh, [write_csv("orders.csv", HEADER, rows)], IngestConfig(kind="orders"))
    return wh


def test_mine_stores_pairs_and_itemsets(shop: Warehouse) -> None:
    s = mine(shop, MiningConfig(min_count=2, max_len=3))
    assert s.n_baskets == 40 and s.n_pairs > 0
    q = shop.con.execute
    assert q("SELECT count(*) FROM pair_stats WHERE run_id = ?", [s.run_id]).fetchall()[0][0] == s.n_pairs
    assert q("SELECT n_ab FROM pair_stats WHERE product_a = 'jam' AND product_b = 'scone'").fetchall() == [(20,)]
    assert q("SELECT count FROM itemsets WHERE items = ['jam', 'scone', 'tea']").fetchall() == [(20,)]
    # a second run replaces the first one's rows and keeps the run history
    s2 = mine(shop, MiningConfig(min_count=2))
    assert q("SELECT DISTINCT run_id FROM pair_stats").fetchall() == [(s2.run_id,)]
    assert q("SELECT count(*) FROM mining_runs").fetchall()[0][0] == 2
    assert q("SELECT count(*) FROM itemsets").fetchall()[0][0] == 0  # max_len 2: no itemsets table rows


def test_segment_store_and_date_filters(shop: Warehouse) -> None:
    assert load_baskets(shop, BasketQuery(segments=("FR",))).n_baskets == 10
    assert load_baskets(shop, BasketQuery(stores=("s2",))).n_baskets == 20
    assert load_baskets(shop, BasketQuery(since="2024-01-10", until="2024-01-12")).n_baskets == 4
    with pytest.raises(ConfigError, match="no baskets match \\(segment=DE\\)"):
        load_baskets(shop, BasketQuery(segments=("DE",)))


def test_rules_job_writes_table_and_files(shop: Warehouse, tmp_path: Path) -> None:
    baskets = load_baskets(shop)
    out = tmp_path / "rules.parquet"
    s = mine_rules(baskets, RulesConfig(min_support=0.2, min_confidence=0.9, min_len=2), wh=shop, output=out)
    assert len(s.rules) > 0
    stored = shop.con.execute("SELECT antecedent, consequent, count FROM rules ORDER BY ALL").fetchall()
    assert (["scone"], "jam", 20) in stored
    table = pq.read_table(out)
    assert table.column_names == ["antecedent", "consequent", "support", "confidence", "lift", "count"]
    import pyarrow as pa

    for col in ("antecedent", "consequent"):
        field_type = table.schema.field(col).type
        assert pa.types.is_list(field_type) and pa.types.is_string(field_type.value_type)
    assert ["jam"] in table.column("consequent").to_pylist()


def test_cli_rules_on_a_basket_file_needs_no_warehouse(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "baskets.csv"
    path.write_text("tea,milk\ntea,milk,jam\njam,scone\ntea,milk\n")
    out = tmp_path / "r.csv"
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(path), "--min-support", "0.5",
                                 "--min-confidence", "0.9", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 rules from 4 baskets" in result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "antecedent,consequent,support,confidence,lift,count"
    assert "{milk},{tea},0.75,1,1.33333333,3" in lines
    assert not list(tmp_path.glob("*.duckdb"))


def test_cli_mine_and_errors(tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    rows = [[f"o{i}", p, "2024-01-01", "UK", "s"] for i in range(10) for p in ("a", "b")]
    assert runner.invoke(app, ["--db", db, "-q", "ingest", "orders",
                               str(write_csv("o.csv", HEADER, rows))]).exit_code == 0
    result = runner.invoke(app, ["--db", db, "-q", "mine", "--min-count", "3"])
    assert result.exit_code == 0, result.output
    assert "pairs in >= 3 baskets: 1" in result.output
    bad = runner.invoke(app, ["--db", db, "rules", "--min-support", "2"])
    assert bad.exit_code == 1 and "--min-support is 2.0; it must be in [0, 1]" in bad.output
    bad_len = runner.invoke(app, ["--db", db, "rules", "--min-len", "3", "--max-len", "2"])
    assert bad_len.exit_code == 1 and "--max-len (2) is smaller than --min-len (3)" in bad_len.output
    bad_count = runner.invoke(app, ["--db", db, "mine", "--min-count", "-1"])
    assert bad_count.exit_code == 1 and "--min-count is -1" in bad_count.output


@pytest.mark.shared
def test_cli_groceries_done_when(tmp_path: Path, monkeypatch) -> None:
    """The issue's 'done when': 410 rules written whose values match the golden list."""
    from tests.conftest import shared_path

    path = shared_path("groceries", "groceries.csv")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["-q", "rules", "--baskets", str(path), "--min-support", "0.001",
                                 "--min-confidence", "0.8", "--output", "rules.csv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("410 rules from 9,835 baskets")
    ours = pd.read_csv(tmp_path / "rules.csv")
    ref = pd.read_csv(shared_path("groceries", "reference_rules", "reference_rules_supp0.001_conf0.8.csv"))
    assert len(ours) == len(ref) == 410

    def parse(text: str) -> tuple[str, ...]:  # "{a,b}" -> sorted items (ids are trimmed by our ingest)
        return tuple(sorted(x.strip() for x in text.strip()[1:-1].split(",")))

    mine_ = {(parse(a), parse(c)): (s, cf, li, n) for a, c, s, cf, li, n in ours.itertuples(index=False)}
    for lhs, rhs, s, cf, li, n in ref.itertuples(index=False):
        got = mine_[(parse(lhs), parse(rhs))]
        assert got[:3] == pytest.approx((s, cf, li), abs=1e-6) and got[3] == n


def test_the_pandas_free_rules_csv_is_the_pandas_one_byte_for_byte(tmp_path: Path) -> None:
    import numpy as np

    from bundlewise.mining import AssociationRules, Baskets
    from bundlewise.mining.jobs import RULE_FILE_SUFFIXES, write_rules_csv
    from bundlewise.mining.store import RULE_FILE_SUFFIXES as STORE_SUFFIXES
    from bundlewise.mining.store import write_rules_file

    assert RULE_FILE_SUFFIXES == STORE_SUFFIXES
    rng = np.random.default_rng(3)
    names = ["=cmd", "a b", 'say "hi"', "x,y", "é", "tea", "-1", "plain"]
    baskets = Baskets.from_lists([list(rng.choice(names, size=rng.integers(1, 5))) for _ in range(300)])
    model = AssociationRules(min_support=0.003, min_confidence=0.1).fit(baskets)
    assert len(model.rule_table_) > 50
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    write_rules_csv(model.rule_table_, ours)
    write_rules_file(model.rules_, theirs)
    assert ours.read_bytes() == theirs.read_bytes()
    empty = AssociationRules(min_support=0.9, min_confidence=0.9).fit(baskets)
    write_rules_csv(empty.rule_table_, ours)
    write_rules_file(empty.rules_, theirs)
    assert ours.read_bytes() == theirs.read_bytes() == b"antecedent,consequent,support,confidence,lift,count\n"
