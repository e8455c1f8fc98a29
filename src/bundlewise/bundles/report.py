"""The bundle report: one standalone HTML page a merchandiser can open and share.

Sections: the plan in numbers, the portfolio table, profit-vs-discount curves of the top
bundles, the expected margin of each chosen bundle with its interval, an association graph of
the chosen bundles, the elasticities used, and what was left out and why.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from bundlewise.bundles.jobs import BundlePlan
from bundlewise.report import HtmlReport, pyplot

log = logging.getLogger(__name__)

_TITLE_WIDTH = 28


def _short(text: str, width: int = _TITLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def bundle_label(products: tuple[str, ...], titles: tuple[str, ...] | None = None, width: int = 60) -> str:
    """``title a + title b`` (ids where a title is missing or repeated), shortened to ``width``.

    Examples
    --------
    >>> bundle_label(("1", "2"), ("Watch", "Shoes"))
    'Watch + Shoes'
    >>> bundle_label(("1", "2"), ("Yogurt", "Yogurt"))
    'Yogurt (1) + Yogurt (2)'
    """
    titles = tuple(titles or products)
    repeated = len(set(titles)) < len(titles)
    parts = [f"{t} ({p})" if repeated or not t else t for p, t in zip(products, titles, strict=True)]
    return _short(" + ".join(parts), width)


def portfolio_frame(selected: pd.DataFrame) -> pd.DataFrame:
    """The portfolio as a display table (percentages and money rounded)."""
    if selected.empty:
        return pd.DataFrame({"bundle": pd.Series(dtype=object)})
    return pd.DataFrame({
        "bundle": [bundle_label(tuple(p), tuple(t)) for p, t in zip(selected["products"], selected["titles"],
                                                                     strict=True)],
        "regular price": selected["regular_price"].round(2), "bundle price": selected["bundle_price"].round(2),
        "discount": [f"{d:.0%}" for d in selected["discount"]],
        "attach without": [f"{a:.1%}" for a in selected["attach_rate_without"]],
        "attach with": [f"{a:.1%}" for a in selected["attach_rate_with"]],
        "margin / 1,000 shoppers": [f"{p:.2f} [{lo:.2f}, {hi:.2f}]" for p, lo, hi
                                    in zip(selected["incremental_profit"], selected["profit_low"],
                                           selected["profit_high"], strict=True)],
        "baskets together": selected["n_ab"].astype(int).tolist(), "lift": selected["lift"].round(2),
        "model score": selected["model_score"].round(3),
        "margins": selected["margin_source"],
        "why": selected["explanation"],
    })


def build_report(plan: BundlePlan, *, top: int = 6, title: str = "Bundle plan") -> HtmlReport:
    """The HTML report of a :class:`~bundlewise.bundles.jobs.BundlePlan`.

    Parameters
    ----------
    plan : BundlePlan
    top : int
        Bundles whose profit-vs-discount curve is drawn.
    title : str

    Returns
    -------
    HtmlReport
        Call ``.write(path)``.
    """
    sel, priced = plan.selected, plan.priced
    weekly = plan.demand.weekly_shoppers()
    total = float(plan.portfolio.objective)
    page = HtmlReport(title, f"{plan.n_baskets:,} shopper baskets; every margin is the expected change in gross "
                             "margin per 1,000 shoppers compared with running no bundle.")
    page.heading("The plan in numbers")
    n_proposed = int(priced["proposed"].sum()) if len(priced) else 0
    page.paragraph(
        f"{len(priced) + len(plan.rejected):,} candidate bundles; {len(plan.rejected):,} set aside by the business "
        f"rules; {n_proposed:,} priced with a positive expected incremental margin; {len(sel):,} chosen for the "
        f"portfolio (MILP {plan.portfolio.status}, gap {plan.portfolio.mip_gap:.2%}, "
        f"{plan.portfolio.seconds:.2f} s). Expected incremental margin of the portfolio: {total:.2f} per 1,000 "
        f"shoppers, about {total * weekly / 1000:,.2f} per week at {weekly:,.0f} baskets a week.")
    assumed = int((sel["margin_source"] == "assumed").sum()) if len(sel) else 0
    if assumed:
        rate = plan.config.effective_pricing().assumed_margin_rate
        page.paragraph(f"{assumed} of the {len(sel)} chosen bundles hold a product without a catalogue cost: their "
                       f"margins assume a {rate:.0%} margin rate. Ingest a products file with a cost column for real "
                       "margins.", note=True)
    filled = plan.catalog.attrs.get("prices_from_orders", 0)
    if filled:
        page.paragraph(f"{filled:,} products have no catalogue price; their regular price is the median observed "
                       "shelf price.", note=True)
    page.heading("Portfolio")
    if sel.empty:
        page.paragraph("No bundle is expected to add margin under these constraints.", note=True)
    else:
        page.table(portfolio_frame(sel), float_format="{:,.2f}")
        page.figure(_margin_figure(sel), "Expected incremental margin per 1,000 shoppers with its 90% interval.")
        page.heading("Profit against discount")
        page.figure(_curves_figure(plan, sel.head(top)),
                    "Expected incremental margin per 1,000 shoppers at each discount (band: 90% interval); "
                    "the dot is the chosen price.")
        page.heading("Association graph of the chosen bundles")
        page.figure(_graph_figure(sel, plan.catalog),
                    "Products of the chosen bundles; a line joins products bundled together, thicker for a "
                    "higher lift.")
    page.heading("Elasticities used")
    el = plan.elasticities
    counts = el["source"].value_counts()
    page.paragraph(f"Own-price elasticities of the {len(el):,} bundled products: "
                   + ", ".join(f"{counts.get(s, 0):,} {s}" for s in ("own", "category", "prior"))
                   + f" (own: log-log regression on the {plan.config.period}ly price panel, shrunk toward the "
                     "category mean; category: too little price variation; prior: "
                     f"{plan.config.prior_mean} ± {plan.config.prior_sd}). Median "
                     f"{el['elasticity'].median():.2f}.")
    by_cat = el.groupby("category").agg(products=("product_id", "size"), median=("elasticity", "median"),
                                        own=("source", lambda s: int((s == "own").sum()))).reset_index()
    page.table(by_cat, float_format="{:.2f}")
    page.heading("Left out, and why")
    reasons = pd.concat([plan.rejected[["bundle_id", "reason"]].assign(stage="business rules"),
                         priced.loc[~priced["proposed"], ["bundle_id", "reason"]].assign(stage="pricing")],
                        ignore_index=True) if len(priced) or len(plan.rejected) else pd.DataFrame()
    if len(reasons):
        # pricing reasons carry the numbers of each bundle after a colon: group on the rule itself
        pricing = reasons["stage"] == "pricing"
        reasons.loc[pricing, "reason"] = reasons.loc[pricing, "reason"].str.split(":").str[0]
        summary = reasons.groupby(["stage", "reason"]).size().rename("bundles").reset_index()
        page.table(summary.sort_values("bundles", ascending=False).head(20))
    not_chosen = int(priced["proposed"].sum() - len(sel)) if len(priced) else 0
    if not_chosen > 0:
        page.paragraph(f"{not_chosen} proposed bundles were not chosen: the portfolio limits (at most "
                       f"{plan.config.portfolio.max_bundles} bundles, each product in at most "
                       f"{plan.config.portfolio.per_product}) favour better ones.")
    page.heading("How to read this")
    page.paragraph("Each shopper is simulated choosing the best of: nothing, either product at its regular price, "
                   "both separately, or the bundle. Reservation prices are calibrated to the observed purchase "
                   "rates and price elasticities; co-purchase is split between a shared need (shoppers in the "
                   "market for both) and correlated valuations. Shoppers who bought nothing are not in the orders: "
                   "margins are per 1,000 observed baskets and do not count extra visits a bundle might attract.")
    return page


def _margin_figure(sel: pd.DataFrame):  # type: ignore[no-untyped-def]
    plt = pyplot()
    df = sel.head(30).iloc[::-1]
    labels = [bundle_label(tuple(p), tuple(t), 45) for p, t in zip(df["products"], df["titles"], strict=True)]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(df) + 1.2))
    y = np.arange(len(df))
    err = np.vstack([np.maximum(df["incremental_profit"] - df["profit_low"], 0),
                     np.maximum(df["profit_high"] - df["incremental_profit"], 0)])
    ax.barh(y, df["incremental_profit"], xerr=np.nan_to_num(err), color="#4c78a8", ecolor="#555", capsize=2)
    ax.set_yticks(y, labels, fontsize=7)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_xlabel("expected incremental margin per 1,000 shoppers")
    fig.tight_layout()
    return fig


def _curves_figure(plan: BundlePlan, top: pd.DataFrame):  # type: ignore[no-untyped-def]
    plt = pyplot()
    pricing = plan.config.effective_pricing()
    discounts = np.round(np.linspace(0.0, pricing.max_discount, 31), 4)
    n = len(top)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, rec in zip(axes.ravel(), top.itertuples(), strict=False):
        products = tuple(rec.products)
        costs, _ = plan.demand.costs(products, pricing.assumed_margin_rate)
        curve = plan.demand.profit_curve(products, discounts, costs)
        ax.plot(100 * curve["discount"], curve["profit"], color="#4c78a8")
        if curve["low"].notna().any():
            ax.fill_between(100 * curve["discount"], curve["low"], curve["high"], color="#4c78a8", alpha=0.2, lw=0)
        ax.scatter([100 * rec.discount], [rec.incremental_profit], color="#e45756", zorder=3)
        ax.axhline(0, color="#999", lw=0.8)
        ax.set_title(bundle_label(products, tuple(rec.titles), 40), fontsize=8)
        ax.set_xlabel("discount %", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].set_ylabel("margin / 1,000 shoppers", fontsize=8)
    fig.tight_layout()
    return fig


def _graph_figure(sel: pd.DataFrame, catalog: pd.DataFrame):  # type: ignore[no-untyped-def]
    plt = pyplot()
    titles = dict(zip(catalog["product_id"].astype(str), catalog.get("title", catalog["product_id"]).astype(str),
                      strict=True))
    # bundle members side by side on the circle: nodes in order of first appearance
    nodes = list(dict.fromkeys(str(p) for products in sel["products"] for p in products))
    angle = 2 * np.pi * np.arange(len(nodes)) / max(len(nodes), 1)
    pos = {p: (math.cos(a), math.sin(a)) for p, a in zip(nodes, angle, strict=True)}
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    lifts = sel["lift"].fillna(1.0).clip(lower=1.0)
    widths = 0.8 + 3.0 * np.log(lifts) / max(float(np.log(lifts).max()), 1e-9)
    for products, width, profit in zip(sel["products"], widths, sel["incremental_profit"], strict=True):
        ps = [str(p) for p in products]
        for i, a in enumerate(ps):
            for b in ps[i + 1:]:
                (x0, y0), (x1, y1) = pos[a], pos[b]
                ax.plot([x0, x1], [y0, y1], color="#4c78a8" if profit > 0 else "#bbb", lw=width, alpha=0.6)
    xs, ys = zip(*(pos[p] for p in nodes), strict=True) if nodes else ((), ())
    ax.scatter(xs, ys, s=60, color="#f58518", zorder=3)
    for p in nodes:
        x, y = pos[p]
        label = _short(titles.get(p) or p, 24)
        ax.text(1.12 * x, 1.12 * y, label, fontsize=6.5, ha="left" if x >= 0 else "right", va="center")
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig
