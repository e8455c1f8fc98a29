"""Where the demand model's profit curves part from the truth: every pair of a generated market, side by side.

The scoring run (``bench.markets.run``) says *that* a plan loses; this says *why*. It fits the demand
model as ``bundlewise bundles`` does (same warehouse, same pipeline up to the demand model), then, for every
pair of products bought together at least ``--min-count`` times, compares the model's incremental profit
curve over discounts 0–30 % with the hidden model's, per 1,000 shopper visits. Ablations refit with other
values of what the data cannot identify (the in-market conversion ``q`` at the list price); ``--oracle`` hands
the model parts of the hidden truth, one more at a time, to tell parameter noise from the model's form.

    .venv/bin/python -m bench.markets.diagnose --regime segments-mixed --seed 0
    .venv/bin/python -m bench.markets.diagnose --regime pairs-lognormal --conversion 0.2 0.5 0.8
    .venv/bin/python -m bench.markets.diagnose --regime pairs-lognormal --oracle conversion elasticity rho response

Reported per variant: over pairs, how often the model's best discount is deeper / shallower than the true
best, the mean gap in points, the true profit of the model's choice against the true best (sum over
pairs: the regret of pricing every pair alone), and how far the model's claim at its choice is from the
truth there.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.markets.cli import run_cli
from bench.markets.generator import (
    group_surplus,
    make_market,
    sample_group,
    sample_segments,
    simulate_orders,
    subset_masks,
    write_market,
)
from bench.markets.truth import GRID, Truth


def fit_demand(db: Path, conversion: float, with_cost: bool, partners: bool = True, **model_kw):
    """The demand model and catalogue exactly as ``plan_bundles`` builds them (defaults of the CLI)."""
    from bundlewise.bundles.demand import BundleDemandModel
    from bundlewise.bundles.elasticity import estimate_elasticities, price_panel_from_warehouse
    from bundlewise.bundles.jobs import (
        BundlePlanConfig,
        _chain_prices,
        _complete,
        _pool_sparse_stores,
        _with_prices,
        partner_price_control,
    )
    from bundlewise.bundles.margins import fill_costs
    from bundlewise.ingest.catalog import load_catalog
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.mining.copurchase import CoPurchaseStats
    from bundlewise.mining.source import BasketQuery, load_baskets

    cfg = BundlePlanConfig()
    with Warehouse(db, read_only=True) as wh:
        baskets = load_baskets(wh, BasketQuery())
        catalog = _with_prices(wh, load_catalog(wh))
        stats = CoPurchaseStats(min_count=cfg.min_count, metric=cfg.metric).fit(baskets)
        pair_stats = stats.pair_stats()
        products = sorted(catalog["product_id"].astype(str))
        panel = price_panel_from_warehouse(wh, cfg.period)
    pooled, controls = partner_price_control(_pool_sparse_stores(panel), pair_stats) if partners else \
        (_pool_sparse_stores(panel), ())
    el = estimate_elasticities(pooled, prior_mean=cfg.prior_mean, prior_sd=cfg.prior_sd, controls=controls)
    el = _complete(el, products, catalog, cfg)
    demand = BundleDemandModel(n_draws=cfg.n_draws, n_boot=0, random_state=cfg.random_state,
                               prior_elasticity=cfg.prior_mean, prior_elasticity_sd=cfg.prior_sd,
                               conversion=conversion, **model_kw)
    demand.fit(baskets, catalog, el, pair_stats, prices=_chain_prices(panel))
    if not with_cost:
        catalog = fill_costs(catalog, demand.params_, assumed_margin_rate=cfg.pricing.assumed_margin_rate)
    return demand, catalog, pair_stats, baskets.n_baskets


def compare(truth: Truth, market, demand, catalog: pd.DataFrame, pairs: list[tuple[int, int]], buy_rate: float,
            free_share: float | None = None, min_discount: float = 0.05) -> pd.DataFrame:
    """Per pair: the model's best discount (within the CLI's limits) and the truth there and at its best."""
    cost = catalog.set_index(catalog["product_id"].astype(str))["cost"]
    rows = []
    for a, b in pairs:
        ids = (market.ids[a], market.ids[b])
        t = truth.curve([a, b], GRID) * 1000
        c = np.array([cost[ids[0]], cost[ids[1]]], float)
        mod = demand.profit_curve(ids, GRID, costs=c)["profit"].to_numpy() * buy_rate  # per 1k visits
        prices = demand.regular_prices(ids)
        cap = 0.3 if free_share is None else free_share * prices.min() / prices.sum()
        ok = (min_discount - 1e-9 <= GRID) & (cap + 1e-9 >= GRID)
        if not ok.any():
            continue
        jm = int(np.where(ok, mod, -np.inf).argmax())
        jt = int(t.argmax())
        rows.append({"a": ids[0], "b": ids[1], "relation": market.relation([a, b]),
                     "model_best": GRID[jm], "true_best": GRID[jt], "true_at_model": t[jm], "true_max": t[jt],
                     "model_claim": mod[jm], "model_at_true_best": mod[jt]})
    return pd.DataFrame(rows)


ORACLES = ("conversion", "elasticity", "rho", "response")
"""What ``--oracle`` can hand the model from the hidden truth: each product's in-market conversion and
point elasticity at its list price, no valuation correlation for any pair (``attribution="need"``), no
attach-rate scaling (``calibrate_response="off"``)."""


def true_product_params(market, shoppers: int = 200_000, seed: int = 7) -> dict[str, dict[str, float]]:
    """Per product id, the hidden market's ``conversion`` (share of interested shoppers who buy at list
    prices) and ``elasticity`` (point elasticity of its own sales at the list price, others held;
    a 3 % cut, other members of its group re-choosing)."""
    rng = np.random.default_rng(seed)
    seg = sample_segments(market, rng, shoppers)
    out: dict[str, dict[str, float]] = {}
    for g, grp in enumerate(market.groups):
        idx = np.array(grp.members)
        V = sample_group(market, g, seg, rng)
        masks = subset_masks(len(idx))

        base = _group_sales(market, g, V, masks, market.price[idx])
        for j, i in enumerate(idx):
            p = market.price[idx].copy()
            p[j] *= 0.97
            cut = _group_sales(market, g, V, masks, p)
            out[market.ids[i]] = {"conversion": float(base[j] / max((V[:, j] > 0).mean(), 1e-12)),
                                  "elasticity": float(np.log(cut[j] / base[j]) / np.log(0.97))}
    return out


def _group_sales(market, g: int, V: np.ndarray, masks: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Share of shoppers buying each member of group ``g`` at ``prices`` (each takes its best subset)."""
    return masks[group_surplus(market, g, V, prices).argmax(axis=1)].mean(axis=0)


def apply_oracle(demand, true: dict[str, dict[str, float]], oracle: tuple[str, ...]) -> None:
    """Put the truth's conversion / elasticity into a fitted model's per-product parameters (in place)."""
    P = demand.params_
    ids = P["product_id"].astype(str)
    if "conversion" in oracle:
        P["conversion"] = [float(np.clip(true[p]["conversion"], 0.02, 0.98)) for p in ids]
    if "elasticity" in oracle:
        P["elasticity"] = [min(true[p]["elasticity"], -0.05) for p in ids]


def _top10(df: pd.DataFrame, by: str, value: str) -> float:
    """Greedy portfolio: the 10 best pairs by ``by`` (> 0), each product once; the sum of ``value``."""
    used: set[str] = set()
    total, n = 0.0, 0
    for _, r in df[df[by] > 0].sort_values(by, ascending=False).iterrows():
        if r["a"] in used or r["b"] in used:
            continue
        used |= {r["a"], r["b"]}
        total += r[value]
        n += 1
        if n == 10:
            break
    return round(total, 2)


def summary(df: pd.DataFrame, label: str) -> dict:
    run = df["model_claim"] > 0
    gap = (df["model_best"] - df["true_best"]) * 100
    return {"variant": label, "pairs": len(df), "model runs": int(run.sum()),
            "truly pay": int((df["true_max"] > 1e-3).sum()),
            "deeper": int((gap > 0.5).sum()), "shallower": int((gap < -0.5).sum()),
            "mean gap pts": round(float(gap.mean()), 2),
            "true at model's (run only)": round(float(df.loc[run, "true_at_model"].sum()), 2),
            "true best (sum)": round(float(df["true_max"].clip(lower=0).sum()), 2),
            "claim (run only)": round(float(df.loc[run, "model_claim"].sum()), 2),
            "losing runs": int((run & (df["true_at_model"] < 0)).sum()),
            "top 10 by claim: true": _top10(df, "model_claim", "true_at_model"),
            "top 10 by claim: claimed": _top10(df, "model_claim", "model_claim"),
            "top 10 by truth": _top10(df, "true_max", "true_max")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regime", default="segments-mixed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--conversion", type=float, nargs="+", default=[0.5])
    ap.add_argument("--no-cost", action="store_true", help="withhold the cost column (margins inferred)")
    ap.add_argument("--min-count", type=int, default=20)
    ap.add_argument("--free-share", type=float, nargs="+", default=[None],
                    help="cap: the discount gives away at most this share of the cheapest product's price")
    ap.add_argument("--shoppers", type=int, default=150_000)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--partners", choices=("on", "off", "both"), default="on",
                    help="the elasticity regression holds complements' prices fixed (the CLI's default: on)")
    ap.add_argument("--lerner", choices=("on", "off", "both"), default="on",
                    help="with costs given, pull elasticities toward the margins' Lerner values (CLI default: on)")
    ap.add_argument("--response", nargs="+", default=["pooled"], choices=("pooled", "pair", "off"),
                    help="how attach-rate slopes scale the bundle response (the CLI's default: pooled)")
    ap.add_argument("--oracle", nargs="*", default=[], choices=ORACLES,
                    help="also fit with these parts taken from the hidden truth, added one at a time in the "
                         "order given (is what is left parameter noise or the model's form?)")
    ap.add_argument("--show", type=int, default=12, help="pairs to list (largest true gains)")
    ap.add_argument("--show-by", choices=("true_max", "model_claim"), default="true_max",
                    help="list the pairs with the largest true gains, or the largest claims")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    m = make_market(args.regime, args.seed)
    orders = simulate_orders(m)
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="bw_diag_"))
    files = write_market(m, tmp, orders)
    cli = run_cli(files, tmp / "w", not args.no_cost, ("--help",))  # ingest + mine; '--help' skips the plan
    if not cli["ok"]:
        print(cli["problems"], file=sys.stderr)
        return 1
    truth = Truth(m, shoppers=args.shoppers)
    counts = orders.groupby("InvoiceNo")["StockCode"].apply(lambda s: sorted(set(s.astype(str))))
    together: dict[tuple[str, str], int] = {}
    for items in counts:
        for x, y in itertools.combinations(items, 2):
            together[(x, y)] = together.get((x, y), 0) + 1
    pos = {pid: i for i, pid in enumerate(m.ids)}
    pairs = [(pos[x], pos[y]) for (x, y), n in together.items() if n >= args.min_count and x in pos and y in pos]
    print(f"{args.regime} seed {args.seed}: {m.n} products, {len(pairs)} pairs bought together >= "
          f"{args.min_count} times, buy rate {truth.buy_rate:.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    out = []
    both = {"on": (True,), "off": (False,), "both": (True, False)}
    variants = [(q, p, ler, resp) for q in args.conversion for p in both[args.partners] for ler in both[args.lerner]
                for resp in args.response]
    oracles = [()] + ([tuple(args.oracle[:k]) for k in range(1, len(args.oracle) + 1)] if args.oracle else [])
    true = true_product_params(m) if args.oracle else {}
    variants = [(*v, o) for v in variants for o in oracles]
    for q, partners, lerner, resp, oracle in variants:
        kw = {"attribution": "need"} if "rho" in oracle else {}
        demand, catalog, _, _ = fit_demand(tmp / "w" / "bw.duckdb", q, not args.no_cost, partners,
                                           lerner_prior=lerner, calibrate_response="off" if "response" in oracle
                                           else resp, **kw)
        apply_oracle(demand, true, oracle)
        for fs in args.free_share:
            df = compare(truth, m, demand, catalog, pairs, truth.buy_rate, fs)
            out.append(summary(df, f"conversion {q:g}, free share {fs}, partners {'on' if partners else 'off'}, "
                                   f"lerner {'on' if lerner else 'off'}, response {resp}"
                                   + (f", oracle {'+'.join(oracle)}" if oracle else "")))
        if getattr(demand, "response_prior_", None) and resp == "pooled":
            print(f"pooled response prior: {demand.response_prior_}", file=sys.stderr)
        if q == args.conversion[0] and args.show and not oracle:
            show = df.sort_values(args.show_by, ascending=False).head(args.show)
            print(show.round(3).to_string(index=False))
    cols = list(out[0])
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in out:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
