"""The API in-process (TestClient runs the real lifespan): answers, their numbers, and every 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from bundlewise.serve import ServeSettings, create_app
from tests.serve.conftest import API_KEY, Shop

KEY = {"X-API-Key": API_KEY}


@pytest.fixture
def client(shop: Shop, tmp_path: Path) -> Iterator[TestClient]:
    db = shop.copy(tmp_path)
    app = create_app(ServeSettings(db=str(db), plan=str(shop.plan), api_key=API_KEY, access_log=False))
    # raise_server_exceptions=False: a bug must show as the JSON 500 a client would see, which we assert never comes
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _pairs(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT product_a, product_b, n_ab, lift, shrunk_lift, confidence_ab, confidence_ba, "
                           "q_value FROM pair_stats").fetchall()


def _expected_partners(rows: list[tuple], product: str) -> list[dict]:
    """The stored pairs of ``product`` by shrunk lift (desc), then id: computed here from the table itself."""
    out = []
    for a, b, n, lift, shrunk, c_ab, c_ba, q in rows:
        if product in (a, b):
            partner, conf = (b, c_ab) if a == product else (a, c_ba)
            out.append({"product_id": partner, "n_together": n, "lift": lift, "score": shrunk, "probability": conf,
                        "q_value": q})
    return sorted(out, key=lambda r: (-r["score"], r["product_id"]))


def test_health_ready_and_versions(client: TestClient, shop: Shop) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200
    v = r.json()["versions"]
    assert v["artefacts"] == 1 and v["pair_model"] is None and v["events_writer"] is True
    with duckdb.connect(str(shop.db), read_only=True) as con:
        run_id, n = con.execute("SELECT max(run_id), (SELECT count(*) FROM pair_stats) FROM mining_runs "
                                "WHERE kind = 'pairs'").fetchall()[0]
    assert v["pair_stats"]["mining_run"] == run_id and v["pair_stats"]["pairs"] == n
    assert v["bundle_plan"]["bundles"] == len(json.loads(shop.plan.read_text(encoding="utf-8")))
    assert client.get("/openapi.json").json()["paths"]["/v1/events"]["post"]
    docs = client.get("/docs").text
    assert "/static/docs.js" in docs and "cdn" not in docs.lower()


def test_complements_are_the_stored_statistics(client: TestClient, shop: Shop) -> None:
    expected = _expected_partners(_pairs(shop.db), "tent")
    assert len(expected) >= 2
    r = client.get("/v1/products/tent/complements", params={"k": 10})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "co-purchase statistics" and body["title"] == "Tent"
    got = body["partners"]
    assert [p["product_id"] for p in got] == [e["product_id"] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["n_together"] == e["n_together"] and g["lift"] == pytest.approx(e["lift"])
        assert g["probability"] == pytest.approx(e["probability"]) and g["q_value"] == pytest.approx(e["q_value"])
        assert str(e["n_together"]) in g["why"]
    # k and exclude (repeated or comma-separated)
    first, second = expected[0]["product_id"], expected[1]["product_id"]
    r = client.get(f"/v1/products/tent/complements?k=1&exclude={first}")
    assert [p["product_id"] for p in r.json()["partners"]] == [second]
    r = client.get(f"/v1/products/tent/complements?exclude={first},{second}")
    assert {first, second}.isdisjoint(p["product_id"] for p in r.json()["partners"])


def test_complements_match_the_cli(client: TestClient, shop: Shop, tmp_path: Path) -> None:
    """``bundlewise complements`` without a pair model prints the same partners in the same order."""
    from typer.testing import CliRunner

    from bundlewise.cli.app import app

    result = CliRunner().invoke(app, ["--db", str(shop.db), "-q", "complements", "tent", "-k", "5", "--model",
                                      str(tmp_path / "no-model")])
    assert result.exit_code == 0, result.output
    assert "co-purchase statistics of mining run" in result.output
    api = client.get("/v1/products/tent/complements?k=5").json()["partners"]
    lines = [ln.split() for ln in result.output.splitlines()]
    lines = [ln for ln in lines if len(ln) > 4 and ln[0].isdigit()]  # table rows, not wrapped "why" text
    assert [ln[1] for ln in lines] == [p["product_id"] for p in api]
    assert [ln[3] for ln in lines] == [f"{p['probability']:.3f}" for p in api]


def test_unknown_and_invalid_requests_are_4xx_naming_the_field(client: TestClient) -> None:
    r = client.get("/v1/products/nope/complements")
    assert r.status_code == 404 and "'nope'" in r.json()["error"]
    r = client.get("/v1/products/tent/complements?k=0")
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "query.k" and "greater than or equal to 1" in r.json()["error"]
    r = client.get("/v1/products/tent/complements?k=abc")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "query.k"
    r = client.post("/v1/cart/recommendations", json={"items": [], "k": 3})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.items"
    r = client.post("/v1/cart/recommendations", json={"items": ["tent"], "colour": "red"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.colour"
    r = client.post("/v1/cart/recommendations", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]
    r = client.post("/v1/cart/recommendations", json={"items": ["tent"] * 101})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.items"
    assert client.get("/v1/bundles/none+such").status_code == 404
    assert client.get("/v1/products/nope").status_code == 404
    r = client.post("/v1/complements", json={"text": "a blue tent"})
    assert r.status_code == 409 and "bundlewise embed" in r.json()["error"]
    assert client.get("/no/such/path").status_code == 404


def test_cart_ranks_partners_by_expected_margin(client: TestClient, shop: Shop) -> None:
    rows = _pairs(shop.db)
    with duckdb.connect(str(shop.db), read_only=True) as con:
        catalog = {p: (price, cost) for p, price, cost in con.execute(
            "SELECT product_id, price, cost FROM products").fetchall()}
    cart = ["tent", "pegs"]
    r = client.post("/v1/cart/recommendations", json={"items": cart, "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    # the expectation from the table alone: P = 1 - prod(1 - conf) over the cart, times (price - cost)
    miss: dict[str, float] = {}
    for item in cart:
        for e in _expected_partners(rows, item)[:20]:
            if e["product_id"] not in cart:
                miss[e["product_id"]] = miss.get(e["product_id"], 1.0) * (1 - e["probability"])
    expect = {}
    for pid, m in miss.items():
        price, cost = catalog[pid]
        expect[pid] = (1 - m) * (price - cost if cost is not None else price * 0.3)
    ranked = sorted(expect, key=lambda p: (-expect[p], p))[:5]
    assert [x["product_id"] for x in body["recommendations"]] == ranked
    for x in body["recommendations"]:
        assert x["expected_margin"] == pytest.approx(expect[x["product_id"]])
        assert x["margin_source"] == ("cost" if catalog[x["product_id"]][1] is not None else "assumed")
    plan = json.loads(shop.plan.read_text(encoding="utf-8"))
    touching = {b["bundle_id"] for b in plan if set(b["products"]) & set(cart)}
    assert {o["bundle_id"] for o in body["offers"]} == touching
    for o in body["offers"]:
        assert set(o["missing"]) == set(o["products"]) - set(cart)
        assert o["saving"] == pytest.approx(round(o["regular_price"] - o["bundle_price"], 2))
    r = client.post("/v1/cart/recommendations", json={"items": ["tent", "ghost"], "k": 2})
    assert r.status_code == 200 and r.json()["unknown_items"] == ["ghost"]


def test_bundles_products_and_stats(client: TestClient, shop: Shop) -> None:
    plan = json.loads(shop.plan.read_text(encoding="utf-8"))
    body = client.get("/v1/bundles").json()
    assert [b["bundle_id"] for b in body["bundles"]] == [b["bundle_id"] for b in plan]
    first = plan[0]
    one = client.get(f"/v1/bundles/{first['bundle_id']}").json()
    assert one["bundle_price"] == pytest.approx(first["bundle_price"]) and one["products"] == first["products"]
    assert one["incremental_profit"] == pytest.approx(first["incremental_profit"])
    p = client.get(f"/v1/products/{first['products'][0]}").json()
    assert first["bundle_id"] in p["bundles"]
    found = client.get("/v1/products", params={"q": "TEN"}).json()["products"]
    assert [x["product_id"] for x in found] == ["tent"]
    stats = client.get("/v1/stats").json()
    assert stats["bundles"] == len(plan) and stats["products"] == 8 and stats["events_total"] == 0


def _event(i: int, **extra: object) -> dict:
    return {"event_id": f"e{i}", "ts": "2024-03-01T10:00:00+01:00", "event_type": "offer_impression",
            "product_id": "tent", "bundle_id": "pegs+tent", **extra}


def test_events_need_the_key_and_are_stored_once(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/v1/events", json=_event(1))
    assert r.status_code == 401 and "API key" in r.json()["error"]
    assert client.post("/v1/events", json=_event(1), headers={"X-API-Key": "wrong-key-000"}).status_code == 401
    r = client.post("/v1/events", json=_event(1, decision_id="d1"), headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 201 and r.json() == {"received": 1, "inserted": 1, "duplicates": [], "durable": True}
    r = client.post("/v1/events", json=_event(1), headers=KEY)
    assert r.status_code == 200 and r.json()["duplicates"] == ["e1"] and r.json()["inserted"] == 0
    batch = {"events": [_event(2), _event(3, event_type="purchase", value=12.5), _event(2), _event(1)]}
    r = client.post("/v1/events", json=batch, headers=KEY)
    assert r.status_code == 201 and r.json()["inserted"] == 2 and r.json()["duplicates"] == ["e2", "e1"]
    stats = client.get("/v1/stats").json()
    assert stats["events_total"] == 3 and stats["events_by_type"] == {"offer_impression": 2, "purchase": 1}
    db = Path(client.app.state.service.settings.db)
    rows = client.app.state.service._wh.con.execute(
        "SELECT event_id, ts, event_type, value, properties->>'decision_id', ingest_id FROM events ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == ["e1", "e2", "e3"] and str(rows[0][1]) == "2024-03-01 09:00:00"
    assert rows[0][4] == "d1" and rows[2][3] == 12.5 and len({r[5] for r in rows}) == 1
    log = client.app.state.service._wh.con.execute(
        "SELECT kind, rows_read, rows_accepted, rows_duplicate FROM ingest_log WHERE ingest_id = ?", [rows[0][5]]
    ).fetchall()
    assert log == [("events", 6, 3, 3)]
    assert db.exists()


def test_bad_events_name_the_field(client: TestClient) -> None:
    r = client.post("/v1/events", json={"event_id": "x", "ts": "yesterday", "event_type": "teleport"}, headers=KEY)
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert fields == {"body.ts", "body.event_type"}
    assert "offer_impression" in r.json()["error"]  # the allowed types are listed
    r = client.post("/v1/events", json={"events": [_event(1), _event(2, product_id="ghost")]}, headers=KEY)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.events[1].product_id"
    raw = json.dumps({"events": [_event(1, value=1.0)]}).replace("1.0", "Infinity").encode()
    r = client.post("/v1/events", content=raw, headers={**KEY, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body.events[0].value"
    r = client.post("/v1/events", json={"events": [_event(i) for i in range(1001)]}, headers=KEY)
    assert r.status_code == 413 or (r.status_code == 422 and r.json()["problems"][0]["field"] == "body.events")
    assert client.get("/v1/stats").json()["events_total"] == 0  # nothing of a refused request was stored


def test_body_limit_cors_and_admin(client: TestClient) -> None:
    big = b'{"items": ["' + b"x" * 1_100_000 + b'"]}'
    r = client.post("/v1/cart/recommendations", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "1,000,000 bytes" in r.json()["error"]
    r = client.get("/v1/bundles", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert client.post("/admin/reload").status_code == 401
    r = client.post("/admin/reload", headers=KEY)
    assert r.status_code == 200 and r.json()["versions"]["artefacts"] == 2
    assert client.get("/ready").json()["versions"]["artefacts"] == 2


def test_full_queue_answers_503_with_retry_after(client: TestClient) -> None:
    writer = client.app.state.service.writer
    writer._task.cancel()  # nobody drains the queue now
    filler = []
    try:
        while not writer.queue.full():
            filler.append(writer.queue.put_nowait(None))
        r = client.post("/v1/events", json=_event(9), headers=KEY)
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "waiting" in r.json()["error"]
    finally:
        while not writer.queue.empty():
            writer.queue.get_nowait()
            writer.queue.task_done()
    assert writer.stats.refused_full == 1


def test_keyed_reads(shop: Shop, tmp_path: Path) -> None:
    app = create_app(ServeSettings(db=str(shop.db), events=False, api_key=API_KEY, keyed_reads=True,
                                   access_log=False))
    with TestClient(app) as c:
        assert c.get("/v1/bundles").status_code == 401
        assert c.get("/v1/bundles", headers=KEY).status_code == 200
        assert c.get("/health").status_code == 200  # liveness stays open for the orchestrator
        assert c.post("/v1/events", json=_event(1), headers=KEY).status_code == 503  # read-only server


def test_loaded_artefacts_are_frozen_out_of_the_gc(shop: Shop, tmp_path: Path) -> None:
    """A full collection must not walk the artefacts on every pause (13-19 ms on Online Retail's)."""
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    app = create_app(ServeSettings(db=str(shop.copy(tmp_path)), events=False, access_log=False))
    with TestClient(app) as c:
        assert gc.get_freeze_count() > 0
        assert c.post("/admin/reload").status_code == 401  # no key: nothing reloaded, still frozen
        assert gc.get_freeze_count() > 0
