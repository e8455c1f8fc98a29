"""Offers that learn: the shop-simulator comparison, OPE accuracy on a time-split log, and throughput.

Run: ``python -m bench.bench_offers`` (add ``--impressions 50000`` etc.). Everything is seeded;
the same shoppers (common random numbers) meet every policy. Writes
``bench/results/offers_regret.png`` (cumulative expected regret) and ``offers_*.tsv``.

1. Margin per impression over ``--impressions`` shoppers (seasonal drift halfway): the learners,
   the best fixed offer (chosen offline, with hindsight on the same shoppers), the naive "10 % off
   the top-lift bundle everywhere", and no offers; ratio to the best fixed offer; drift recovery.
2. OPE on a time-split log (ε-greedy logger, ε = 0.6): target and reward model learned on the first
   half, evaluated on the second (after the drift); truth from the simulator's hidden model.
   ``--ope-seeds 8 --ope-epsilons 0.3,0.6``: the same over seeds and loggers, per estimator the mean
   and max relative error, the seeds over the 0.15 goal, and how often the 95 % interval holds the
   truth (``--only-ope`` skips parts 1 and 3).
3. Decide-and-learn throughput: ``select`` + ``update`` per round, in-process, one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bundlewise.offers import EpsilonGreedy, LinearThompson, Softmax, ThompsonSampling
from bundlewise.offers.experiment import compare, recovery_impressions, time_split_ope
from bundlewise.offers.shopsim import OfferShopSimulator

RESULTS = Path(__file__).resolve().parent / "results"


def learners() -> dict:
    return {"linear_thompson": lambda: LinearThompson(random_state=0),
            "thompson": lambda: ThompsonSampling(random_state=0),
            "softmax": lambda: Softmax(temperature=0.3, random_state=0),
            "epsilon_greedy": lambda: EpsilonGreedy(epsilon=0.1, random_state=0)}


def simulator_comparison(n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    sim = OfferShopSimulator(n_impressions=n, random_state=seed)
    drift = int(sim.drift_at * n)
    rows, curves, baseline = [], {}, None
    for name, make in learners().items():
        t0 = time.perf_counter()
        table, res = compare(sim, make(), seed=seed)
        secs = time.perf_counter() - t0
        if baseline is None:
            baseline = table.iloc[1:]
        rec = recovery_impressions(res.expected / res.oracle, drift)
        rows.append({"policy": f"learner: {name}", "margin/imp": table["margin_per_impression"].iloc[0],
                     "expected/imp": table["expected"].iloc[0], "vs best fixed": table["vs_best_fixed"].iloc[0],
                     "drift recovery (imps)": rec, "regret": float(res.regret[-1]), "run s": secs})
        curves[name] = res.regret
    oracle = baseline["expected"].iloc[-1]
    for _, b in baseline.iloc[:-1].iterrows():
        rows.append({"policy": b["policy"], "margin/imp": b["margin_per_impression"], "expected/imp": b["expected"],
                     "vs best fixed": b["vs_best_fixed"], "regret": float((oracle - b["expected"]) * n)})
    rows.append({"policy": "oracle (hidden truth)", "expected/imp": oracle, "regret": 0.0})
    return pd.DataFrame(rows), curves


def plot_regret(curves: dict, table: pd.DataFrame, n: int, drift: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, reg in curves.items():
        ax.plot(reg, label=name)
    oracle = table["expected/imp"].iloc[-1]
    for _, row in table.iloc[len(curves):-1].iterrows():
        ax.plot([0, n], [0, (oracle - row["expected/imp"]) * n], "--", label=row["policy"])
    ax.axvline(drift, color="grey", lw=0.8)
    ax.set(xlabel="impression", ylabel="cumulative expected regret (margin)", title="Offer policies on the shop sim")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def throughput(rounds: int, seed: int) -> pd.DataFrame:
    sim = OfferShopSimulator(n_impressions=rounds, random_state=seed)
    contexts = sim.contexts()
    elig = sim.eligible_matrix()
    offers = {row.tobytes(): [o for o, ok in zip(sim.offer_ids_, row, strict=True) if ok] for row in elig}
    keys = [row.tobytes() for row in elig]
    rewards = np.random.default_rng(seed).gamma(1.0, 3.0, rounds)
    out = []
    for name, make in learners().items():
        pol, rng = make(), np.random.default_rng(seed)
        t0 = time.perf_counter()
        for ctx, key, r in zip(contexts, keys, rewards, strict=True):
            d = pol.select(ctx, offers[key], rng)
            pol.update(d, d.offer_id, r)
        secs = time.perf_counter() - t0
        out.append({"policy": name, "rounds": rounds, "seconds": secs, "rounds/s": rounds / secs,
                    "vs 5,000/s goal": rounds / secs / 5000})
    return pd.DataFrame(out)


def ope_over_seeds(n: int, seeds: int, epsilons: list[float], n_bootstrap: int = 100) -> tuple[pd.DataFrame,
                                                                                                pd.DataFrame]:
    """Time-split OPE errors per seed and logger, and their summary per estimator."""
    rows = []
    for eps in epsilons:
        for seed in range(seeds):
            sim = OfferShopSimulator(n_impressions=n, random_state=seed)
            table, truth = time_split_ope(sim, EpsilonGreedy(epsilon=eps, random_state=0), seed=seed,
                                          n_bootstrap=n_bootstrap)
            table["covers"] = (table["low"] <= truth) & (truth <= table["high"])
            rows.append(table.assign(seed=seed, epsilon=eps))
    per_seed = pd.concat(rows, ignore_index=True)
    g = per_seed.groupby(["epsilon", "estimator"], sort=False)
    summary = pd.DataFrame({"mean rel error": g["rel_error"].mean(), "max rel error": g["rel_error"].max(),
                            "seeds > 0.15": g["rel_error"].apply(lambda e: int((e > 0.15).sum())),
                            "95% interval holds truth": g["covers"].mean(), "mean ESS": g["ess"].mean()})
    return per_seed, summary.reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impressions", type=int, default=50_000)
    ap.add_argument("--ope-impressions", type=int, default=30_000)
    ap.add_argument("--throughput-rounds", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ope-seeds", type=int, default=0, help="also run the time-split OPE over this many seeds")
    ap.add_argument("--ope-epsilons", default="0.3,0.6")
    ap.add_argument("--only-ope", action="store_true", help="only the OPE over seeds")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    pd.set_option("display.width", 200)
    if args.ope_seeds:
        eps = [float(e) for e in args.ope_epsilons.split(",")]
        per_seed, summary = ope_over_seeds(args.ope_impressions, args.ope_seeds, eps)
        print(f"\n== time-split OPE over seeds 0-{args.ope_seeds - 1} ({args.ope_impressions:,} impressions, "
              f"ε-greedy loggers {args.ope_epsilons}) ==")
        print(summary.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
        per_seed.to_csv(RESULTS / "offers_ope_seeds.tsv", sep="\t", index=False)
        if args.only_ope:
            return

    table, curves = simulator_comparison(args.impressions, args.seed)
    print(f"\n== shop simulator: {args.impressions:,} impressions, drift at 50 %, seed {args.seed} ==")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    table.to_csv(RESULTS / "offers_simulator.tsv", sep="\t", index=False)
    png = RESULTS / "offers_regret.png"
    plot_regret(curves, table, args.impressions, args.impressions // 2, png)
    print(f"regret curve: {png}")

    sim = OfferShopSimulator(n_impressions=args.ope_impressions, random_state=args.seed)
    ope_table, truth = time_split_ope(sim, EpsilonGreedy(epsilon=0.6, random_state=0), seed=args.seed)
    print(f"\n== OPE on a time-split log ({args.ope_impressions:,} impressions, ε-greedy 0.6 logger; "
          f"evaluated half after the drift); truth {truth:.4f} ==")
    print(ope_table.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
    ope_table.to_csv(RESULTS / "offers_ope.tsv", sep="\t", index=False)

    tp = throughput(args.throughput_rounds, args.seed)
    print("\n== decide-and-learn throughput (select + update, in-process, one core) ==")
    print(tp.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    tp.to_csv(RESULTS / "offers_throughput.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()
