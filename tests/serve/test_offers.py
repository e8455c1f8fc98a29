"""Offers served by a real ``bundlewise serve`` (uvicorn on 127.0.0.1): choices, propensities, logging, learning.

The expected probabilities are written here from the ε-greedy rule itself (greedy ``1 - ε + ε/K``,
every other ``ε/K``), never read back from the code under test.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.serve.conftest import API_KEY, ROOT, Shop, free_port

KEY = {"X-API-Key": API_KEY}


class OfferServer:
    """``bundlewise serve`` with BUNDLEWISE_SERVE_* offer settings in its environment."""

    def __init__(self, db: Path, plan: Path, log: Path, env: dict[str, str], *flags: str):
        self.db, self.plan, self.log_path, self.extra, self.flags = db, plan, log, env, flags
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> OfferServer:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUNDLEWISE_SERVE_")}
        env.pop("BUNDLEWISE_API_KEY", None)
        env.update(self.extra)
        cmd = [sys.executable, "-m", "bundlewise.cli.app", "--db", str(self.db), "serve", "--port", str(self.port),
               "--plan", str(self.plan), "--api-key", API_KEY, "--no-access-log", *self.flags]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        assert self.proc.wait(timeout=30) in (0, -15), self.log()  # uvicorn re-raises SIGTERM after a clean stop
        assert "Application shutdown complete" in self.log()
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()


@pytest.fixture
def offer_server(shop: Shop, tmp_path: Path) -> Iterator[object]:
    servers: list[OfferServer] = []

    def _start(env: dict[str, str], *flags: str, db: Path | None = None) -> OfferServer:
        server = OfferServer(db or shop.copy(tmp_path), shop.plan, tmp_path / f"server{len(servers)}.log",
                             env, *flags)
        servers.append(server)
        return server.start()

    try:
        yield _start
    finally:
        for s in servers:
            s.stop()


def _select(server: OfferServer, context: dict, k: int = 1, client: httpx.Client | None = None) -> dict:
    r = (client or httpx).post(server.url + "/v1/offers/select", json={"context": context, "k": k}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _decisions(db: Path) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute("SELECT * FROM offer_decisions ORDER BY ts, slot")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_epsilon_greedy_choices_follow_their_logged_propensities(offer_server) -> None:
    eps = 0.5
    server = offer_server({"BUNDLEWISE_SERVE_OFFERS_POLICY": "epsilon-greedy",
                           "BUNDLEWISE_SERVE_OFFERS_EPSILON": str(eps),
                           "BUNDLEWISE_SERVE_OFFERS_DISCOUNTS": "0.05,0.2"})
    ctx = {"placement": "cart", "items": ["tent"], "segment": "regular", "session_id": "s-1"}
    n = 600
    chosen: Counter[str] = Counter()
    with httpx.Client() as c:
        first = _select(server, ctx, client=c)
        for _ in range(n - 1):
            chosen[_select(server, ctx, client=c)["offers"][0]["offer_id"]] += 1
        chosen[first["offers"][0]["offer_id"]] += 1
        deep = _select(server, ctx, k=3, client=c)
    k_elig = first["eligible"]
    assert k_elig >= 4  # none, the tent bundle at several discounts, complements of the tent
    # nothing is learned (no purchase): 'none' (first) stays greedy; ε/K for every other offer
    answer = first["offers"][0]
    expect = {"none": 1 - eps + eps / k_elig}
    assert answer["propensity"] == pytest.approx(expect.get(answer["offer_id"], eps / k_elig))
    assert answer["policy"] == "epsilon-greedy" and answer["policy_version"].endswith(":0")
    assert "P = " in answer["explanation"] and "eligible offers" in answer["explanation"]
    server.terminate()
    rows = _decisions(server.db)
    assert len(rows) == n + len(deep["offers"])
    eligible = json.loads(rows[0]["eligible"])
    assert eligible[0] == "none" and len(eligible) == k_elig
    assert any(o.startswith("bundle:") and o.endswith("@0.05") for o in eligible)
    assert any(o.startswith("complement:") for o in eligible)
    for oid in eligible:  # observed frequency within 4.5 standard errors of the logged propensity
        p = expect.get(oid, eps / k_elig)
        assert abs(chosen[oid] / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n), (oid, chosen[oid], p)
    for r in rows:
        probs = json.loads(r["probabilities"])
        elig = json.loads(r["eligible"])
        assert 0 < r["propensity"] <= 1 and math.isfinite(r["propensity"])
        assert r["propensity"] == pytest.approx(probs[elig.index(r["offer_id"])])
        assert sum(probs) == pytest.approx(1.0)
        assert r["placement"] == "cart" and json.loads(r["context"])["items"] == ["tent"]
    # k = 3: without replacement; each later slot chose among the offers left, with its own propensity
    slots = [r for r in rows if r["decision_id"] in {o["decision_id"] for o in deep["offers"]}]
    assert [r["slot"] for r in slots] == list(range(len(slots)))
    for j, r in enumerate(slots[1:], start=1):
        before = {s["offer_id"] for s in slots[:j]}
        elig = json.loads(r["eligible"])
        assert before.isdisjoint(elig) and len(elig) == k_elig - j
        greedy = "none" in elig  # 'none' is still the greedy one while it is left
        expect_p = (1 - eps + eps / len(elig)) if greedy and r["offer_id"] == "none" else eps / len(elig)
        assert r["propensity"] == pytest.approx(expect_p)
    assert all(s["offer_id"] != "none" for s in slots[:-1])  # 'none' ends the list


def test_bad_requests_name_the_field(offer_server, shop: Shop, tmp_path: Path) -> None:
    server = offer_server({})
    url = server.url + "/v1/offers/select"
    for body, field in (({"context": {"placement": "sidebar"}}, "body.context.placement"),
                        ({"context": {}}, "body.context.placement"),
                        ({"context": {"placement": "home"}, "k": 0}, "body.k"),
                        ({"context": {"placement": "home"}, "k": 11}, "body.k"),
                        ({"context": {"placement": "home", "colour": "red"}}, "body.context.colour"),
                        ({"context": {"placement": "home"}, "n": 2}, "body.n"),
                        ({"context": {"placement": "cart", "items": "tent"}}, "body.context.items"),
                        ({"context": {"placement": "cart", "items": ["x"] * 101}}, "body.context.items")):
        r = httpx.post(url, json=body, timeout=10)
        assert r.status_code == 422, (body, r.text)
        assert field in [p["field"] for p in r.json()["problems"]], (body, r.json())
    # no key needed (a read-like call from shop pages); events still need it; reads stay open
    assert httpx.post(url, json={"context": {"placement": "home"}}, timeout=10).status_code == 200
    assert httpx.get(server.url + "/v1/offers/stats", timeout=10).status_code == 200
    event = {"event_id": "x1", "ts": "2026-01-01T00:00:00", "event_type": "click"}
    assert httpx.post(server.url + "/v1/events", json=event, timeout=10).status_code == 401
    server.terminate()
    assert len(_decisions(server.db)) == 1  # the 422s stored nothing
    keyed = offer_server({}, "--keyed-reads", db=server.db)
    assert httpx.post(keyed.url + "/v1/offers/select", json={"context": {"placement": "home"}},
                      timeout=10).status_code == 401
    assert httpx.post(keyed.url + "/v1/offers/select", json={"context": {"placement": "home"}}, headers=KEY,
                      timeout=10).status_code == 200
    keyed.terminate()
    readonly = offer_server({}, "--no-events", db=server.db)
    r = httpx.post(readonly.url + "/v1/offers/select", json={"context": {"placement": "home"}}, timeout=10)
    assert r.status_code == 503 and "read-only" in r.json()["error"]


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


@pytest.mark.slow
def test_the_service_learns_from_purchases_and_resumes_after_a_restart(offer_server, shop: Shop) -> None:
    eps = 0.3
    env = {"BUNDLEWISE_SERVE_OFFERS_EPSILON": str(eps), "BUNDLEWISE_SERVE_REWARD_WINDOW_S": "0.5",
           "BUNDLEWISE_SERVE_OFFERS_LEARN_INTERVAL_S": "0.1", "BUNDLEWISE_SERVE_OFFERS_DISCOUNTS": "0.05,0.2"}
    server = offer_server(env)
    ctx = {"placement": "home", "segment": "premium"}
    target = None
    shares = []
    n_events = 0
    with httpx.Client() as c:
        for block in range(4):
            hits, n = 0, 60
            for i in range(n):
                answer = _select(server, {**ctx, "session_id": f"b{block}-{i}"}, client=c)["offers"][0]
                if target is None and answer["kind"] == "bundle":
                    target, bought = answer["offer_id"], answer["products"][0]
                if answer["offer_id"] != target:
                    continue
                hits += 1
                if block:  # block 0: the share before anything is bought
                    n_events += 1
                    event = {"event_id": f"p{block}-{i}", "ts": _now(), "event_type": "purchase",
                             "product_id": bought, "value": 200.0,
                             "decision_id": answer["decision_id"], "properties": {"quantity": 2, "discount": 2.5}}
                    assert c.post(server.url + "/v1/events", json=event, headers=KEY).status_code == 201
            shares.append(hits / n)
            time.sleep(0.8)  # the window (0.5 s) and a learning step pass
        stats = c.get(server.url + "/v1/offers/stats").json()
        probe = _select(server, {**ctx, "session_id": "probe"}, client=c)
    assert target is not None and n_events > 0
    # every purchase has margin 200 - 2 x cost - 2.5 and only the target's are bought: it becomes greedy
    with duckdb.connect(str(shop.db), read_only=True) as con:
        cost = con.execute("SELECT coalesce(cost, 0) FROM products WHERE product_id = ?",
                           [bought]).fetchall()[0][0]
    margin = 200.0 - 2 * cost - 2.5
    assert shares[0] < 0.25 and shares[-1] > 0.5, shares
    row = next(o for o in stats["offers"] if o["offer_id"] == target)
    assert row["purchases"] == n_events and row["closed"] == row["impressions"]
    assert row["conversion"] == pytest.approx(n_events / row["impressions"])
    assert row["margin_per_impression"] == pytest.approx(margin * n_events / row["impressions"])
    others = [o for o in stats["offers"] if o["offer_id"] != target and o["closed"]]
    assert others and all(o["margin_per_impression"] == 0 and o["purchases"] == 0 for o in others)
    assert int(stats["policy_version"].split(":")[1]) == stats["updates"] == 240  # every window closed
    server.terminate()
    with duckdb.connect(str(server.db), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM events WHERE decision_id IS NOT NULL").fetchall()[0][0]
        by_col = con.execute("SELECT count(*) FROM events e JOIN offer_decisions d USING (decision_id) "
                             "WHERE d.offer_id = ?", [target]).fetchall()[0][0]
    assert stored == by_col == n_events

    again = offer_server(env, db=server.db)
    after_stats = httpx.get(again.url + "/v1/offers/stats", timeout=10).json()
    assert after_stats["restored"] == 241 and after_stats["decisions"] == 241  # the probe too
    assert int(after_stats["policy_version"].split(":")[1]) == 241
    row2 = next(o for o in after_stats["offers"] if o["offer_id"] == target)
    assert (row2["purchases"], row2["impressions"] - 1) <= (n_events, row["impressions"]) <= \
        (row2["purchases"], row2["impressions"])
    assert row2["purchases"] == n_events
    after = _select(again, {**ctx, "session_id": "after"})
    again.terminate()
    rows = {r["decision_id"]: r for r in _decisions(server.db)}
    k = probe["eligible"]
    greedy = 1 - eps + eps / k
    for answer in (probe, after):  # a fresh policy would give the target eps / k; the replayed one is greedy
        r = rows[answer["offers"][0]["decision_id"]]
        p_target = json.loads(r["probabilities"])[json.loads(r["eligible"]).index(target)]
        # (times 0.95 while some offer has fewer than 20 rewards: the new-offer share of bundlewise.offers)
        assert p_target == pytest.approx(greedy) or p_target == pytest.approx(0.95 * greedy), p_target


def test_queued_answers_are_stored_before_the_events_that_follow(offer_server) -> None:
    """offers_durable off: answered once queued; an event naming the decision still lands after it.

    And a per-placement exploration cap of 0: email always gets the greedy offer, with propensity 1.
    """
    server = offer_server({"BUNDLEWISE_SERVE_OFFERS_DURABLE": "0", "BUNDLEWISE_SERVE_OFFERS_EPSILON": "0.5",
                           "BUNDLEWISE_SERVE_OFFERS_PLACEMENT_CAPS": "email=0"})
    ids = []
    with httpx.Client() as c:
        home = Counter(_select(server, {"placement": "home"}, client=c)["offers"][0]["offer_id"] for _ in range(30))
        assert len(home) > 1  # uncapped: ε = 0.5 explores
        for i in range(40):
            answer = _select(server, {"placement": "email", "session_id": f"q{i}"}, client=c)
            assert answer["durable"] is False
            assert (answer["offers"][0]["offer_id"], answer["offers"][0]["propensity"]) == ("none", 1.0)
            did = answer["offers"][0]["decision_id"]
            ids.append(did)
            event = {"event_id": f"q{i}", "ts": _now(), "event_type": "click", "decision_id": did}
            assert c.post(server.url + "/v1/events", json=event, headers=KEY).status_code == 201
    server.terminate()  # a graceful stop drains the queue
    with duckdb.connect(str(server.db), read_only=True) as con:
        stored = {r[0] for r in con.execute("SELECT decision_id FROM offer_decisions").fetchall()}
        orphans = con.execute("SELECT count(*) FROM events e LEFT JOIN offer_decisions d USING (decision_id) "
                              "WHERE e.decision_id IS NOT NULL AND d.decision_id IS NULL").fetchall()[0][0]
    assert set(ids) <= stored and len(stored) == len(ids) + 30 and orphans == 0


def test_the_writer_refuses_a_decision_without_a_valid_propensity(shop: Shop, tmp_path: Path) -> None:
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.serve.events import EventWriter

    db = shop.copy(tmp_path)
    row = {"decision_id": "d1", "ts": datetime(2026, 1, 1), "placement": "home", "context": {"placement": "home"},
           "offer_id": "none", "offer_kind": "none", "eligible": ["none"], "probabilities": [1.0],
           "policy": "epsilon-greedy", "policy_version": "epsilon_greedy:0", "slot": 0}
    with Warehouse(db, create=False) as wh:
        writer = EventWriter(wh.con, "test")
        for bad in (None, 0.0, -0.1, 1.5, float("nan")):
            with pytest.raises(ValueError, match="propensity"):
                writer._write([[{**row, "propensity": bad}]], ["decisions"])
        with pytest.raises(duckdb.ConstraintException):  # the table's CHECK, past the writer's own test
            wh.con.execute("INSERT INTO offer_decisions (decision_id, ts, placement, offer_id, offer_kind, propensity, "
                           "eligible, probabilities, policy, policy_version, slot) VALUES ('d2', now()::TIMESTAMP, "
                           "'home', 'none', 'none', 0.0, '[]', '[]', 'p', 'v', 0)")
        writer._write([[{**row, "propensity": 1.0}]], ["decisions"])
        assert wh.con.execute("SELECT decision_id, propensity FROM offer_decisions").fetchall() == [("d1", 1.0)]


def test_offer_settings_are_typed_and_checked() -> None:
    from bundlewise.errors import ConfigError
    from bundlewise.serve.settings import ServeSettings

    s = ServeSettings.from_env({"BUNDLEWISE_SERVE_OFFERS_POLICY": "thompson", "BUNDLEWISE_SERVE_REWARD_WINDOW_S": "60",
                                "BUNDLEWISE_SERVE_OFFERS_PLACEMENT_CAPS": "email=0.05,home=0.2"})
    assert (s.offers_policy, s.reward_window_s) == ("thompson", 60.0)
    assert s.exploration_caps() == {"*": 1.0, "email": 0.05, "home": 0.2}
    assert ServeSettings.from_json(s.to_json()) == s
    for env, word in (({"BUNDLEWISE_SERVE_OFFERS_POLICY": "greedy"}, "offers_policy"),
                      ({"BUNDLEWISE_SERVE_OFFERS_EPSILON": "0"}, "offers_epsilon"),
                      ({"BUNDLEWISE_SERVE_OFFERS_EPSILON": "x"}, "offers_epsilon"),
                      ({"BUNDLEWISE_SERVE_OFFERS_PLACEMENT_CAPS": "sidebar=0.1"}, "offers_placement_caps"),
                      ({"BUNDLEWISE_SERVE_OFFERS_DISCOUNTS": "1.5"}, "offers_discounts"),
                      ({"BUNDLEWISE_SERVE_OFFERS_POLCY": "softmax"}, "BUNDLEWISE_SERVE_OFFERS_POLCY")):
        with pytest.raises(ConfigError, match=word):
            ServeSettings.from_env(env)
    with pytest.raises(ConfigError, match="offers_epsilon"):
        ServeSettings.from_dict({"offers_epsilon": 2})


def test_rewards_by_decision_id_and_by_session_within_the_window(offer_server, shop: Shop) -> None:
    """Online stats, the service's SQL join and offers.logs agree with margins worked out here by hand."""
    from datetime import timedelta

    from bundlewise.offers.logs import read_decision_log
    from bundlewise.serve.offers_learn import JOINED_COLUMNS, joined_log

    window = 3.0
    server = offer_server({"BUNDLEWISE_SERVE_REWARD_WINDOW_S": str(window),
                           "BUNDLEWISE_SERVE_OFFERS_LEARN_INTERVAL_S": "0.2"})
    a = _select(server, {"placement": "cart", "items": ["tent"], "session_id": "sa"})["offers"][0]
    b = _select(server, {"placement": "home", "session_id": "sb"})["offers"][0]
    t0 = datetime.now(UTC).replace(tzinfo=None)

    def at(seconds: float) -> str:
        return (t0 + timedelta(seconds=seconds)).isoformat()

    events = [  # pegs cost 2, lamp cost 8, stove cost unknown (0) in the shop's catalogue
        {"event_id": "e1", "ts": at(0.5), "event_type": "purchase", "session_id": "sa", "product_id": "pegs",
         "value": 8.0, "properties": {"quantity": 2, "discount": 1.0}},              # by session: 8 - 4 - 1 = 3
        {"event_id": "e2", "ts": at(1.0), "event_type": "purchase", "session_id": "sa", "product_id": "lamp",
         "value": 25.0, "decision_id": b["decision_id"]},                           # named b: 25 - 8 = 17
        {"event_id": "e3", "ts": at(2 * window), "event_type": "purchase", "session_id": "sa",
         "product_id": "stove", "value": 40.0},                                     # after a's window: nothing
        {"event_id": "e4", "ts": at(0.2), "event_type": "click", "session_id": "sa", "decision_id": a["decision_id"]},
        {"event_id": "e5", "ts": at(0.7), "event_type": "purchase", "session_id": "zz", "product_id": "stove",
         "value": 40.0},                                                            # no decision in that session
    ]
    r = httpx.post(server.url + "/v1/events", json={"events": events}, headers=KEY, timeout=10)
    assert r.status_code == 201 and r.json()["inserted"] == 5
    expected = {a["decision_id"]: 3.0, b["decision_id"]: 17.0}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = httpx.get(server.url + "/v1/offers/stats", timeout=10).json()
        if stats["updates"] == 2:
            break
        time.sleep(0.3)
    assert stats["updates"] == 2
    rows = {o["offer_id"]: o for o in stats["offers"]}
    if a["offer_id"] != b["offer_id"]:
        assert rows[a["offer_id"]]["margin_per_impression"] == pytest.approx(3.0)
        assert rows[a["offer_id"]]["clicks"] == 1 and rows[a["offer_id"]]["purchases"] == 1
        assert rows[b["offer_id"]]["margin_per_impression"] == pytest.approx(17.0)
    else:
        assert rows[a["offer_id"]]["margin_per_impression"] == pytest.approx(10.0)
    server.terminate()
    with duckdb.connect(str(server.db), read_only=True) as con:
        sql = {r[0]: r[JOINED_COLUMNS.index("reward")] for r in joined_log(con, window)}
    assert sql == pytest.approx(expected)
    logs = read_decision_log(str(server.db), window_s=window).set_index("decision_id")["reward"].to_dict()
    assert logs == pytest.approx(expected)


def test_business_rules_shape_the_eligible_offers(shop: Shop, tmp_path: Path) -> None:
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.serve.artefacts import load_artefacts
    from bundlewise.serve.offers import Catalog
    from bundlewise.serve.settings import ServeSettings

    rules = tmp_path / "rules.toml"
    rules.write_text('max_discount = 0.1\nexclude_products = ["stove"]\nnever_together = [["tent", "lamp"]]\n',
                     encoding="utf-8")
    settings = ServeSettings(db=str(shop.db), plan=str(shop.plan), events=False, offers_discounts=(0.05, 0.2),
                             offers_rules=str(rules))
    with Warehouse(shop.db, read_only=True) as wh:
        art = load_artefacts(wh.con, settings)
    plan = json.loads(shop.plan.read_text(encoding="utf-8"))
    with_tent = {b["bundle_id"] for b in plan if "tent" in b["products"]}
    allowed = {b["bundle_id"] for b in plan if "stove" not in b["products"]
               and not {"tent", "lamp"} <= set(b["products"])}
    ids = [o.offer_id for o in Catalog(art, settings).eligible(art, ["tent"])]
    assert ids[0] == "none"
    bundles = {o.split(":")[1].split("@")[0] for o in ids if o.startswith("bundle:")}
    assert bundles == (with_tent & allowed or allowed)  # those holding the tent, else every allowed one
    assert all(not o.endswith("@0.20") for o in ids)  # above max_discount
    assert "complement:stove" not in ids and "complement:lamp" not in ids
    assert "complement:pegs" in ids  # tent's partner that breaks no rule
    free = [o.offer_id for o in Catalog(art, settings.replace(offers_rules=None)).eligible(art, ["tent"])]
    assert any(o.endswith("@0.20") for o in free) and "complement:lamp" in free


def test_kill_9_loses_no_answered_decision(offer_server) -> None:
    """Durable answers wait for the decision journal's fsync; a kill -9 before the flush loses none of them.

    The flush interval is long here, so every decision is still in the journal at the kill.
    """
    from bundlewise.ingest.journal import journal_path, pending_rows
    from bundlewise.offers.logs import read_decision_log

    server = offer_server({"BUNDLEWISE_SERVE_OFFERS_EPSILON": "0.5", "BUNDLEWISE_SERVE_OFFERS_JOURNAL_FLUSH_S": "60"})
    answered = []
    with httpx.Client() as c:
        for i in range(80):
            answer = _select(server, {"placement": "cart", "session_id": f"k{i}", "items": ["tent"]}, k=2, client=c)
            assert answer["durable"] is True
            answered += [o["decision_id"] for o in answer["offers"]]
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait(timeout=10)
    journal = journal_path(server.db)
    in_table = {d["decision_id"] for d in _decisions(server.db)}
    waiting = {r["decision_id"] for r in pending_rows(journal)}
    assert set(answered) <= in_table | waiting
    assert not in_table and waiting == set(answered)  # none flushed yet: the recovery is what is tested
    # a read-only reader (OPE) sees every answered decision before any writer recovered the journal
    assert set(answered) <= set(read_decision_log(server.db)["decision_id"])
    again = offer_server({"BUNDLEWISE_SERVE_OFFERS_EPSILON": "0.5"}, db=server.db)  # replays when it opens
    assert _select(again, {"placement": "home"})["offers"]
    again.terminate()
    rows = _decisions(server.db)
    stored = [d["decision_id"] for d in rows]
    assert set(answered) <= set(stored) and len(stored) == len(set(stored)) == len(answered) + 1
    assert all(0 < d["propensity"] <= 1 for d in rows)
    assert journal.stat().st_size == 0
