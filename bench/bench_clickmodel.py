"""Click and conversion models on the shop simulator: time-split AUC / ECE and ad-slot ranking margin.

Run: ``python -m bench.bench_clickmodel`` (``--impressions 40000 --seeds 0,1,2``). Per seed, an
A/B-style log (one uniformly random eligible offer per shopper) from the simulator, no drift;
the models are fitted on the first 80 % (by time) and scored on the last 20 %:

1. AUC and expected calibration error (10 bins) of P(click) and P(purchase | click), the
   :class:`~bundlewise.offers.clickmodel.ClickConversionModel` vs the per-offer-rate baseline;
2. ad-slot ranking: for each ad-slot shopper in the test part, the candidate (eligible offer, not
   "none") ranked first by each scorer; margin per impression = the simulator's hidden
   P(buy) × margin of that offer; model vs baseline vs a random candidate, and the oracle;
3. the model as a policy prior: Thompson sampling on a fresh shop (``--prior-impressions``, drift
   halfway) with the model (fitted on another seed's A/B log) as its prior mean, vs the same
   policy with no prior; margin per impression over the first 2,000 shoppers and over all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bundlewise.offers.clickmodel import ClickConversionModel, PerOfferRate, rank_ad_candidates, time_split_scores
from bundlewise.offers.shopsim import OfferShopSimulator

RESULTS = Path(__file__).resolve().parent / "results"


def one_seed(n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    sim = OfferShopSimulator(n, drift_at=1.0, random_state=seed)
    elig = sim.eligible_matrix()
    rng = np.random.default_rng(seed)
    shown = np.array([rng.choice(np.flatnonzero(r)) for r in elig])
    log = sim.impressions(shown)
    models = {"click/conversion model": ClickConversionModel(random_state=seed), "per-offer rate": PerOfferRate()}
    scores = time_split_scores(log, models, test_share=0.2)  # fits the models on the first 80 %
    scores["seed"] = seed
    # ad slot: every eligible shown-offer for every test ad-slot shopper
    cut = int(0.8 * n)
    none = sim.offer_ids_.index("none")
    test_ad = [i for i in range(cut, n) if sim.shoppers_["placement"].iat[i] == "ad_slot"]
    rows, ks = [], []
    for i in test_ad:
        for k in np.flatnonzero(elig[i]):
            if k != none:
                rows.append(i)
                ks.append(k)
    cand = _candidates(sim, np.array(rows), np.array(ks))
    truth = cand["p_click"] * cand["p_purchase"] * cand["margin"]  # = hidden P(buy) x margin
    cand["truth"] = truth.to_numpy()
    out = {}
    for name, model in models.items():
        top = rank_ad_candidates(model, cand, group="shopper_id", k=1)
        out[name] = float(top["truth"].mean())
    out["random candidate"] = float(cand.groupby("shopper_id")["truth"].mean().mean())
    out["oracle (hidden)"] = float(cand.groupby("shopper_id")["truth"].max().mean())
    return scores, out


def _candidates(sim: OfferShopSimulator, rows: np.ndarray, ks: np.ndarray) -> pd.DataFrame:
    """Impression rows for (shopper, offer) pairs (the context of the shopper, the offer's attributes)."""
    parts = []
    none = sim.offer_ids_.index("none")
    for k in np.unique(ks):
        idx = np.full(sim.n_impressions, none)
        who = rows[ks == k]
        idx[who] = k
        parts.append(sim.impressions(idx).iloc[who])
    return pd.concat(parts, ignore_index=True).drop(columns=["clicked", "purchased"])


def prior_effect(n: int, seed: int) -> dict:
    from bundlewise.offers.experiment import run_online
    from bundlewise.offers.policies import ThompsonSampling

    ab = OfferShopSimulator(20_000, drift_at=1.0, random_state=seed + 100)  # another period of the shop
    rng = np.random.default_rng(seed)
    log = ab.impressions(np.array([rng.choice(np.flatnonzero(r)) for r in ab.eligible_matrix()]))
    model = ClickConversionModel(random_state=seed).fit(log)
    offers = log.drop_duplicates("offer_id")[["offer_id", "price", "discount", "margin"]]
    out = {"seed": seed}
    for name, pol in (("no prior", ThompsonSampling(random_state=0)),
                      ("click-model prior", ThompsonSampling(prior=model.prior(offers), prior_strength=5.0,
                                                             random_state=0))):
        res = run_online(OfferShopSimulator(n, random_state=seed), pol, seed=seed)
        out[f"{name}: first 2k"] = float(res.reward[:2000].mean())
        out[f"{name}: all"] = float(res.reward.mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impressions", type=int, default=40_000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--prior-impressions", type=int, default=20_000)
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    pd.set_option("display.width", 200)
    all_scores, margins = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        scores, m = one_seed(args.impressions, seed)
        all_scores.append(scores)
        margins.append({"seed": seed, **m})
    scores = pd.concat(all_scores, ignore_index=True)
    summary = scores.groupby(["target", "model"])[["auc", "ece"]].agg(["mean", "min", "max"]).round(4)
    print(f"\n== time-split click / conversion scores ({args.impressions:,} impressions, test = last 20 %, "
          f"seeds {args.seeds}) ==")
    print(summary.to_string())
    scores.to_csv(RESULTS / "clickmodel_scores.tsv", sep="\t", index=False)
    m = pd.DataFrame(margins)
    m["model / baseline"] = m["click/conversion model"] / m["per-offer rate"]
    m["model / random"] = m["click/conversion model"] / m["random candidate"]
    m["model / oracle"] = m["click/conversion model"] / m["oracle (hidden)"]
    print("\n== ad-slot ranking: hidden expected margin per impression of the top candidate ==")
    print(m.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    m.to_csv(RESULTS / "clickmodel_adslot.tsv", sep="\t", index=False)
    pr = pd.DataFrame([prior_effect(args.prior_impressions, int(s)) for s in args.seeds.split(",")])
    pr["prior / no prior (first 2k)"] = pr["click-model prior: first 2k"] / pr["no prior: first 2k"]
    pr["prior / no prior (all)"] = pr["click-model prior: all"] / pr["no prior: all"]
    print(f"\n== Thompson sampling with the click model as prior ({args.prior_impressions:,} impressions): "
          "margin per impression ==")
    print(pr.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    pr.to_csv(RESULTS / "clickmodel_prior.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()
