"""``bundlewise offers simulate|evaluate`` end to end (typer's runner), on files and on a real DuckDB warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse

runner = CliRunner()

# the contract's table (created by migration 5 when the warehouse has it; by the test otherwise)
DECISIONS_DDL = """CREATE TABLE IF NOT EXISTS offer_decisions (
    decision_id VARCHAR PRIMARY KEY, ts TIMESTAMP NOT NULL, placement VARCHAR NOT NULL, session_id VARCHAR,
    customer_id VARCHAR, context JSON, offer_id VARCHAR NOT NULL, offer_kind VARCHAR NOT NULL, bundle_id VARCHAR,
    product_id VARCHAR, discount DOUBLE, propensity DOUBLE NOT NULL, eligible JSON NOT NULL,
    probabilities JSON NOT NULL, policy VARCHAR NOT NULL, policy_version VARCHAR NOT NULL, slot INTEGER NOT NULL,
    expected_margin DOUBLE)"""


@pytest.fixture(scope="module")
def sim_log(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("offers") / "log.csv"
    result = runner.invoke(app, ["offers", "simulate", "--impressions", "2000", "--seed", "1", "--output", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_simulate_writes_a_log_that_evaluate_reads(sim_log: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sim_log)
    assert len(frame) == 2000 and {"decision_id", "propensity", "eligible", "probabilities", "reward"} <= set(frame)
    out = tmp_path / "table.json"
    result = runner.invoke(app, ["offers", "evaluate", "--log", str(sim_log), "--policy", "epsilon_greedy",
                                 "--param", "epsilon=0.05", "--estimators", "ips,snips,dr", "--bootstrap", "30",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "logging policy (observed)" in result.output and "snips" in result.output
    doc = json.loads(out.read_text())
    names = [r["estimator"] for r in doc["estimates"]]
    assert names == ["logging policy (observed)", "ips", "snips", "dr"]
    # the observed value is the plain mean reward of the evaluated (later) half of the log
    later = frame.sort_values("ts", kind="stable")["reward"].to_numpy()[1000:]
    assert doc["estimates"][0]["value"] == pytest.approx(later.mean())
    for r in doc["estimates"]:
        assert r["low"] <= r["value"] <= r["high"]


def test_csv_output_has_one_row_per_estimator(sim_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["offers", "evaluate", "--log", str(sim_log), "--policy", "softmax", "--param",
                                 "temperature=0.5", "--estimators", "snips,est_snips", "--bootstrap", "20",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["estimator"].tolist() == ["logging policy (observed)", "snips", "est_snips"]


@pytest.mark.parametrize("args, message", [
    (["--policy", "greedy"], "--policy is 'greedy'; allowed: epsilon_greedy"),
    (["--param", "epsilom=0.1"], "--param 'epsilom' is not a parameter of epsilon_greedy; allowed:"),
    (["--param", "epsilon=2"], "epsilon must be in (0.0, 1.0]"),
    (["--param", "epsilon"], "is not KEY=VALUE"),
    (["--estimators", "snips,magic"], "--estimators has ['magic']"),
])
def test_bad_options_exit_nonzero_with_the_flag(sim_log: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["offers", "evaluate", "--log", str(sim_log), *args])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_zero_and_missing_propensities_are_refused_with_file_row_and_column(sim_log: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sim_log)
    bad = frame.copy()
    bad.loc[7, "propensity"] = 0.0
    path = tmp_path / "zero.csv"
    bad.to_csv(path, index=False)
    result = runner.invoke(app, ["offers", "evaluate", "--log", str(path)])
    assert result.exit_code == 1
    assert "zero.csv row 9" in result.output and "column 'propensity' is 0.0" in result.output
    missing = frame.drop(columns=["propensity"])
    path2 = tmp_path / "nopscore.csv"
    missing.to_csv(path2, index=False)
    result = runner.invoke(app, ["offers", "evaluate", "--log", str(path2)])
    assert result.exit_code == 1 and "lacks column(s) ['propensity']" in result.output


def test_a_warehouse_without_the_decision_table_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    Warehouse(db).close()
    with Warehouse(db) as wh:
        has = wh.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'offer_decisions'"
                             ).fetchall()[0][0]
        if has:
            wh.con.execute("DROP TABLE offer_decisions")  # an old warehouse: the table is not there
    result = runner.invoke(app, ["--db", str(db), "offers", "evaluate"])
    assert result.exit_code == 1, result.output
    assert "has no 'offer_decisions' table" in result.output and "Traceback" not in result.output


def _warehouse_with_decisions(db: Path, n: int = 400) -> None:
    with Warehouse(db) as wh:
        con = wh.con
        con.execute(DECISIONS_DDL)
        con.execute("INSERT INTO products (product_id, origin, cost) VALUES ('tent', 'catalog', 30.0)")
        for i in range(n):
            offer = "bundle:tent+pegs@0.10" if i % 2 else "none"
            ts = pd.Timestamp("2026-03-01") + pd.Timedelta(seconds=60 * i)
            con.execute("INSERT INTO offer_decisions VALUES (?, ?, 'cart', ?, NULL, ?, ?, ?, NULL, NULL, NULL, 0.5, "
                        "?, ?, 'epsilon-greedy', 'v1', 0, NULL)",
                        [f"d{i}", ts, f"s{i}", json.dumps({"segment": "regular"}), offer,
                         "bundle" if i % 2 else "none", json.dumps(["none", "bundle:tent+pegs@0.10"]),
                         json.dumps([0.5, 0.5])])
            if i % 2 and i % 4 == 1:  # half of the bundle decisions sell a tent at 50: margin 20
                con.execute("INSERT INTO events (event_id, ts, event_type, session_id, product_id, value, properties, "
                            "ingest_id) VALUES (?, ?, 'purchase', ?, 'tent', 50.0, ?, 0)",
                            [f"e{i}", ts + pd.Timedelta(seconds=30), f"s{i}", json.dumps({"decision_id": f"d{i}"})])


def test_evaluate_reads_the_warehouse_and_joins_rewards(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _warehouse_with_decisions(db)
    from bundlewise.offers.logs import read_decision_log

    log = read_decision_log(db)
    assert len(log) == 400
    bundle = log[log["offer_id"] != "none"]
    assert bundle["reward"].mean() == pytest.approx(10.0)  # 20 on half of them
    assert (log.loc[log["offer_id"] == "none", "reward"] == 0).all()
    out = tmp_path / "t.json"
    result = runner.invoke(app, ["--db", str(db), "offers", "evaluate", "--policy", "epsilon_greedy", "--param",
                                 "epsilon=0.01", "--estimators", "ips,snips", "--bootstrap", "30",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    est = {r["estimator"]: r["value"] for r in json.loads(out.read_text())["estimates"]}
    # the always-bundle policy earns ~10 per decision; the 50/50 logger ~5
    assert est["logging policy (observed)"] == pytest.approx(5.0, abs=1.0)
    assert est["snips"] == pytest.approx(10.0, abs=1.5)


def test_warehouse_rewards_by_decision_id_by_session_and_window(tmp_path: Path) -> None:
    from bundlewise.offers.logs import read_decision_log

    db = tmp_path / "w.duckdb"
    t0 = pd.Timestamp("2026-03-01 12:00")
    with Warehouse(db) as wh:
        con = wh.con
        con.execute(DECISIONS_DDL)
        con.execute("INSERT INTO products (product_id, origin, cost) VALUES ('tent', 'catalog', 30.0)")
        elig, probs = json.dumps(["none", "x"]), json.dumps([0.4, 0.6])
        for i, (sid, slot) in enumerate([("s1", 0), ("s1", 1), ("s2", 0), ("s3", 0)]):
            con.execute("INSERT INTO offer_decisions VALUES (?, ?, 'cart', ?, NULL, NULL, 'x', 'bundle', NULL, NULL, "
                        "0.1, 0.6, ?, ?, 'p', 'v', ?, NULL)", [f"d{i}", t0, sid, elig, probs, slot])
        ev = [("e1", 60, "purchase", "s1", "tent", 50.0, None, {"discount": 5.0}),  # session -> d0 (slot 0): 15
              ("e2", 30, "purchase", "s1", "mug", 8.0, "d1", {}),        # named d1, unknown cost: 8
              ("e3", 900, "purchase", "s2", "tent", 50.0, None, {}),     # after the 600 s window: nothing
              ("e4", 10, "click", "s3", None, None, "d3", {}),           # a click, no margin
              ("e5", 20, "purchase", "s3", "tent", 100.0, None, {"quantity": 2})]  # 100 - 2 x 30 = 40 -> d3
        for eid, lag, kind, sid, pid, value, did, props in ev:
            con.execute("INSERT INTO events (event_id, ts, event_type, session_id, product_id, value, properties, "
                        "decision_id, ingest_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                        [eid, t0 + pd.Timedelta(seconds=lag), kind, sid, pid, value, json.dumps(props), did])
    log = read_decision_log(db).set_index("decision_id")
    assert log["reward"].to_dict() == {"d0": 15.0, "d1": 8.0, "d2": 0.0, "d3": 40.0}
    assert log["clicked"].to_dict() == {"d0": False, "d1": False, "d2": False, "d3": True}
    assert log["purchased"].to_dict() == {"d0": True, "d1": True, "d2": False, "d3": True}


def test_a_warehouse_of_an_older_schema_is_refused_clearly(tmp_path: Path) -> None:
    import duckdb

    from bundlewise.ingest.schema import MIGRATIONS

    db = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(db))  # a warehouse as bundlewise wrote it before the offer log (schema v4)
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)")
    for m in MIGRATIONS[:4]:
        for statement in m.statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, ?, current_timestamp::TIMESTAMP)",
                    [m.version, m.description])
    con.close()
    result = runner.invoke(app, ["--db", str(db), "offers", "evaluate"])
    assert result.exit_code == 1, result.output
    assert "schema version 4" in result.output and "no 'offer_decisions' table" in result.output


def test_an_empty_decision_table_says_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    with Warehouse(db) as wh:
        wh.con.execute(DECISIONS_DDL)
    result = runner.invoke(app, ["offers", "evaluate", "--db", str(db)])  # the global flag after the verb
    assert result.exit_code == 1 and "0 decision(s)" in result.output and "--log" in result.output


def test_report_adds_the_offers_section_only_when_offers_were_served(tmp_path: Path) -> None:
    from bundlewise.cli.bundles import _with_offers
    from bundlewise.report.html import HtmlReport

    empty = tmp_path / "empty.duckdb"
    Warehouse(empty).close()
    assert "Offers that learn" not in _with_offers(HtmlReport("plan"), empty).render()
    served = tmp_path / "served.duckdb"
    _warehouse_with_decisions(served)
    html = _with_offers(HtmlReport("plan"), served).render()
    assert "Offers that learn" in html and "margin" in html
