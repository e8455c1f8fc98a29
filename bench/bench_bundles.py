"""Bundle pricing on the market simulator: regret vs the clairvoyant and uplift vs "10 % off the top-lift pairs".

Run: ``python -m bench.bench_bundles`` (``BENCH_SCALE=small`` for 2 seeds instead of 5). Every regime of
:data:`bundlewise.bundles.simulate.REGIMES` x seed is a market of 4 product pairs; a year of orders
(52 weeks x 2,000 shoppers, weekly promotions) is generated from known valuations; the pipeline
(elasticities from the simulated prices, co-purchase statistics, ``BundleDemandModel``,
``price_bundles`` with max discount 30 %) chooses a discount per pair from the orders alone; the
truth (300,000 fresh shoppers) scores it. Two ablations show what the model's design buys: the
"valuation" attribution (every co-purchase read as correlated valuations: the known trap) and a
model without the weekly prices (shared need vs correlation then rests on the prior).

``python -m bench.bench_bundles ablation`` runs only the under-discounting ablation (issue 14): on the
project's log-normal regimes and on two valuation families the model does not assume (``logit``,
``segments``, margins 10-70 %), the chosen discount against the clairvoyant's when the elasticity is
used as a point value (the old behaviour), with the arc-to-point conversion (the fix), and with
the truth's elasticity / conversion (oracles); then the accuracy of the margins inferred without a
cost column (Lerner) on markets whose regular prices are profit-optimal.

Writes ``bench/results/bundles_regimes.csv`` (per market), ``bundles_pairs.csv`` (per pair) and
``bundles_regimes.png`` (the plot), ``bundles_curves.png`` (model vs true profit curves of one
market), and prints the markdown tables of bench/README.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from bundlewise.bundles.simulate import (
    GOAL_REGRET,
    GOAL_UPLIFT_RATIO,
    REGIMES,
    plot_market_curves,
    plot_regimes,
    simulate_regimes,
    summarise_regimes,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(x: float, spec: str) -> str:
    return "—" if pd.isna(x) else format(x, spec)


def _pct(x: float) -> str:
    return "—" if pd.isna(x) else f"{100 * x:.0f} %"


def _table(summary: pd.DataFrame) -> str:
    lines = ["| regime | regret mean (max) | capture of clairvoyant uplift | ours | clairvoyant | naive | "
             "ours / naive | 90 % interval coverage | goals |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        ratio = ("naive loses" if r["naive"] < 0 else "naive 0" if r["naive"] == 0 else
                 _fmt(r["uplift_ratio"], ".1f") + "×")
        goals = ("✓" if r["regret_ok"] else "✗ regret") + (" ✓" if r["uplift_ok"] else " ✗ uplift")
        lines.append(f"| {r['regime']} | {100 * r['regret_mean']:.2f} % ({100 * r['regret_max']:.2f} %) | "
                     f"{_pct(r['capture'])} | {r['ours']:.1f} | {r['best']:.1f} | {r['naive']:.1f} | "
                     f"{ratio} | {_pct(r['coverage'])} | {goals} |")
    return "\n".join(lines)


def main() -> None:
    small = os.environ.get("BENCH_SCALE") == "small"
    seeds = (0, 1) if small else (0, 1, 2, 3, 4)
    RESULTS.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    table = simulate_regimes(REGIMES, seeds)
    elapsed = time.perf_counter() - t0
    table.to_csv(RESULTS / "bundles_regimes.csv", index=False)
    table.attrs["pairs"].to_csv(RESULTS / "bundles_pairs.csv", index=False)
    plot_regimes(table).savefig(RESULTS / "bundles_regimes.png", dpi=110)
    plot_market_curves("shared_need", 0).savefig(RESULTS / "bundles_curves.png", dpi=110)
    print(f"{len(REGIMES)} regimes x {len(seeds)} seeds x 4 pairs, {elapsed:.0f} s; goals: regret <= "
          f"{GOAL_REGRET:.0%}, uplift >= {GOAL_UPLIFT_RATIO:g}x the naive policy's. Margins per 1,000 shoppers, "
          "summed over the 4 pairs, mean over seeds.\n")
    print(_table(summarise_regimes(table)))
    ablation = ["shared_need", "correlated", "independent"]
    rows = []
    for name, kwargs in (("model (auto)", {}), ("trap: all co-purchase = correlated values",
                                                {"demand_params": {"attribution": "valuation"}}),
                         ("trap: all co-purchase = shared need", {"demand_params": {"attribution": "need"}}),
                         ("no weekly prices", {"use_prices": False})):
        t = table[table["regime"].isin(ablation)] if not kwargs else simulate_regimes(ablation, seeds, **kwargs)
        s = summarise_regimes(t).set_index("regime")
        rows.append({"variant": name, **{r: s.loc[r, "capture"] for r in ablation}})
    print("\nCapture of the clairvoyant's incremental margin by model variant:\n")
    print("| variant | " + " | ".join(ablation) + " |\n|---|" + "---|" * len(ablation))
    for r in rows:
        print(f"| {r['variant']} | " + " | ".join(f"{100 * r[a]:.0f} %" for a in ablation) + " |")


ABLATION = {
    "elasticity as a point value (before)": {"demand_params": {"n_boot": 0, "elasticity_input": "point"}},
    "arc -> point elasticity (the fix)": {"demand_params": {"n_boot": 0}},
    "oracle: true elasticity": {"demand_params": {"n_boot": 0, "elasticity_input": "point"},
                                "oracle": ("elasticity",)},
    "oracle: true elasticity + conversion": {"demand_params": {"n_boot": 0, "elasticity_input": "point"},
                                             "oracle": ("elasticity", "conversion")},
}


def ablation(families: dict[str, tuple[str, ...]], seeds: tuple[int, ...]) -> pd.DataFrame:
    """Regret and discount gap per variant (rows) and market family."""
    import numpy as np

    from bundlewise.bundles.pricing import PricingConstraints
    from bundlewise.bundles.simulate import make_market, run_market

    constraints = PricingConstraints(min_discount=0.0)  # the estimation's error alone, not the 5 % minimum step
    rows = []
    for family, regimes in families.items():
        for name, kwargs in ABLATION.items():
            d = pd.concat([run_market(make_market(r, s), seed=s, constraints=constraints, **kwargs)
                           for r in regimes for s in seeds], ignore_index=True)
            pos = d[d["best"] > 0]
            gap = 100 * (pos["discount"] - pos["best_discount"])
            rows.append({"markets": family, "variant": name, "regret": 1 - d["ours"].sum() / d["best"].sum(),
                         "gap": float(gap.mean()), "shallow": int((gap < -0.5).sum()), "deep": int((gap > 0.5).sum()),
                         "n": len(pos), "el_bias": float((d["est_elasticity_a"] - d["true_elasticity_a"]).mean()),
                         "el_mae": float(np.abs(d["est_elasticity_a"] - d["true_elasticity_a"]).mean())})
    return pd.DataFrame(rows)


def margin_check(regimes: tuple[str, ...], seeds: tuple[int, ...]) -> pd.DataFrame:
    """Margins inferred from elasticities (no cost column) vs the truth, on markets whose costs make
    the regular prices profit-optimal for each product alone (the Lerner condition holds)."""
    from dataclasses import replace

    from bundlewise.bundles.margins import fill_costs
    from bundlewise.bundles.pricing import PricingConstraints
    from bundlewise.bundles.simulate import _pipeline, make_market, run_market, true_elasticity

    rows, regrets = [], []
    for regime in regimes:
        for seed in seeds:
            pairs = []
            for t in make_market(regime, seed):
                ea, eb = (min(true_elasticity(t, p), -1.15) for p in t.products)
                pairs.append(replace(t, cost_a=round(t.price_a * (1 + 1 / ea), 2),
                                     cost_b=round(t.price_b * (1 + 1 / eb), 2)))
            for mode in ("catalog", "inferred", "assumed"):
                d = run_market(pairs, seed=seed, demand_params={"n_boot": 0}, costs=mode)
                regrets.append({"regime": regime, "seed": seed, "costs": mode, "ours": d["ours"].sum(),
                                "best": d["best"].sum()})
            model, *_ = _pipeline(pairs, seed, 52, 2000, PricingConstraints(), {"n_boot": 0}, True)
            truth = {p: 1 - c / pr for t in pairs for p, pr, c in ((t.product_a, t.price_a, t.cost_a),
                                                                  (t.product_b, t.price_b, t.cost_b))}
            prices = model.params_.set_index("product_id")["price"]
            cat = pd.DataFrame({"product_id": list(truth), "price": [float(prices[p]) for p in truth],
                                "category_path": regime})
            out = fill_costs(cat, model.params_).set_index("product_id")
            for p, m in truth.items():
                rows.append({"regime": regime, "seed": seed, "product": p, "true": m,
                             "inferred": out.loc[p, "margin_rate"], "low": out.loc[p, "margin_low"],
                             "high": out.loc[p, "margin_high"], "assumed": 0.3})
    table = pd.DataFrame(rows)
    table.attrs["regret"] = pd.DataFrame(regrets)
    return table


def run_ablation() -> None:
    small = os.environ.get("BENCH_SCALE") == "small"
    seeds = (0, 1) if small else (0, 1, 2)
    if os.environ.get("BENCH_PART") == "margins":
        return _margins_report(seeds)
    t0 = time.perf_counter()
    table = ablation({"log-normal (independent, shared_need, varying_margins)":
                      ("independent", "shared_need", "varying_margins"),
                      "other families (logit, segments; margins 10-70 %)": ("logit", "segments")}, seeds)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "bundles_ablation.csv", index=False)
    print(f"Under-discounting ablation ({len(seeds)} seeds x 4 pairs per regime, {time.perf_counter() - t0:.0f} s; "
          "regret = share of the clairvoyant's incremental margin lost; gap = chosen - best discount, points):\n")
    print("| markets | variant | regret | mean gap | too shallow / too deep (of n) | elasticity bias at regular "
          "price |")
    print("|---|---|---|---|---|---|")
    for _, r in table.iterrows():
        print(f"| {r['markets']} | {r['variant']} | {100 * r['regret']:.1f} % | {r['gap']:+.2f} | "
              f"{r['shallow']} / {r['deep']} (of {r['n']}) | {r['el_bias']:+.2f} |")
    _margins_report(seeds)


def _margins_report(seeds: tuple[int, ...]) -> None:
    m = margin_check(("independent", "logit", "segments"), seeds)
    m.to_csv(RESULTS / "bundles_margins.csv", index=False)
    err = (m["inferred"] - m["true"]).abs()
    cover = ((m["low"] <= m["true"]) & (m["true"] <= m["high"])).mean()
    print(f"\nMargins without a cost column, {len(m)} products with profit-optimal regular prices: inferred "
          f"(Lerner) mean absolute error {100 * err.mean():.1f} points (median {100 * err.median():.1f}), 90 % "
          "interval "
          f"covers {100 * cover:.0f} %; one assumed 30 % rate: {100 * (m['assumed'] - m['true']).abs().mean():.1f} "
          f"points; true margins {100 * m['true'].min():.0f}-{100 * m['true'].max():.0f} %.")
    r = m.attrs["regret"].groupby("costs")[["ours", "best"]].sum()
    print("\nRegret on those markets (share of the clairvoyant's incremental margin lost) by where the pipeline's "
          "costs come from: " + ", ".join(f"{k} {100 * (1 - r.loc[k, 'ours'] / r.loc[k, 'best']):.1f} %"
                                          for k in ("catalog", "inferred", "assumed")) + ".")


if __name__ == "__main__":
    import sys

    run_ablation() if sys.argv[1:] == ["ablation"] else main()
