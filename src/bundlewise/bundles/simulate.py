"""A market simulator that proves (or disproves) the bundle pricing: the truth is known here.

Each regime builds markets of product pairs with KNOWN membership, valuations, correlations and
costs (:mod:`bundlewise.bundles._market`, which shares no code with the demand model), lets
them generate a year of orders with weekly price variation, and runs the pipeline on those
orders alone: elasticities from the simulated prices
(:func:`~bundlewise.bundles.elasticity.estimate_elasticities`), co-purchase statistics,
:class:`~bundlewise.bundles.demand.BundleDemandModel`, :func:`~bundlewise.bundles.pricing.price_bundles`.
The chosen discounts are then scored under the true valuations, against

* the **clairvoyant** policy: the best discount of the same grid (or no bundle) under the truth;
  ``regret`` = margin lost vs it, as a share of the clairvoyant's total margin on the bundle's
  products; ``capture`` = share of the clairvoyant's *incremental* margin we earn;
* the **naive** policy "10 % off the top-lift pairs" (the better half of the pairs by lift);
  ``uplift_ratio`` = our incremental margin / the naive policy's.

Regimes (:data:`REGIMES`): ``independent`` goods, ``shared_need`` (co-purchase from a common need,
independent valuations), ``correlated`` (co-purchase from correlated valuations only),
``complements`` (shared need, correlated values and a 15 % bonus for owning both — outside the
demand model's family), ``substitutes`` (owning both worth 25 % less: outside too), ``heavy_tailed``
(Student-t valuations, 3 d.o.f.), ``varying_margins`` (margin rates from 15 % to 75 %), and two
valuation families the demand model does not assume, with margin rates drawn per product from
10 % to 70 %: ``logit`` (Gumbel valuations: a logit demand curve) and ``segments`` (a mixture of a
bargain-hunting and a loyal segment: a kinked demand curve).

Examples
--------
>>> pairs = make_market("shared_need", seed=0, n_pairs=2)
>>> [p.products for p in pairs]
[('sh0a', 'sh0b'), ('sh1a', 'sh1b')]
>>> all(p.member_ab > p.member_a * p.member_b for p in pairs)
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.bundles._market import PairTruth, simulate_orders, true_elasticity, true_profit_curve, true_rate
from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.bundles.pricing import PricingConstraints, price_bundles
from bundlewise.errors import ConfigError, allowed
from bundlewise.mining import Baskets, CoPurchaseStats
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

REGIMES = ("independent", "shared_need", "correlated", "complements", "substitutes", "heavy_tailed",
           "varying_margins", "logit", "segments")
NAIVE_DISCOUNT = 0.10
GOAL_REGRET = 0.02
GOAL_UPLIFT_RATIO = 2.0

__all__ = ["GOAL_REGRET", "GOAL_UPLIFT_RATIO", "ORACLES", "REGIMES", "PairTruth", "make_market", "market_inputs",
           "plot_market_curves", "plot_regimes", "run_market", "simulate_orders", "simulate_regimes",
           "summarise_regimes", "true_elasticity", "true_profit_curve", "true_rate"]


def make_market(regime: str, seed: int = 0, n_pairs: int = 4) -> list[PairTruth]:
    """``n_pairs`` product pairs drawn for a regime (prices 5-50, costs, shares, valuations).

    Parameters
    ----------
    regime : str
        One of :data:`REGIMES`.
    seed : int
    n_pairs : int

    Returns
    -------
    list of PairTruth
    """
    if regime not in REGIMES:
        raise ConfigError(f"regime is {regime!r}; allowed values are {allowed(REGIMES)}")
    rng = np.random.default_rng([seed, REGIMES.index(regime)])
    margins = rng.permutation(np.linspace(0.15, 0.75, n_pairs)) if regime == "varying_margins" else None
    wide = regime in ("logit", "segments")
    pairs = []
    for k in range(n_pairs):
        price = np.round(rng.uniform(5, 50, 2) * 2) / 2
        rate = (margins[[k, k]] if margins is not None else rng.uniform(0.1, 0.7, 2) if wide
                else rng.uniform(0.3, 0.5, 2))
        m = rng.uniform(0.08, 0.25, 2)
        base = PairTruth(f"{regime[:2]}{k}a", f"{regime[:2]}{k}b", float(price[0]), float(price[1]),
                         float(np.round(price[0] * (1 - rate[0]), 2)), float(np.round(price[1] * (1 - rate[1]), 2)),
                         float(m[0]), float(m[1]), float(m[0] * m[1]),
                         *(float(x) for x in rng.uniform(0.85, 1.1, 2)), *(float(x) for x in rng.uniform(0.3, 0.6, 2)))
        top = min(m)
        share = float(rng.uniform(0.5, 0.8))
        changes: dict[str, Any] = {
            "independent": {},
            "shared_need": {"member_ab": share * top},
            "correlated": {"rho": 0.6},
            "complements": {"member_ab": 0.6 * share * top, "rho": 0.4, "complement": 0.15},
            "substitutes": {"member_ab": share * top, "complement": -0.25},
            "heavy_tailed": {"member_ab": 0.6 * share * top, "rho": 0.2, "tail_df": 3.0},
            "varying_margins": {"member_ab": 0.6 * share * top, "rho": 0.2},
            "logit": {"member_ab": 0.7 * share * top, "rho": 0.3, "family": "logit"},
            "segments": {"member_ab": 0.7 * share * top, "rho": 0.3, "family": "segments"},
        }[regime]
        pairs.append(replace(base, **changes))
    return pairs


def _elasticities(panel: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    try:
        from bundlewise.bundles.elasticity import estimate_elasticities
    except ImportError:  # the estimator is another module; a plain log-log slope keeps this usable alone
        rows = []
        for pid, g in panel.groupby("product_id"):
            slope = np.polyfit(np.log(g["price"]), np.log(g["quantity"]), 1)[0]
            rows.append({"product_id": pid, "elasticity": slope, "se": 0.3})
        return pd.DataFrame(rows), "log-log"
    return estimate_elasticities(panel), "estimate_elasticities"


def market_inputs(lines: pd.DataFrame, pairs: list[PairTruth]) -> tuple[Baskets, pd.DataFrame, pd.DataFrame]:
    """What the pipeline sees of simulated orders: baskets, a catalogue (true costs) and a weekly
    price/quantity panel of the pair products (the input of ``estimate_elasticities``)."""
    baskets = Baskets.from_long(lines["order_id"].to_numpy(), lines["product_id"].to_numpy(),
                                lines["ordered_at"].to_numpy())
    ids = sorted(set(lines["product_id"]))
    truth = {p: (pr, c) for t in pairs for p, pr, c in ((t.product_a, t.price_a, t.cost_a),
                                                        (t.product_b, t.price_b, t.cost_b))}
    catalog = pd.DataFrame({"product_id": ids, "title": ids,
                            "price": [truth.get(p, (2.0, 1.0))[0] for p in ids],
                            "cost": [truth.get(p, (2.0, 1.0))[1] for p in ids], "stock": np.nan})
    sold = lines[lines["product_id"].isin(truth.keys())]
    days = sold["ordered_at"].to_numpy().astype("datetime64[D]").astype(np.int64)
    week = (days - (days - 4) % 7).astype("datetime64[D]")  # the Monday on or before (1970-01-05 was one)
    panel = (sold.assign(period=pd.to_datetime(week)).groupby(["product_id", "period"])
             .agg(price=("unit_price", "mean"), quantity=("quantity", "sum")).reset_index())
    return baskets, catalog, panel


COST_MODES = ("catalog", "inferred", "assumed")
ORACLES = ("elasticity", "conversion")
"""Inputs an ablation can take from the truth instead of estimating them: ``elasticity`` (the true
point elasticity at the model's calibration price) and ``conversion`` (the true share of in-market
shoppers who buy at that price, which fixes the valuation spread and the membership rate)."""


def _oracle(model: BundleDemandModel, pairs: list[PairTruth], oracle: Sequence[str]) -> None:
    """Overwrite the fitted model's per-product calibration with the truth (ablations only)."""
    from bundlewise.bundles import _valuation as val

    P = model.params_
    for t in pairs:
        for pid in t.products:
            i = int(np.searchsorted(model.item_ids_, pid))
            regular = t.price_a if pid == t.product_a else t.price_b
            at = float(P["calib_price"].iat[i]) / regular
            if "elasticity" in oracle:
                P.loc[i, ["elasticity", "elasticity_arc"]] = true_elasticity(t, pid, at)
            if "conversion" in oracle:
                member = t.member_a if pid == t.product_a else t.member_b
                P.loc[i, "conversion"] = float(np.clip(true_rate(t, pid, regular * at) / member, 0.01, 0.99))
    m, x0, sigma = val.marginal_from_rate(P["rate"].to_numpy(), P["elasticity"].to_numpy(), P["conversion"].to_numpy())
    P["market_share"], P["x0"], P["sigma"] = m, x0, sigma
    P["elasticity_regular"] = -val.mills(x0 + np.log(P["price"] / P["calib_price"]).to_numpy() / sigma) / sigma


def _pipeline(pairs: list[PairTruth], seed: int, n_weeks: int, shoppers_per_week: int,
              constraints: PricingConstraints, demand_params: dict[str, Any] | None, use_prices: bool,
              oracle: Sequence[str] = (), costs: str = "catalog"
              ) -> tuple[BundleDemandModel, pd.DataFrame, pd.DataFrame, float, str]:
    """Orders of the market -> the fitted demand model, the candidates, their pricing, the share of
    shoppers who left an order, and the elasticity estimator used."""
    bad = [o for o in oracle if o not in ORACLES]
    if bad:
        raise ConfigError(f"oracle {allowed(bad)} unknown; allowed values are {allowed(ORACLES)}")
    if costs not in COST_MODES:
        raise ConfigError(f"costs is {costs!r}; allowed values are {allowed(COST_MODES)}")
    lines, prices = simulate_orders(pairs, n_weeks=n_weeks, shoppers_per_week=shoppers_per_week, seed=seed)
    baskets, catalog, panel = market_inputs(lines, pairs)
    elasticities, estimator = _elasticities(panel)
    stats = CoPurchaseStats(min_count=1).fit(baskets).pair_stats()
    stats = stats.set_index(["item_a", "item_b"])
    cands = []
    for t in pairs:
        a, b = sorted(t.products)
        s = stats.loc[(a, b)] if (a, b) in stats.index else pd.Series({"lift": 0.0, "n_ab": 0, "q_value": 1.0})
        cands.append({"bundle_id": f"{a}+{b}", "products": (a, b), "score": float(s["lift"]), "n_ab": int(s["n_ab"]),
                      "lift": float(s["lift"]), "q_value": float(s["q_value"]), "model_score": np.nan})
    cands_df = pd.DataFrame(cands)
    model = BundleDemandModel(**(demand_params or {})).fit(baskets, catalog, elasticities, stats.reset_index(),
                                                           prices=prices if use_prices else None)
    if oracle:
        _oracle(model, pairs, oracle)
    if costs != "catalog":  # the pipeline without a cost column: margins inferred (Lerner) or assumed
        from bundlewise.bundles.margins import fill_costs

        params = model.params_ if costs == "inferred" else model.params_.assign(elasticity_source="prior")
        catalog = fill_costs(catalog.assign(cost=np.nan, category_path="all"), params,
                             assumed_margin_rate=constraints.assumed_margin_rate)
    priced = price_bundles(cands_df, catalog, model, constraints)
    return model, cands_df, priced, baskets.n_baskets / (n_weeks * shoppers_per_week), estimator


def run_market(pairs: list[PairTruth], *, seed: int = 0, n_weeks: int = 52, shoppers_per_week: int = 2000,
               constraints: PricingConstraints | None = None, demand_params: dict[str, Any] | None = None,
               use_prices: bool = True, truth_shoppers: int = 300_000, oracle: Sequence[str] = (),
               costs: str = "catalog") -> pd.DataFrame:
    """Simulate orders of ``pairs``, price them with the pipeline, score the choice under the truth.

    Parameters
    ----------
    pairs : list of PairTruth
    seed : int
        Seed of the orders (the truth's scoring draws are fixed).
    n_weeks, shoppers_per_week : int
        Size of the simulated history.
    constraints : PricingConstraints, optional
    demand_params : dict, optional
        Keyword arguments of :class:`BundleDemandModel`.
    use_prices : bool
        Give the model the weekly prices (identifies shared need vs correlated valuations).
    truth_shoppers : int
        Shoppers drawn to score each policy under the truth.
    oracle : sequence of str
        Calibration inputs taken from the truth (:data:`ORACLES`), for ablations.
    costs : {"catalog", "inferred", "assumed"}
        The pipeline sees the true costs, or no cost column: margins inferred from elasticities
        (:func:`~bundlewise.bundles.margins.fill_costs`) or one assumed rate. The truth scores
        with the true costs either way.

    Returns
    -------
    DataFrame
        One row per pair: true and estimated parameters, the chosen discount and the predicted
        profit with its interval (``predicted*``, rescaled from per 1,000 baskets to per 1,000
        shoppers), the true incremental margin per 1,000 shoppers of our choice (``ours``), of the
        clairvoyant best discount (``best``, ``best_discount``), of the naive policy (``naive``,
        ``naive_on``), and ``base`` (true margin without bundle).
    """
    constraints = constraints or PricingConstraints()
    model, cands_df, priced, observed, estimator = _pipeline(pairs, seed, n_weeks, shoppers_per_week, constraints,
                                                             demand_params, use_prices, oracle, costs)
    n_naive = math.ceil(len(pairs) / 2)
    naive_on = set(cands_df.sort_values(["lift", "bundle_id"], ascending=[False, True])["bundle_id"].head(n_naive))
    grid = np.concatenate([[0.0], constraints.grid()])
    rows = []
    for t, (_, row) in zip(pairs, priced.iterrows(), strict=True):
        chosen = float(row["discount"]) if row["proposed"] else 0.0
        curve = true_profit_curve(t, np.concatenate([grid, [chosen, NAIVE_DISCOUNT]]), n_shoppers=truth_shoppers)
        prof = curve["profit"].to_numpy()
        best = int(np.argmax(prof[: len(grid)]))
        est = model.pair_parameters(*t.products)
        par = model.params_.set_index("product_id")
        rows.append({
            "bundle_id": row["bundle_id"], "lift": row["lift"], "true_rho": t.rho,
            "true_need_ab": t.member_ab, "est_rho": est["rho"], "est_shared_need_share": est["shared_need_share"],
            "true_elasticity_a": true_elasticity(t, t.product_a),
            "est_elasticity_a": float(par["elasticity_regular"][t.product_a]),
            "arc_elasticity_a": float(par["elasticity_arc"][t.product_a]),
            "true_rate_a": true_rate(t, t.product_a), "est_rate_a": est["rate_a"] if row["products"][0] == t.product_a
            else est["rate_b"], "margin_rate": 1 - (t.cost_a + t.cost_b) / (t.price_a + t.price_b),
            "proposed": bool(row["proposed"]), "discount": chosen,
            # the model speaks per 1,000 baskets, the truth per 1,000 shoppers (some buy nothing)
            "predicted": float(row["incremental_profit"]) * observed,
            "predicted_low": float(row["profit_low"]) * observed,
            "predicted_high": float(row["profit_high"]) * observed,
            "ours": float(prof[len(grid)]), "best_discount": float(grid[best]), "best": float(prof[best]),
            "naive_on": row["bundle_id"] in naive_on,
            "naive": float(prof[len(grid) + 1]) if row["bundle_id"] in naive_on else 0.0,
            "base": float(curve["base"].iat[0]), "elasticity_estimator": estimator})
    return pd.DataFrame(rows)


def simulate_regimes(regimes: Sequence[str] = REGIMES, seeds: Sequence[int] = (0, 1, 2), *, n_pairs: int = 4,
                     n_weeks: int = 52, shoppers_per_week: int = 2000, constraints: PricingConstraints | None = None,
                     demand_params: dict[str, Any] | None = None, use_prices: bool = True,
                     truth_shoppers: int = 300_000, oracle: Sequence[str] = (),
                     progress: Progress = NULL_PROGRESS) -> pd.DataFrame:
    """Regret and uplift of the pipeline over regimes x seeds.

    Returns
    -------
    DataFrame
        One row per regime and seed: ``regret`` (share of the clairvoyant's total margin on the
        bundles' products lost), ``capture`` (share of its incremental margin earned), ``ours``,
        ``best``, ``naive`` (true incremental margin per 1,000 shoppers, summed over pairs),
        ``uplift_ratio`` (ours / naive; NaN when the naive policy earns nothing), ``n_proposed``,
        ``n_covered`` (proposed bundles whose true uplift lies in the predicted 90 % interval),
        ``n_pairs``. ``attrs["pairs"]`` holds :func:`run_market`'s rows of every market.
    """
    rows, details = [], []
    with progress.task("simulated markets", total=len(regimes) * len(seeds)) as task:
        for regime in regimes:
            for seed in seeds:
                detail = run_market(make_market(regime, seed, n_pairs), seed=seed, n_weeks=n_weeks,
                                    shoppers_per_week=shoppers_per_week, constraints=constraints,
                                    demand_params=demand_params, use_prices=use_prices,
                                    truth_shoppers=truth_shoppers, oracle=oracle)
                details.append(detail.assign(regime=regime, seed=seed))
                ours, best, naive, base = (float(detail[c].sum()) for c in ("ours", "best", "naive", "base"))
                rows.append({"regime": regime, "seed": seed, "regret": (best - ours) / (base + best),
                             "capture": ours / best if best > 0 else np.nan, "ours": ours, "best": best,
                             "naive": naive, "uplift_ratio": ours / naive if naive > 0 else np.nan,
                             "n_proposed": int(detail["proposed"].sum()), "n_best": int((detail["best"] > 0).sum()),
                             "n_covered": int((detail["proposed"] & (detail["predicted_low"] <= detail["ours"])
                                               & (detail["ours"] <= detail["predicted_high"])).sum()),
                             "n_pairs": len(detail)})
                log.info("%s seed %d: regret %.2f%%, ours %.1f, best %.1f, naive %.1f", regime, seed,
                         100 * rows[-1]["regret"], ours, best, naive)
                task.advance()
    out = pd.DataFrame(rows)
    out.attrs["pairs"] = pd.concat(details, ignore_index=True)
    return out


def summarise_regimes(table: pd.DataFrame) -> pd.DataFrame:
    """Per regime (and overall): mean regret, capture, mean uplifts and their ratio vs the goals, and the
    ``coverage`` of the predicted 90 % intervals (share of proposed bundles whose true uplift is inside)."""
    def one(g: pd.DataFrame) -> dict[str, Any]:
        ours, naive, best = g["ours"].sum(), g["naive"].sum(), g["best"].sum()
        ratio = ours / naive if naive > 0 else np.nan
        n_prop = g["n_proposed"].sum()
        return {"seeds": len(g), "regret_mean": g["regret"].mean(), "regret_max": g["regret"].max(),
                "coverage": g["n_covered"].sum() / n_prop if n_prop else np.nan,
                "capture": ours / best if best > 0 else np.nan, "ours": ours / len(g), "best": best / len(g),
                "naive": naive / len(g), "uplift_ratio": ratio, "regret_ok": bool(g["regret"].mean() <= GOAL_REGRET),
                # where the naive policy loses money, "2x its uplift" is met by not losing any
                "uplift_ok": bool(ratio >= GOAL_UPLIFT_RATIO if naive > 0 else ours >= 0)}
    parts = [{"regime": r, **one(g)} for r, g in table.groupby("regime", sort=False)]
    parts.append({"regime": "all", **one(table)})
    return pd.DataFrame(parts)


def plot_regimes(table: pd.DataFrame):  # type: ignore[no-untyped-def]
    """Regret and uplift per regime (one dot per seed) against the goals; a matplotlib Figure."""
    from matplotlib.figure import Figure  # pyplot-free: drawn by HtmlReport.figure, whose back-end is Agg

    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    regimes = list(dict.fromkeys(table["regime"]))
    x = {r: i for i, r in enumerate(regimes)}
    pos = table["regime"].map(x).to_numpy()
    ax1.scatter(pos, 100 * table["regret"], color="tab:blue", zorder=3)
    ax1.axhline(100 * GOAL_REGRET, color="tab:red", ls="--", label="goal ≤ 2 %")
    ax1.set_ylabel("regret vs clairvoyant (% of its margin)")
    width = 0.38
    sums = table.groupby("regime", sort=False)[["ours", "naive", "best"]].mean().reindex(regimes)
    ax2.bar(np.arange(len(regimes)) - width / 2, sums["ours"], width, label="pipeline")
    ax2.bar(np.arange(len(regimes)) + width / 2, sums["naive"], width, label="naive 10 % off top lift")
    ax2.scatter(np.arange(len(regimes)) - width / 2, sums["best"], marker="_", s=400, color="k", label="clairvoyant")
    ax2.axhline(0, color="grey", lw=0.8)
    ax2.set_ylabel("true incremental margin / 1,000 shoppers")
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(regimes)), regimes, rotation=30, ha="right")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_market_curves(regime: str = "shared_need", seed: int = 0, *, n_pairs: int = 4,
                       demand_params: dict[str, Any] | None = None, truth_shoppers: int = 300_000):  # type: ignore[no-untyped-def]
    """The model's profit-vs-discount curve (with its interval) against the true curve, for each pair
    of one simulated market; a matplotlib Figure. Predictions are rescaled to per 1,000 shoppers."""
    from matplotlib.figure import Figure  # pyplot-free: drawn by HtmlReport.figure, whose back-end is Agg

    pairs = make_market(regime, seed, n_pairs)
    constraints = PricingConstraints()
    model, _, priced, observed, _ = _pipeline(pairs, seed, 52, 2000, constraints, demand_params, True)
    grid = np.concatenate([[0.0], constraints.grid()])
    fig = Figure(figsize=(3.2 * n_pairs, 3.2))
    for ax, t, (_, row) in zip(fig.subplots(1, n_pairs, squeeze=False)[0], pairs, priced.iterrows(), strict=True):
        pred = model.profit_curve(row["products"], grid)
        truth = true_profit_curve(t, grid, n_shoppers=truth_shoppers)
        ax.fill_between(100 * grid, observed * pred["low"], observed * pred["high"], alpha=0.25, label="model 90 %")
        ax.plot(100 * grid, observed * pred["profit"], label="model")
        ax.plot(100 * grid, truth["profit"], color="k", ls="--", label="truth")
        if row["proposed"]:
            ax.axvline(100 * row["discount"], color="tab:green", lw=0.8, label="chosen")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(f"{row['bundle_id']} (ρ {t.rho:g}, ρ̂ {model.pair_parameters(*t.products)['rho']:.2f})",
                     fontsize=9)
        ax.set_xlabel("discount %")
    fig.axes[0].set_ylabel("incremental margin / 1,000 shoppers")
    fig.axes[0].legend(fontsize=7)
    fig.suptitle(f"{regime}, seed {seed}", fontsize=10)
    fig.tight_layout()
    return fig
