"""The Spark engine through the CLI (--engine spark), the spark-submit entry point and pair-model scoring;
Online Retail against the embedded engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.config import IngestConfig, MiningConfig
from bundlewise.ingest import Warehouse, ingest_files
from bundlewise.spark import submit
from tests.spark.test_pairs import assert_same_stats

runner = CliRunner()
HEADER = ["order_id", "product_id", "ordered_at", "segment", "store_id"]


def _shop_rows(n: int = 80) -> list[list[str]]:
    rng = np.random.default_rng(11)
    rows = []
    for i in range(n):
        items = {f"p{int(x)}" for x in rng.zipf(1.5, 1 + rng.poisson(3)) % 15}
        rows += [[f"o{i:03d}", p, f"2024-0{1 + i % 6}-{1 + i % 27:02d} 09:00", "UK" if i % 3 else "FR", "s1"]
                 for p in sorted(items)]
    return rows


def _stored_pairs(db: Path) -> pd.DataFrame:
    with Warehouse(db, read_only=True) as wh:
        return wh.con.execute("SELECT * FROM pair_stats ORDER BY product_a, product_b").df()


def test_cli_mine_and_rules_engine_spark_equal_embedded(spark, tmp_path: Path, write_csv) -> None:
    db = str(tmp_path / "w.duckdb")
    csv = write_csv("orders.csv", HEADER, _shop_rows())
    assert runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(csv)]).exit_code == 0
    opts = ["--min-count", "2", "--max-len", "3", "--half-life-days", "30", "--max-basket-size", "6",
            "--segment", "UK"]
    embedded = runner.invoke(app, ["--db", db, "-q", "mine", *opts])
    assert embedded.exit_code == 0, embedded.output
    want = _stored_pairs(Path(db))
    with Warehouse(db, read_only=True) as wh:
        want_sets = wh.con.execute("SELECT * EXCLUDE (run_id) FROM itemsets ORDER BY ALL").df()
    result = runner.invoke(app, ["--db", db, "-q", "mine", *opts, "--engine", "spark"])
    assert result.exit_code == 0, result.output
    assert result.output.split("\n")[1:3] == embedded.output.split("\n")[1:3]  # pairs, significant, itemsets
    got = _stored_pairs(Path(db))
    assert_same_stats(got.rename(columns={"product_a": "item_a", "product_b": "item_b"}),
                      want.rename(columns={"product_a": "item_a", "product_b": "item_b"}))
    with Warehouse(db, read_only=True) as wh:
        got_sets = wh.con.execute("SELECT * EXCLUDE (run_id) FROM itemsets ORDER BY ALL").df()
    assert (want_sets["length"] == 3).any() and got_sets.equals(want_sets)
    rules = ["--min-support", "0.05", "--min-confidence", "0.3"]
    a = runner.invoke(app, ["--db", db, "-q", "rules", *rules, "--output", str(tmp_path / "a.csv")])
    b = runner.invoke(app, ["--db", db, "-q", "rules", *rules, "--output", str(tmp_path / "b.csv"), "--engine",
                            "spark"])
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()  # titles included
    assert b.output.split(" (")[0] == a.output.split(" (")[0]  # "N rules from M baskets and K products"
    with Warehouse(db, read_only=True) as wh:  # the stored rules, run by run
        runs = wh.con.execute("SELECT max(run_id) FROM mining_runs WHERE kind = 'rules'").fetchall()[0][0]
        stored = wh.con.execute("SELECT * EXCLUDE (run_id) FROM rules ORDER BY ALL").df()
    assert runs is not None and len(stored) == len(pd.read_csv(tmp_path / "b.csv"))
    # a basket file, no warehouse: the same file byte for byte
    with Warehouse(db, read_only=True) as wh:
        lists = wh.con.execute("SELECT string_agg(product_id, ',' ORDER BY product_id) FROM basket_items "
                               "GROUP BY order_id ORDER BY order_id").fetchall()
    (tmp_path / "baskets.txt").write_text("\n".join(r[0] for r in lists) + "\n")
    files = [runner.invoke(app, ["-q", "rules", "--baskets", str(tmp_path / "baskets.txt"), *rules, "--output",
                                 str(tmp_path / f"{e}.csv"), "--engine", e]) for e in ("embedded", "spark")]
    assert all(f.exit_code == 0 for f in files), files[1].output
    assert (tmp_path / "embedded.csv").read_bytes() == (tmp_path / "spark.csv").read_bytes()
    assert (tmp_path / "embedded.csv").read_text().count("\n") > 5
    bad = runner.invoke(app, ["--db", db, "rules", "--engine", "duckdb"])
    assert bad.exit_code != 0 and "not an engine" in bad.output


def test_submit_pairs_rules_apply_on_parquet(spark, tmp_path: Path, write_csv) -> None:
    csv = write_csv("orders.csv", HEADER, _shop_rows(60))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        ingest_files(wh, [csv], IngestConfig(kind="orders"))
    db = str(tmp_path / "w.duckdb")
    lines = str(tmp_path / "lines.parquet")
    assert submit.run(["export", "--db", db, "--output", lines]) == 0
    assert submit.run(["pairs", "--input", lines, "--output", str(tmp_path / "pairs"), "--min-count", "2"]) == 0
    from bundlewise.mining.jobs import mine

    with Warehouse(db) as wh:
        mine(wh, MiningConfig(min_count=2))
    want = _stored_pairs(Path(db)).rename(columns={"product_a": "item_a", "product_b": "item_b"})
    assert_same_stats(pd.read_parquet(tmp_path / "pairs"), want)
    assert submit.run(["rules", "--input", lines, "--output", str(tmp_path / "rules"), "--min-support", "0.05",
                       "--min-confidence", "0.3", "--max-consequent", "2"]) == 0
    rules = pd.read_parquet(tmp_path / "rules").sort_values("rule_id")
    assert (rules["consequent"].map(len) == 2).any() and rules["rule_id"].tolist() == list(range(len(rules)))
    assert submit.run(["apply", "--rules", str(tmp_path / "rules"), "--input", lines, "--output",
                       str(tmp_path / "offers"), "-k", "2"]) == 0
    offers = pd.read_parquet(tmp_path / "offers")
    basket_items = pd.read_parquet(lines).groupby("basket_id")["item_id"].agg(set)
    assert len(offers) and offers["rank"].max() <= 2
    assert not any(item in basket_items[b] for b, item in zip(offers["basket_id"], offers["item_id"], strict=True))



def test_submit_refuses_with_a_message(spark, tmp_path: Path, capsys) -> None:
    (tmp_path / "out").mkdir()
    pd.DataFrame({"basket_id": ["a", "a"], "item_id": ["x", "y"]}).to_parquet(tmp_path / "l.parquet")
    assert submit.run(["pairs", "--input", str(tmp_path / "l.parquet"), "--output", str(tmp_path / "out"),
                       "--min-count", "1"]) == 1
    assert "already exists" in capsys.readouterr().err
    pd.DataFrame({"order": ["a"], "sku": ["x"]}).to_parquet(tmp_path / "bad.parquet")
    assert submit.run(["pairs", "--input", str(tmp_path / "bad.parquet"), "--output", str(tmp_path / "o2")]) == 1
    assert "no column(s) basket_id, item_id" in capsys.readouterr().err


def test_score_pairs_equals_the_model_in_one_process(spark, tmp_path: Path) -> None:
    from bundlewise.mining import Baskets
    from bundlewise.pairmodel.io import save_pair_model
    from bundlewise.pairmodel.model import PairModel
    from bundlewise.spark import score_pairs

    rng = np.random.default_rng(0)
    groups = [["tea", "pot", "cups"], ["seeds", "gloves", "can"]]
    b = Baskets.from_lists([list(rng.choice(groups[i % 2], 2, replace=False)) for i in range(300)])
    vec = {"tea": [1, 0], "pot": [.9, .1], "cups": [.8, .2], "seeds": [0, 1], "gloves": [.1, .9], "can": [.2, .8]}
    cat = pd.DataFrame({"product_id": list(vec), "embedding": [np.array(v, dtype=np.float32) for v in vec.values()]})
    model = PairModel(epochs=2, hidden=8, max_positives=500, random_state=0).fit(b, cat)
    save_pair_model(model, tmp_path / "model")
    ids = list(vec)
    pairs = pd.DataFrame([(p, q) for p in ids for q in ids if p != q] + [("tea", "unknown")],
                         columns=["product_id", "partner_id"])
    scored = score_pairs(spark.createDataFrame(pairs).repartition(2), tmp_path / "model").toPandas()
    scored = scored.set_index(["product_id", "partner_id"]).loc[list(map(tuple, pairs.values))]
    from bundlewise.pairmodel.io import load_pair_model

    # the same checkpoint scored in this process, all pairs in one batch (Spark's batches differ: the float32
    # network's sums may round differently, hence 1e-6 and not the mining's 1e-9)
    direct = load_pair_model(tmp_path / "model").score_pairs(pairs["product_id"][:-1], pairs["partner_id"][:-1])
    assert np.isnan(scored["score"].iloc[-1])  # an unknown product scores null, the others are scored
    np.testing.assert_allclose(scored["score"].to_numpy()[:-1], direct, rtol=1e-6, atol=1e-9)
    assert np.abs(np.diff(direct)).max() > 1e-3  # the scores differ between pairs: the check can fail


@pytest.mark.shared
@pytest.mark.slow
def test_online_retail_pairs_equal_embedded(spark, tmp_path: Path) -> None:
    from bundlewise.mining.jobs import mine as embedded_mine
    from bundlewise.spark.jobs import mine as spark_mine
    from tests.conftest import shared_path

    path = shared_path("online_retail", "online_retail.csv.gz")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        ingest_files(wh, [path], IngestConfig(kind="orders", preset="online-retail"))
        cfg = MiningConfig(min_count=5, max_basket_size=40, half_life_days=60.0)
        e = embedded_mine(wh, cfg)
        want = wh.con.execute("SELECT * FROM pair_stats ORDER BY product_a, product_b").df()
        s = spark_mine(wh, cfg)
        got = wh.con.execute("SELECT * FROM pair_stats ORDER BY product_a, product_b").df()
    assert (s.n_baskets, s.n_dropped_baskets, s.n_pairs, s.n_significant) == \
        (e.n_baskets, e.n_dropped_baskets, e.n_pairs, e.n_significant)
    assert s.n_pairs > 10_000
    rename = {"product_a": "item_a", "product_b": "item_b"}
    assert_same_stats(got.rename(columns=rename), want.rename(columns=rename))
