"""Offers that learn, live: the shop simulator's shoppers against a real ``bundlewise serve`` over loopback.

Run: ``.venv/bin/python bench/bench_offers_live.py [--rounds 6000] [--rate 60] [--policy epsilon-greedy]
[--queued]``; ``--latency`` instead measures ``/v1/offers/select`` at 300 req/s with ``hey`` (as
``bench/bench_serve.py`` does), durable and queued, beside the cart endpoint on the same server.

A warehouse holding the simulator's catalogue (its bundles as a plan file at the simulator's
discount levels, its complements mined from generated orders) is built in a temporary folder and
``bundlewise serve`` starts on a free port of 127.0.0.1. Time is scaled so the run stays short:
shoppers arrive ``--rate`` per second of wall clock, purchase delays and the reward window shrink
by the same factor (mean delay 150 s and window 600 s of the simulator's defaults become
``150 / (2 * rate)`` and ``600 / (2 * rate)`` seconds), so the service learns on its own clock.

Each shopper: ``POST /v1/offers/select`` with its context; the simulator answers with the purchase
lines that follow the chosen offer (hidden model, common random numbers), which are posted to
``POST /v1/events`` with the ``decision_id`` when they fall due (a click first for an offer bought).
At the end: margin per impression of the live learner against the best fixed offer (hindsight,
same shoppers) and no offers, as the simulator counts it and as the warehouse's joined log counts
it; every stored decision's propensity in (0, 1]; and off-policy estimates (SNIPS, IPS, DR from
:mod:`bundlewise.offers.ope`) computed from the stored log for two deterministic targets (the best
fixed offer, no offers) against the simulator's truth. Bounded: ``--rounds`` shoppers, at most
``--max-seconds``. Results: a markdown table on stdout and ``bench/results/offers_live.json``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file (bench/bench_offers_live.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
KEY = "bench-key-0123456789abcdef"


def sim_offer_map(sim: Any) -> dict[str, str]:
    """Service offer id -> simulator offer id (``bundle:bbq@0.10`` -> ``bundle:bbq@10``)."""
    out = {"none": "none"}
    for row in sim.offers_.itertuples(index=False):
        if row.kind == "bundle":
            out[f"bundle:{row.bundle}@{row.discount:.2f}"] = row.offer_id
        elif row.kind == "complement":
            out[f"complement:{row.products[0]}"] = row.offer_id
    return out


def build_shop(folder: Path, seed: int) -> tuple[Path, Path, list[float]]:
    """The simulator's catalogue as a warehouse and a plan file; (warehouse, plan, discount levels)."""
    import pandas as pd

    from bundlewise.config import IngestConfig, MiningConfig
    from bundlewise.ingest import Warehouse, ingest_file
    from bundlewise.mining.jobs import mine
    from bundlewise.offers.shopsim import BUNDLES, CART_ITEMS, COMPLEMENTS, DISCOUNTS

    products = []
    for name, (items, price, cost) in BUNDLES.items():  # a bundle's price and cost split evenly, as the sim does
        products += [{"product_id": p, "title": p.title(), "category_path": name, "price": price / len(items),
                      "cost": cost / len(items), "stock": 1000} for p in items]
    for _, (items, price, cost) in COMPLEMENTS.items():
        products.append({"product_id": items[0], "title": items[0].title(), "category_path": "extras",
                         "price": price, "cost": cost, "stock": 1000})
    products += [{"product_id": p, "title": p.title(), "category_path": "cart", "price": 10.0, "cost": 5.0,
                  "stock": 1000} for p in CART_ITEMS]
    # the organic purchase: margin m on a line of value 2m, as m units costing 1.00 (its properties say quantity)
    products.append({"product_id": "organic", "title": "Something else", "category_path": "other", "price": 1.0,
                     "cost": 1.0, "stock": None})
    pd.DataFrame(products).to_csv(folder / "products.csv", index=False)
    rows, order = [], 0
    baskets = [list(b[0]) for b in BUNDLES.values()] + [[c, x[0][0]] for c in CART_ITEMS for x in COMPLEMENTS.values()]
    for basket in baskets:  # the complements of every cart item: the simulator's two extras, nothing else
        for _ in range(30):
            rows += [{"order_id": f"o{order}", "product_id": p, "quantity": 1, "unit_price": 1.0,
                      "ordered_at": "2026-01-05 10:00:00"} for p in basket]
            order += 1
    pd.DataFrame(rows).to_csv(folder / "orders.csv", index=False)
    db = folder / "shop.duckdb"
    with Warehouse(db) as wh:
        with wh.transaction():
            ingest_file(wh, folder / "products.csv", IngestConfig(kind="products"))
            ingest_file(wh, folder / "orders.csv", IngestConfig(kind="orders"))
        mine(wh, MiningConfig(min_count=5))
    plan = [{"bundle_id": name, "products": list(items), "titles": [p.title() for p in items],
             "regular_price": price, "discount": DISCOUNTS[1], "bundle_price": round(price * (1 - DISCOUNTS[1]), 2),
             "explanation": f"the simulator's {name} bundle"} for name, (items, price, _) in BUNDLES.items()]
    (folder / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return db, folder / "plan.json", list(DISCOUNTS)


def start_server(db: Path, plan: Path, env_extra: dict[str, str], log: Path,
                 pin: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUNDLEWISE_SERVE_")}
    env.update(env_extra)
    cmd = [*(pin or []), sys.executable, "-m", "bundlewise.cli.app", "-q", "--db", str(db), "serve",
           "--port", str(port),
           "--plan", str(plan), "--api-key", KEY, "--no-access-log"]
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server was not ready in 90 s:\n{log.read_text()}")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None).isoformat()


def drive(url: str, sim: Any, to_sim: dict[str, str], max_seconds: float) -> dict[str, Any]:
    """Every shopper in real time: select, then its purchase lines posted when due."""
    import httpx

    n = sim.n_impressions
    ctxs = sim.contexts()
    chosen = np.full(n, -1, dtype=np.int64)
    pos = {o: k for k, o in enumerate(sim.offer_ids_)}
    due: list[tuple[float, int, dict[str, Any]]] = []
    latencies, unknown, errors, posted, seq = [], set(), 0, 0, 0
    client = httpx.Client(base_url=url, timeout=10, headers={"X-API-Key": KEY})

    def flush(now: float) -> None:
        nonlocal errors, posted
        batch = []
        while due and due[0][0] <= now:
            batch.append(heapq.heappop(due)[2])
        if batch:
            r = client.post("/v1/events", json={"events": batch})
            errors += r.status_code not in (200, 201)
            posted += len(batch)

    t0 = time.time()
    for i, ctx in enumerate(ctxs):
        now = time.time()
        if now - t0 > max_seconds:
            break
        flush(now)
        wait = t0 + ctx["time"] - now
        if wait > 0:
            time.sleep(wait)
        body = {"context": {"placement": ctx["placement"], "segment": ctx["segment"], "items": list(ctx["cart_items"]),
                            "session_id": f"shopper-{i}"}, "k": 1}
        t1 = time.perf_counter()
        r = client.post("/v1/offers/select", json=body)
        latencies.append(time.perf_counter() - t1)
        if r.status_code != 200:
            errors += 1
            continue
        decided = time.time()
        offer = r.json()["offers"][0]
        sim_offer = to_sim.get(offer["offer_id"])
        if sim_offer is None:
            unknown.add(offer["offer_id"])
            sim_offer = "none"
        chosen[i] = pos[sim_offer]
        lines = sim.respond(i, sim_offer)
        clicked = False
        for e in lines:
            at = decided + (e["time"] - ctx["time"])
            ev = {"event_type": "purchase", "ts": _iso(at), "session_id": f"shopper-{i}",
                  "product_id": e["product_id"], "value": e["price_paid"], "decision_id": offer["decision_id"],
                  "properties": {"discount": e["discount"]} if e["product_id"] != "organic" else
                  {"quantity": e["unit_cost"], "discount": e["discount"]}}
            if e["product_id"] != "organic" and not clicked:  # the offer was bought: it was clicked first
                clicked = True
                seq += 1
                click = {"event_id": f"c{i}", "event_type": "click", "ts": _iso(at - 1e-3),
                         "session_id": f"shopper-{i}", "decision_id": offer["decision_id"]}
                heapq.heappush(due, (at - 1e-3, seq, click))
            seq += 1
            ev["event_id"] = f"p{i}-{seq}"
            heapq.heappush(due, (at, seq, ev))
    rounds = int((chosen >= 0).sum())
    while due:
        time.sleep(max(0.0, min(0.05, due[0][0] - time.time())))
        flush(time.time())
    seconds = time.time() - t0
    client.close()
    lat = np.array(latencies) * 1000
    return {"chosen": chosen, "rounds": rounds, "seconds": seconds, "errors": errors, "events_posted": posted,
            "unknown_offers": sorted(unknown), "select_p50_ms": float(np.percentile(lat, 50)),
            "select_p99_ms": float(np.percentile(lat, 99))}


def stored_log(db: Path, window_s: float) -> Any:
    """The warehouse's decisions with their rewards (the service's own join; offers.logs when present)."""
    import duckdb
    import pandas as pd

    from bundlewise.serve.offers_learn import JOINED_COLUMNS, joined_log

    with duckdb.connect(str(db), read_only=True) as con:
        frame = pd.DataFrame(joined_log(con, window_s), columns=list(JOINED_COLUMNS))
        extra = con.execute("SELECT decision_id, placement, propensity, probabilities FROM offer_decisions").df()
    frame = frame.merge(extra[["decision_id", "placement"]], on="decision_id")
    try:  # the offers helper's reader, when it is in the tree: both joins must agree
        from bundlewise.offers.logs import read_decision_log  # type: ignore[import-not-found]

        other = read_decision_log(str(db), window_s=window_s).set_index("decision_id")["reward"]
        frame["reward_logs_reader"] = frame["decision_id"].map(other)
    except ImportError:
        pass
    frame["shopper"] = frame["session_id"].str.removeprefix("shopper-").astype(int)
    frame["segment"] = [json.loads(c).get("segment") for c in frame["context"]]
    return frame


def ope_rows(log: Any, sim: Any, to_sim: dict[str, str], truth: np.ndarray, target_sim: str) -> list[dict]:
    from bundlewise.offers import ope

    pos = {o: k for k, o in enumerate(sim.offer_ids_)}
    k = len(pos)
    action = np.array([pos[to_sim.get(o, "none")] for o in log["offer_id"]])
    shoppers = log["shopper"].to_numpy()
    elig = sim.eligible_matrix()[shoppers]
    target = np.where(elig[:, pos[target_sim]], pos[target_sim], pos["none"])
    dist = np.zeros((len(log), k))
    dist[np.arange(len(log)), target] = 1.0
    keys = list(zip(log["placement"], log["segment"], strict=True))
    reward = log["reward"].to_numpy(dtype=float)
    table, _ = ope.tabular_reward_model(keys, action, reward, k)
    q = ope.predict_tabular(table, keys, k)
    value = float(truth[shoppers, target].mean())
    out = []
    for name, est in (("snips", ope.snips(reward, action, log["propensity"], dist)),
                      ("ips", ope.ips(reward, action, log["propensity"], dist)),
                      ("dr", ope.dr(reward, action, log["propensity"], dist, q))):
        out.append({"target": target_sim, "estimator": name, "estimate": float(est), "truth": value,
                    "rel_error": abs(float(est) - value) / abs(value)})
    return out


def latency(seconds: float, rate: float, seed: int) -> int:
    """``/v1/offers/select`` at a fixed rate (hey, as bench_serve.py), durable and queued, beside the cart endpoint."""
    from bench._serve_native import available, hey_rate
    from bundlewise.offers.shopsim import OfferShopSimulator

    if not available()["hey"]:
        raise SystemExit("the latency phase needs Debian's hey (apt-get install hey), as bench/bench_serve.py")
    sim = OfferShopSimulator(n_impressions=40, random_state=seed)
    bodies = [json.dumps({"context": {"placement": c["placement"], "segment": c["segment"],
                                      "items": list(c["cart_items"]), "session_id": f"s{i}"}, "k": 1})
              for i, c in enumerate(sim.contexts()[:20])]
    carts = [json.dumps({"items": list(c["cart_items"]) or ["shirt"], "k": 5}) for c in sim.contexts()[:20]]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bw_offers_lat_") as tmp:
        db, plan, levels = build_shop(Path(tmp), seed)
        pin = ["taskset", "-c", "0"] if available()["taskset"] and (os.cpu_count() or 1) >= 2 else []
        phases = {("1", "1"): "durable: after the journal's fsync, default",
                  ("1", "0"): "durable: after a DuckDB commit, no journal", ("0", "1"): "queued"}
        for (durable, journal), label in phases.items():
            env = {"BUNDLEWISE_SERVE_OFFERS_DISCOUNTS": ",".join(f"{d:.2f}" for d in levels),
                   "BUNDLEWISE_SERVE_OFFERS_DURABLE": durable, "BUNDLEWISE_SERVE_OFFERS_JOURNAL": journal}
            proc, url = start_server(db, plan, env, Path(tmp) / "server.log", pin)
            try:
                for _ in range(100):  # warm-up: connections, caches
                    import httpx

                    httpx.post(url + "/v1/offers/select", content=bodies[0], timeout=10,
                               headers={"content-type": "application/json"})
                cpu = "1" if pin else None
                r = hey_rate(url, [("POST", "/v1/offers/select", b) for b in bodies], rate, seconds, KEY, cpu=cpu)
                rows.append((f"POST /v1/offers/select ({label})", r))
                if (durable, journal) == ("1", "1"):
                    r = hey_rate(url, [("POST", "/v1/cart/recommendations", b) for b in carts], rate, seconds, KEY,
                                 cpu=cpu)
                    rows.append(("POST /v1/cart/recommendations (peer, no write)", r))
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"\n## /v1/offers/select latency, {rate:.0f} req/s for {seconds:.0f} s (hey; server on CPU 0)\n")
    print("| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, r in rows:
        print(f"| {name} | {r['requests']:,} | {r['per_second']:.0f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['errors'] or 0} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "offers_latency.json").write_text(json.dumps({n: r for n, r in rows}, indent=2), encoding="utf-8")
    return 0 if all(not r["errors"] for _, r in rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6_000, help="shoppers (at most 20,000)")
    ap.add_argument("--rate", type=float, default=60.0, help="shoppers per second of wall clock")
    ap.add_argument("--policy", default="epsilon-greedy")
    ap.add_argument("--epsilon", type=float, default=0.1)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queued", action="store_true", help="serve with offers_durable off (answer once queued)")
    ap.add_argument("--latency", action="store_true", help="instead: select's latency at --latency-rate (hey)")
    ap.add_argument("--latency-rate", type=float, default=300.0)
    ap.add_argument("--latency-seconds", type=float, default=20.0, help="per phase, at most 30")
    args = ap.parse_args()
    if args.latency:
        return latency(min(args.latency_seconds, 30.0), args.latency_rate, args.seed)
    rounds = min(args.rounds, 20_000)
    from bundlewise.offers.shopsim import OfferShopSimulator

    scale = 1.0 / (2.0 * args.rate)  # the simulator's 2 s between shoppers becomes 1 / rate
    window = 600.0 * scale
    sim = OfferShopSimulator(n_impressions=rounds, arrival_gap_s=2.0 * scale, mean_delay_s=150.0 * scale,
                             random_state=args.seed)
    to_sim = sim_offer_map(sim)
    with tempfile.TemporaryDirectory(prefix="bw_offers_live_") as tmp:
        folder = Path(tmp)
        db, plan, levels = build_shop(folder, args.seed)
        interval = max(window / 10, 0.05)
        env = {"BUNDLEWISE_SERVE_OFFERS_POLICY": args.policy, "BUNDLEWISE_SERVE_OFFERS_EPSILON": str(args.epsilon),
               "BUNDLEWISE_SERVE_REWARD_WINDOW_S": f"{window:.6f}",
               "BUNDLEWISE_SERVE_OFFERS_LEARN_INTERVAL_S": f"{interval:.6f}",
               "BUNDLEWISE_SERVE_OFFERS_DISCOUNTS": ",".join(f"{d:.2f}" for d in levels),
               "BUNDLEWISE_SERVE_OFFERS_SEED": str(args.seed),
               "BUNDLEWISE_SERVE_OFFERS_DURABLE": "0" if args.queued else "1"}
        proc, url = start_server(db, plan, env, folder / "server.log")
        try:
            run = drive(url, sim, to_sim, args.max_seconds)
            time.sleep(window + 3 * interval)  # the last windows close
            import httpx

            stats = httpx.get(url + "/v1/offers/stats", timeout=10).json()
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        log = stored_log(db, window)
    n = run["rounds"]
    served = run["chosen"][:n]
    truth = sim.expected_margin_matrix(window)[:n]
    # the baselines over the same (first n) shoppers
    elig = sim.eligible_matrix()[:n]
    none = sim.offer_ids_.index("none")
    base = {}
    for k, oid in enumerate(sim.offer_ids_):
        idx = np.where(elig[:, k], k, none)
        full = np.full(sim.n_impressions, none)
        full[:n] = idx
        base[oid] = (float(sim.realised_margin(full, window)[:n].mean()), float(truth[np.arange(n), idx].mean()))
    best = max(base, key=lambda o: base[o][0])
    full = np.full(sim.n_impressions, none)
    full[:n] = served
    live_sim = float(sim.realised_margin(full, window)[:n].mean())
    live_expected = float(truth[np.arange(n), served].mean())
    live_stored = float(log["reward"].mean())
    bad = int((~((log["propensity"] > 0) & (log["propensity"] <= 1))).sum() + log["propensity"].isna().sum())
    ope_table = ope_rows(log, sim, to_sim, sim.expected_margin_matrix(window), best) + \
        ope_rows(log, sim, to_sim, sim.expected_margin_matrix(window), "none")
    rows = [("live learner (" + args.policy + ")", live_sim, live_expected),
            (f"best fixed offer, hindsight ({best})", *base[best]), ("no offers", *base["none"])]
    print(f"\n## Offers, live service on 127.0.0.1 ({n:,} shoppers in {run['seconds']:.1f} s, policy {args.policy}, "
          f"window {window:.2f} s)\n")
    print("| policy | margin/impression (sim) | expected (hidden truth) | vs best fixed | vs no offers |")
    print("|---|---:|---:|---:|---:|")
    for name, real, exp in rows:
        print(f"| {name} | {real:.4f} | {exp:.4f} | {real / base[best][0]:.3f} | {real / base['none'][0]:.3f} |")
    print(f"\nwarehouse joined log: {len(log):,} decisions, margin/impression {live_stored:.4f} "
          f"(simulator's count {live_sim:.4f}); propensities outside (0, 1]: {bad}; "
          f"min propensity {log['propensity'].min():.4g}")
    if "reward_logs_reader" in log:
        agree = np.isclose(log["reward"], log["reward_logs_reader"]).mean()
        print(f"offers.logs.read_decision_log agrees on {agree:.1%} of the rewards")
    print(f"service: policy version {stats['policy_version']}, {stats['updates']:,} rewards learned, exploration "
          f"share {stats['exploration_share']:.3f}; select p50 {run['select_p50_ms']:.2f} ms, p99 "
          f"{run['select_p99_ms']:.2f} ms (client-side, loaded); events posted {run['events_posted']:,}; "
          f"errors {run['errors']}; offers unknown to the simulator {run['unknown_offers']}")
    print("\n| OPE target | estimator | estimate | truth | relative error |\n|---|---|---:|---:|---:|")
    for r in ope_table:
        print(f"| {r['target']} | {r['estimator']} | {r['estimate']:.4f} | {r['truth']:.4f} | {r['rel_error']:.1%} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"rounds": n, "seconds": run["seconds"], "policy": args.policy, "window_s": window,
           "margins": {name: {"realised": real, "expected": exp} for name, real, exp in rows},
           "stored_margin_per_impression": live_stored, "bad_propensities": bad, "ope": ope_table,
           "select_p50_ms": run["select_p50_ms"], "select_p99_ms": run["select_p99_ms"], "errors": run["errors"],
           "unknown_offers": run["unknown_offers"], "policy_version": stats["policy_version"]}
    (RESULTS / "offers_live.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0 if bad == 0 and run["errors"] == 0 and not run["unknown_offers"] else 1


if __name__ == "__main__":
    sys.exit(main())
