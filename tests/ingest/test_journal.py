"""The offer-decision journal: durable lines, replay into the warehouse on open, torn and damaged files."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from bundlewise.errors import WarehouseError
from bundlewise.ingest.journal import DecisionJournal, journal_path, pending_rows, replay
from bundlewise.ingest.warehouse import Warehouse


def _row(i: int, p: float = 0.5) -> dict:
    return {"decision_id": f"d{i}", "ts": datetime(2026, 3, 1, 12, 0, i), "placement": "cart",
            "session_id": f"s{i}", "context": {"placement": "cart", "items": ["tent"]}, "offer_id": "none",
            "offer_kind": "none", "discount": None, "propensity": p, "eligible": ["none", "bundle:a+b@0.10"],
            "probabilities": [p, 1 - p], "policy": "epsilon-greedy", "policy_version": "epsilon_greedy:3",
            "slot": 0, "expected_margin": 1.25}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    Warehouse(path).close()
    return path


def test_appended_lines_come_back_with_their_types(db: Path) -> None:
    j = DecisionJournal(journal_path(db))
    j.append([_row(1), _row(2)])
    j.append([_row(3)])
    j.close()
    rows = pending_rows(journal_path(db))
    assert [r["decision_id"] for r in rows] == ["d1", "d2", "d3"]
    assert rows[0]["ts"] == datetime(2026, 3, 1, 12, 0, 1)
    assert rows[0]["context"] == {"placement": "cart", "items": ["tent"]} and rows[2]["probabilities"] == [0.5, 0.5]


def test_opening_the_warehouse_for_writing_moves_the_journal_in_once(db: Path) -> None:
    j = DecisionJournal(journal_path(db))
    j.append([_row(1), _row(2)])
    j.close()  # a server killed before its flush leaves this behind
    with Warehouse(db, create=False) as wh:
        got = wh.con.execute("SELECT decision_id, propensity, CAST(eligible AS VARCHAR), ts FROM offer_decisions "
                             "ORDER BY decision_id").fetchall()
    assert [g[0] for g in got] == ["d1", "d2"]
    assert got[0][1] == 0.5 and json.loads(got[0][2]) == ["none", "bundle:a+b@0.10"]
    assert got[0][3] == datetime(2026, 3, 1, 12, 0, 1)
    assert journal_path(db).stat().st_size == 0
    with Warehouse(db, create=False) as wh:  # opening again adds nothing
        assert wh.con.execute("SELECT count(*) FROM offer_decisions").fetchall()[0][0] == 2


def test_replay_skips_ids_already_stored(db: Path) -> None:
    """A crash between the flush's commit and the truncation: replaying repeats nothing."""
    with Warehouse(db, create=False) as wh:
        replay(wh.con, None)  # no journal at all: nothing to do
        j = DecisionJournal(journal_path(db))
        j.append([_row(1)])
        assert replay(wh.con, j.path) == 1
        j.append([_row(1), _row(2)])  # d1 again, as if the truncation had not happened
        assert replay(wh.con, j.path) == 1
        j.close()
        assert wh.con.execute("SELECT count(*) FROM offer_decisions").fetchall()[0][0] == 2


def test_a_torn_last_line_is_left_out_and_a_damaged_line_stops_the_open(db: Path) -> None:
    path = journal_path(db)
    j = DecisionJournal(path)
    j.append([_row(1)])
    j.close()
    with path.open("ab") as fh:
        fh.write(b'{"decision_id": "d2", "ts": "2026-03')  # the write a kill -9 interrupted
    assert [r["decision_id"] for r in pending_rows(path)] == ["d1"]
    with Warehouse(db, create=False) as wh:
        assert wh.con.execute("SELECT decision_id FROM offer_decisions").fetchall() == [("d1",)]
    path.write_bytes(b"not json\n" + path.read_bytes() + json.dumps({**_row(3), "ts": "2026-03-01T12:00:03"})
                     .encode() + b"\n")
    with pytest.raises(WarehouseError, match=r"line 1 is not JSON"):
        Warehouse(db, create=False)
    with duckdb.connect(str(db), read_only=True) as con:  # nothing changed
        assert con.execute("SELECT count(*) FROM offer_decisions").fetchall()[0][0] == 1


def test_a_bad_propensity_never_reaches_the_journal(db: Path) -> None:
    j = DecisionJournal(journal_path(db))
    for bad in (None, 0.0, 1.5, float("nan"), 1):
        with pytest.raises(ValueError, match="propensity"):
            j.append([_row(1, 0.5), {**_row(2), "propensity": bad}])
    j.close()
    assert pending_rows(journal_path(db)) == []


def test_read_only_opens_leave_the_journal_and_say_so(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    from bundlewise.offers.logs import read_decision_log

    j = DecisionJournal(journal_path(db))
    j.append([_row(1), _row(2)])
    j.close()
    with caplog.at_level(logging.WARNING, logger="bundlewise.ingest.warehouse"):
        Warehouse(db, read_only=True).close()
    assert "2 offer decisions wait in" in caplog.text
    assert len(pending_rows(journal_path(db))) == 2
    log = read_decision_log(db)  # the OPE reader sees them all the same
    assert sorted(log["decision_id"]) == ["d1", "d2"]


def test_journal_path_beside_the_file() -> None:
    assert journal_path("/x/y/shop.duckdb") == Path("/x/y/shop.duckdb.decisions.journal")
    assert journal_path(":memory:") is None
