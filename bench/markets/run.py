"""Score ``bundlewise bundles`` on generated markets with known truth, with and without a cost column.

For every regime and seed: write the market's orders and products files, run the real CLI (``ingest
products``, ``ingest orders --preset online-retail``, ``mine``, ``bundles --max-discount 0.3 --max-bundles
10 --per-product 1``) once with the unit costs in the products file and once without, read the plans,
and score them under the hidden model against the clairvoyant portfolio and the naive "10 % off the
top-lift pairs".

    .venv/bin/python -m bench.markets.run --quick            # 2 regimes x 1 seed
    .venv/bin/python -m bench.markets.run --markets 5 --seeds 0 1

Reported per regime: regret (% of the clairvoyant's incremental profit), ratio to the naive baseline,
proposed discounts below/above the best discount of that bundle (points), bundles among truly related
products, and the CLI's own claim beside the truth of its plan.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.markets.cli import ROOT, proposed_rows, read_plan, run_cli
from bench.markets.generator import make_market, simulate_orders, write_market
from bench.markets.truth import Truth, naive_plan

ORDER = ("pairs-lognormal", "segments-mixed", "triples-gumbel", "weak-need", "substitutes")
QUICK = ("pairs-lognormal", "segments-mixed")


def pricing_fingerprint() -> str:
    """Hash of the pricing code's bytes (not read here): which version of it a run measured."""
    h = hashlib.sha1()
    for p in sorted((ROOT / "src" / "bundlewise" / "bundles").glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:10]


def score_plan(truth: Truth, market, plan, clair_value: float, naive_value: float) -> dict:
    value = truth.portfolio_value(plan)
    bundles, below, above, at, gaps = [], 0, 0, 0, []
    for members, d in plan:
        best_d, best_v = truth.best_discount(members)
        curve = truth.curve(members, np.array([d]))[0]
        gap = round((d - best_d) * 100, 1)
        if best_v <= 0:
            kind = "should not run"
        elif gap < -0.5:
            kind, below = "below", below + 1
        elif gap > 0.5:
            kind, above = "above", above + 1
        else:
            kind, at = "at", at + 1
        if best_v > 0:
            gaps.append(gap)
        bundles.append({"products": [market.ids[i] for i in members], "relation": market.relation(members),
                        "discount": d, "best_discount": best_d, "points_off_best": gap, "vs_best": kind,
                        "true_profit_per_1k": round(curve * 1000, 3), "best_profit_per_1k": round(best_v * 1000, 3)})
    rel = [b["relation"] for b in bundles]
    return {
        "value_per_1k": round(value * 1000, 3),
        "value_per_1k_buyers": round(value * 1000 / truth.buy_rate, 3),
        "regret_pct": round(100 * (clair_value - value) / clair_value, 2) if clair_value > 0 else None,
        "vs_naive": round(value / naive_value, 3) if naive_value > 0 else None,
        "n_bundles": len(plan), "below": below, "above": above, "at": at,
        "should_not_run": sum(b["vs_best"] == "should not run" for b in bundles),
        "mean_points_off": round(float(np.mean(gaps)), 1) if gaps else None,
        "mean_abs_points_off": round(float(np.mean(np.abs(gaps))), 1) if gaps else None,
        "related": rel.count("related"), "substitutes": rel.count("substitutes"), "unrelated": rel.count("unrelated"),
        "bundles": bundles,
    }


def run(regimes, seeds, workdir: Path, jobs: int, reuse: bool, shoppers: int, extra: tuple[str, ...],
        score_only: bool = False) -> list[dict]:
    tasks, markets = [], {}
    for r in regimes:
        for s in seeds:
            m = make_market(r, s)
            orders = simulate_orders(m)
            folder = workdir / f"{r}-s{s}"
            if (reuse or score_only) and (folder / "orders.csv").exists():  # never rewrite a file a CLI may read
                files = {k: folder / f"{k}.csv" for k in ("orders", "products", "products_nocost")}
            else:
                files = write_market(m, folder, orders)
            markets[(r, s)] = (m, orders, folder)
            for with_cost in (True, False):
                tasks.append((r, s, with_cost, files, folder / ("cost" if with_cost else "nocost")))
    fp = pricing_fingerprint()

    def go(task):
        r, s, with_cost, files, out = task
        if score_only:
            if not (out / "plan.csv").exists():
                return task, None
            return task, json.loads((out / "cli.json").read_text())
        t0 = time.perf_counter()
        res = run_cli(files, out, with_cost, extra, reuse=reuse)
        res.setdefault("pricing_fingerprint", fp)
        res.setdefault("finished_utc", time.strftime("%H:%M:%S", time.gmtime()))
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        (out / "cli.json").write_text(json.dumps(res, indent=1))
        print(f"  cli {r} seed {s} {'cost' if with_cost else 'no cost'}: {res['steps']} ok={res['ok']}",
              file=sys.stderr, flush=True)
        return task, res

    results = []
    with ThreadPoolExecutor(max(jobs, 1)) as pool:
        futures = {(t[0], t[1], t[2]): pool.submit(go, t) for t in tasks}
        for (r, s), (m, orders, folder) in markets.items():
            t0 = time.perf_counter()
            truth = Truth(m, shoppers=shoppers)
            clair = truth.clairvoyant()
            naive = naive_plan(orders, m.ids)
            naive_value = truth.portfolio_value(naive)
            t_truth = time.perf_counter() - t0
            row = {"regime": r, "seed": s, "products": m.n, "invoices": int(orders["InvoiceNo"].nunique()),
                   "buy_rate": round(truth.buy_rate, 4),
                   "truth_s": round(t_truth, 1), "clairvoyant_per_1k": round(clair["value"] * 1000, 3),
                   "clairvoyant": [{"products": [m.ids[i] for i in b], "relation": m.relation(b), "discount": d}
                                   for b, d in clair["plan"]],
                   "naive_per_1k": round(naive_value * 1000, 3),
                   "naive": score_plan(truth, m, naive, clair["value"], naive_value)}
            for with_cost in (True, False):
                _, res = futures[(r, s, with_cost)].result()
                key = "cost" if with_cost else "nocost"
                if res is None or not res.get("ok"):
                    row[key] = {"error": (res or {}).get("problems", "no plan")}
                    continue
                plan_path = folder / key / "plan.csv"
                plan = read_plan(plan_path, m.ids)
                sc = score_plan(truth, m, plan, clair["value"], naive_value)
                sc["cli"] = {k: res.get(k) for k in ("steps", "pricing_fingerprint", "finished_utc", "problems")}
                # the plan speaks per 1,000 shoppers *who bought something* (baskets); the truth per 1,000 visits
                sc["cli_claim_per_1k_baskets"] = _claim(plan_path)
                sc["cli_claim_per_1k"] = (None if sc["cli_claim_per_1k_baskets"] is None
                                          else round(sc["cli_claim_per_1k_baskets"] * truth.buy_rate, 3))
                sc.update(_coverage(sc["bundles"], _bundle_claims(plan_path), truth.buy_rate))
                sc["deal_types"] = _deal_types(plan_path)  # 'multi-buy' (undocumented) is scored as a bundle
                row[key] = sc
            results.append(row)
            print(table([row]), file=sys.stderr, flush=True)
    return results


def _claim(path: Path):
    import pandas as pd

    df = pd.read_csv(path)
    return round(float(df["incremental_profit"].sum()), 3) if "incremental_profit" in df else None


def _bundle_claims(path: Path) -> list[tuple[float, float, float]]:
    """Per proposed bundle, in :func:`read_plan`'s order: the plan's claim and its interval (per 1,000 baskets)."""
    df = proposed_rows(path)
    cols = [c if c in df else None for c in ("incremental_profit", "profit_low", "profit_high")]
    return [tuple(float(r[c]) if c else float("nan") for c in cols) for _, r in df.iterrows()]


def _coverage(bundles: list[dict], claims: list[tuple[float, float, float]], buy_rate: float) -> dict:
    """Each bundle's claim and interval beside its truth (per 1,000 visits; each bundle offered alone), and
    the share of bundles whose truth lies inside the plan's interval."""
    inside = []
    for b, (point, low, high) in zip(bundles, claims, strict=True):
        b["claim_per_1k"], b["claim_low"], b["claim_high"] = (round(x * buy_rate, 3) for x in (point, low, high))
        if np.isfinite(low) and np.isfinite(high):
            b["covered"] = bool(b["claim_low"] <= b["true_profit_per_1k"] <= b["claim_high"])
            inside.append(b["covered"])
    return {"interval_coverage": round(float(np.mean(inside)), 3) if inside else None,
            "intervals": len(inside)}


def _deal_types(path: Path) -> dict:
    import pandas as pd

    df = pd.read_csv(path)
    return df["deal_type"].value_counts().to_dict() if "deal_type" in df else {}


COLUMNS = (("regime", 16, "<"), ("seed", 4, ">"), ("plan", 7, ">"), ("clair/1k", 9, ">"), ("plan/1k", 9, ">"),
           ("/1kbuy", 8, ">"), ("claim", 8, ">"), ("regret%", 8, ">"), ("naive/1k", 9, ">"), ("xnaive", 7, ">"),
           ("n", 3, ">"), ("<best", 6, ">"), (">best", 6, ">"), ("=", 3, ">"), ("no", 3, ">"), ("|pts|", 6, ">"),
           ("rel/sub/unr", 12, ">"))


def _fmt(x, spec: str = ".2f") -> str:
    return "—" if x is None else (format(x, spec) if isinstance(x, float) else str(x))


def table(results: list[dict]) -> str:
    """One line per regime x seed x plan (CLI with costs, CLI without, naive)."""
    def line(cells) -> str:
        return "".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, COLUMNS, strict=True))

    lines = [line([c[0] for c in COLUMNS])]
    lines.append("-" * len(lines[0]))
    for row in results:
        for key in ("cost", "nocost", "naive"):
            sc = row.get(key) or {"error": "missing"}
            head = [row["regime"], row["seed"], key, _fmt(row["clairvoyant_per_1k"])]
            if "error" in sc:
                lines.append(line(head + ["CLI failed"] + [""] * (len(COLUMNS) - 5)))
                continue
            claim = None if key == "naive" else sc.get("cli_claim_per_1k")
            lines.append(line(head + [
                _fmt(sc["value_per_1k"]), _fmt(sc["value_per_1k_buyers"], ".1f"), _fmt(claim, ".1f"),
                _fmt(sc["regret_pct"], ".1f"), _fmt(row["naive_per_1k"]), _fmt(sc["vs_naive"]), sc["n_bundles"],
                sc["below"], sc["above"], sc["at"], sc["should_not_run"], _fmt(sc["mean_abs_points_off"], ".1f"),
                f"{sc['related']}/{sc['substitutes']}/{sc['unrelated']}",
            ]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.markets.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--markets", type=int, default=len(ORDER), help="how many regimes (in the order of ORDER)")
    ap.add_argument("--regimes", nargs="*", help="regime names instead of --markets")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--quick", action="store_true", help="2 regimes x 1 seed, smaller truth sample")
    ap.add_argument("--jobs", type=int, default=4, help="CLI pipelines run side by side (2 per market)")
    ap.add_argument("--workdir", type=Path, help="keep the files here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="keep plans already in --workdir (no CLI run)")
    ap.add_argument("--score-only", action="store_true", help="score plans in --workdir; run no CLI")
    ap.add_argument("--shoppers", type=int, default=150_000, help="Monte Carlo shoppers of the truth")
    ap.add_argument("--cli-arg", action="append", default=[], help="extra argument for 'bundlewise bundles'")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "markets" / "results.json")
    a = ap.parse_args(argv)
    regimes = a.regimes or (list(QUICK) if a.quick else list(ORDER[: a.markets]))
    seeds = [a.seeds[0]] if a.quick else a.seeds
    shoppers = min(a.shoppers, 80_000) if a.quick else a.shoppers
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bw-markets-") as tmp:
        workdir = a.workdir or Path(tmp)
        results = run(regimes, seeds, workdir, a.jobs, a.reuse, shoppers, tuple(a.cli_arg), a.score_only)
    wall = time.perf_counter() - t0
    print(table(results))
    print(f"\n{len(results)} market(s) in {wall:.0f} s; per 1k = incremental profit per 1,000 shoppers (visits)")
    a.output.write_text(json.dumps({"regimes": regimes, "seeds": seeds, "shoppers": shoppers, "wall_s": round(wall, 1),
                                    "cli_bundle_args": ["--max-discount", "0.3", "--max-bundles", "10",
                                                        "--per-product", "1", *a.cli_arg],
                                    "results": results}, indent=1))
    print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
