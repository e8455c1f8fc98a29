"""A real uvicorn process on 127.0.0.1: kill -9 loses nothing acknowledged, SIGTERM flushes, reload under load."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.serve.conftest import API_KEY, Shop

pytestmark = pytest.mark.slow
KEY = {"X-API-Key": API_KEY}


def _events(start: int, n: int) -> list[dict]:
    return [{"event_id": f"ev-{i}", "ts": "2024-03-02T12:00:00", "event_type": "click", "product_id": "tent"}
            for i in range(start, start + n)]


def _stored(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT event_id FROM events").fetchall()}


def test_kill_9_loses_nothing_acknowledged(shop: Shop, tmp_path: Path, live) -> None:
    db = shop.copy(tmp_path)
    server = live(db, "--api-key", API_KEY, "--no-access-log")
    acked: set[str] = set()
    sent: set[str] = set()
    errors: list[str] = []
    stop = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=KEY, timeout=5.0) as c:
            for b in range(200):  # bounded: 200 requests of 10 events per sender at most
                if stop.is_set():
                    return
                batch = _events(worker * 100_000 + b * 10, 10)
                sent.update(e["event_id"] for e in batch)
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the server died under us: this batch is not acknowledged
                if r.status_code in (200, 201):
                    acked.update(e["event_id"] for e in batch)
                else:
                    errors.append(f"{r.status_code} {r.text}")

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill9()  # mid-stream: the senders are still sending
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert not errors, errors[:3]
    assert len(acked) >= 300, "too few events acknowledged before the kill"
    stored = _stored(db)
    assert acked <= stored, f"{len(acked - stored)} acknowledged events lost"
    assert stored <= sent
    # restarted, the server counts exactly what is stored, and a resend of everything is a no-op
    again = live(db, "--api-key", API_KEY, "--no-access-log")
    assert httpx.get(again.url + "/v1/stats").json()["events_total"] == len(stored)
    ids = sorted(acked)[:500]
    r = httpx.post(again.url + "/v1/events", headers=KEY,
                   json={"events": [{"event_id": i, "ts": "2024-03-02T12:00:00", "event_type": "click"} for i in ids]})
    assert r.status_code == 200 and r.json()["inserted"] == 0 and len(r.json()["duplicates"]) == len(ids)


def test_sigterm_flushes_every_acknowledged_event(shop: Shop, tmp_path: Path, live) -> None:
    db = shop.copy(tmp_path)
    server = live(db, "--api-key", API_KEY, "--no-access-log")
    answers: list[httpx.Response | Exception] = []

    async def send() -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=KEY, timeout=20.0) as c:
            async def one(i: int) -> None:
                try:
                    answers.append(await c.post("/v1/events", json={"events": _events(i * 50, 50)}))
                except httpx.HTTPError as exc:
                    answers.append(exc)

            tasks = [asyncio.create_task(one(i)) for i in range(40)]
            while not answers:
                await asyncio.sleep(0.005)
            server.proc.send_signal(15)  # SIGTERM while requests are in flight
            await asyncio.gather(*tasks)

    asyncio.run(send())
    code = server.proc.wait(timeout=30)
    assert code in (0, -15), server.log()  # uvicorn re-raises the signal after its graceful shutdown
    assert "Application shutdown complete" in server.log()
    acked = {x["event_id"] for r in answers if isinstance(r, httpx.Response) and r.status_code in (200, 201)
             for x in _ids(r)}
    assert acked, "no request was answered before the shutdown"
    stored = _stored(db)
    assert acked <= stored
    # whatever was committed is counted in the run's ingest_log row as well
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT rows_accepted FROM ingest_log WHERE kind = 'events'").fetchall() == [
            (len(stored),)]


def _ids(r: httpx.Response) -> list[dict]:
    """The events a request sent (read back from the request itself)."""
    return json.loads(r.request.content)["events"]


def test_reload_under_load_fails_no_request(shop: Shop, tmp_path: Path, live) -> None:
    db = shop.copy(tmp_path)
    server = live(db, "--api-key", API_KEY, "--plan", str(shop.plan), "--no-access-log")
    versions: set[int] = set()

    async def load() -> tuple[int, list[str]]:
        failures: list[str] = []
        done = 0
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as c:
            stop = asyncio.Event()

            async def reader() -> None:
                nonlocal done
                paths = ["/v1/products/tent/complements?k=3", "/v1/bundles", "/ready"]
                i = 0
                while not stop.is_set() and i < 2000:  # bounded
                    r = await c.get(paths[i % 3])
                    i += 1
                    done += 1
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    elif "artefacts_version" in r.json():
                        versions.add(r.json()["artefacts_version"])

            readers = [asyncio.create_task(reader()) for _ in range(8)]
            for _ in range(5):
                r = await c.post("/admin/reload", headers=KEY)
                if r.status_code != 200:
                    failures.append(f"reload {r.status_code} {r.text[:200]}")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            stop.set()
            await asyncio.gather(*readers)
        return done, failures

    done, failures = asyncio.run(load())
    assert failures == []
    assert done > 100
    assert httpx.get(server.url + "/ready").json()["versions"]["artefacts"] == 6
    assert len(versions) >= 2  # requests were answered by more than one version during the run
    assert "Traceback" not in server.log()
