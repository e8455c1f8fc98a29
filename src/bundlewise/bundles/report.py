"""The bundle report: one standalone HTML page a merchandiser can open and share.

Sections: the bundles worth running (expected margin per week with intervals), what was left out
and why (the strongest pairs not run, each with its reason), where the margins come from, the
portfolio table (full names and ids), profit-vs-discount curves of the top bundles, an
association graph, and the elasticities the pricing used. It reads a fitted plan or a plan file
(``report --plan``): the curves are stored in the plan, nothing is priced again.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from bundlewise.bundles.jobs import BundlePlan
from bundlewise.bundles.plan_io import PlanView, plan_view
from bundlewise.report import HtmlReport, pyplot

log = logging.getLogger(__name__)

_TITLE_WIDTH = 28


def _short(text: str, width: int = _TITLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def bundle_label(products: tuple[str, ...], titles: tuple[str, ...] | None = None, width: int | None = None) -> str:
    """``name a + name b`` (ids where a name is missing or repeated); shortened only when ``width`` is given
    (figure labels), never in tables.

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
    text = " + ".join(parts)
    return text if width is None else _short(text, width)


def _names(df: pd.DataFrame) -> list[tuple[str, ...]]:
    col = "names" if "names" in df else "titles" if "titles" in df else "products"
    return [tuple(n) if isinstance(n, (tuple, list)) and n else tuple(p) for n, p in zip(df[col], df["products"],
                                                                                         strict=True)]


def _interval(lo: object, hi: object, digits: int = 2) -> str:
    if not (isinstance(lo, float) and isinstance(hi, float)) or math.isnan(lo) or math.isnan(hi):
        return ""
    return f" [{lo:,.{digits}f}, {hi:,.{digits}f}]"


def portfolio_frame(selected: pd.DataFrame) -> pd.DataFrame:
    """The portfolio as a display table: full names and ids (never cut), money rounded, the full "why"."""
    if selected.empty:
        return pd.DataFrame({"bundle": pd.Series(dtype=object)})
    get = selected.get
    weekly = get("margin_per_week")
    return pd.DataFrame({
        "bundle": [bundle_label(tuple(p), n) for p, n in zip(selected["products"], _names(selected), strict=True)],
        "ids": [" + ".join(map(str, p)) for p in selected["products"]],
        "deal": get("deal_type", pd.Series("bundle", index=selected.index)).tolist(),
        "regular price": selected["regular_price"].round(2), "bundle price": selected["bundle_price"].round(2),
        "discount": [f"{d:.0%}" for d in selected["discount"]],
        "attach without → with": [f"{a:.1%} → {b:.1%}" for a, b in zip(selected["attach_rate_without"],
                                                                        selected["attach_rate_with"], strict=True)],
        "margin / 1,000 shoppers [90%]": [f"{p:,.2f}{_interval(lo, hi)}" for p, lo, hi in zip(
            selected["incremental_profit"], get("profit_low", selected["incremental_profit"] * np.nan),
            get("profit_high", selected["incremental_profit"] * np.nan), strict=True)],
        "margin / week [90%]": ([f"{p:,.2f}{_interval(lo, hi)}" for p, lo, hi in zip(
            weekly, get("margin_per_week_low", weekly * np.nan), get("margin_per_week_high", weekly * np.nan),
            strict=True)] if weekly is not None else [""] * len(selected)),
        "baskets together": selected["n_ab"].astype(int).tolist() if "n_ab" in selected else "",
        "lift": selected["lift"].round(2) if "lift" in selected else np.nan,
        "margins": get("margin_source", pd.Series("", index=selected.index)).tolist(),
        "why": selected["explanation"].tolist() if "explanation" in selected else "",
    })


def build_report(plan: BundlePlan | PlanView, *, top: int = 6, title: str = "Bundle plan") -> HtmlReport:
    """The HTML report of a :class:`~bundlewise.bundles.jobs.BundlePlan` or a plan file's
    :class:`~bundlewise.bundles.plan_io.PlanView` (nothing is priced again).

    Parameters
    ----------
    plan : BundlePlan or PlanView
    top : int
        Bundles whose profit-vs-discount curve is drawn (those the plan holds a curve for).
    title : str

    Returns
    -------
    HtmlReport
        Call ``.write(path)``.
    """
    view = plan if isinstance(plan, PlanView) else plan_view(plan)
    rows, meta = view.bundles, view.meta
    sel = view.selected
    total = float(sel["incremental_profit"].sum()) if len(sel) else 0.0
    weekly = (float(sel["margin_per_week"].sum()) if "margin_per_week" in sel and len(sel) else math.nan)
    basis = f"{meta['n_baskets']:,} shopper baskets" if "n_baskets" in meta else f"plan file {meta.get('source')}"
    page = HtmlReport(title, f"{basis}; every margin is the expected change in gross margin compared with running "
                             "no bundle.")
    page.heading("Bundles worth running")
    if sel.empty:
        page.paragraph("No bundle is expected to add margin under these constraints.", note=True)
    else:
        lows = sel["margin_per_week_low"].sum() if "margin_per_week_low" in sel else math.nan
        highs = sel["margin_per_week_high"].sum() if "margin_per_week_high" in sel else math.nan
        band = (f" (the bundles' 90 % intervals add up to {lows:,.2f} to {highs:,.2f})"
                if np.isfinite(lows) and np.isfinite(highs) else "")
        page.paragraph(f"{len(sel):,} bundles, expected to add {weekly:,.2f} of margin per week{band}, "
                       f"{total:.2f} per 1,000 shoppers. The best:")
        for _, r in sel.head(5).iterrows():
            page.paragraph(f"• {r['explanation']}" if "explanation" in r else f"• {r['bundle_id']}")
        multi = int((sel.get("deal_type", pd.Series(dtype=object)) == "multi-buy").sum())
        if multi:
            page.paragraph(f"{multi} of them are multi-buys: variants of one product type (same category, near-"
                           "identical titles) that shoppers choose between; run them as \"any 2 for\" deals, not as "
                           "complementary bundles.", note=True)
    _left_out(page, rows, meta)
    _sources(page, sel, meta)
    page.heading("Portfolio")
    if len(sel):
        page.table(portfolio_frame(sel), float_format="{:,.2f}")
        page.figure(_margin_figure(sel), "Expected incremental margin per 1,000 shoppers with its 90% interval.")
        shown = sel[sel["bundle_id"].astype(str).isin(view.curves)].head(top)
        if len(shown):
            page.heading("Profit against discount")
            page.figure(_curves_figure(view.curves, shown),
                        "Expected incremental margin per 1,000 shoppers at each discount (band: 90% interval); "
                        "the dot is the chosen price.")
        page.heading("Association graph of the chosen bundles")
        page.figure(_graph_figure(sel),
                    "Products of the chosen bundles; a line joins products bundled together, thicker for a "
                    "higher lift.")
    _elasticities(page, sel, meta)
    page.heading("How to read this")
    page.paragraph("Each shopper is simulated choosing the best of: nothing, either product at its regular price, "
                   "both separately, or the bundle. Reservation prices are calibrated to the observed purchase "
                   "rates and price elasticities; co-purchase is split between a shared need (shoppers in the "
                   "market for both) and correlated valuations. Shoppers who bought nothing are not in the orders: "
                   "margins are per 1,000 observed baskets and do not count extra visits a bundle might attract.")
    return page


def _left_out(page: HtmlReport, rows: pd.DataFrame, meta: dict) -> None:
    page.heading("Left out, and why")
    out = rows[~rows["selected"].astype(bool)] if "selected" in rows else rows.iloc[:0]
    if out.empty:
        page.paragraph("This plan file holds only the portfolio; write it with 'bundlewise bundles --all' to see "
                       "every candidate left out and why.", note=True)
        return
    stage = out.get("stage", pd.Series("pricing", index=out.index)).fillna("pricing")
    kind = out["reason"].fillna("").str.split(":").str[0]
    summary = (pd.DataFrame({"stage": stage, "reason": kind}).groupby(["stage", "reason"]).size()
               .rename("bundles").reset_index().sort_values("bundles", ascending=False))
    page.table(summary.head(20))
    # the strongest pairs not run deserve their own line: a merchandiser will ask about them
    strong = out[out.get("lift", pd.Series(np.nan, index=out.index)).fillna(0) > 1.5]
    strong = strong.sort_values("lift", ascending=False).head(10)
    if len(strong):
        page.paragraph("The strongest pairs not run:")
        page.table(pd.DataFrame({
            "bundle": [bundle_label(tuple(p), n) for p, n in zip(strong["products"], _names(strong), strict=True)],
            "ids": [" + ".join(map(str, p)) for p in strong["products"]],
            "lift": strong["lift"].round(2), "baskets together": strong.get("n_ab", np.nan),
            "why not": strong["reason"].tolist()}), float_format="{:,.2f}")


def _sources(page: HtmlReport, sel: pd.DataFrame, meta: dict) -> None:
    if "margin_source" in sel and len(sel):
        counts = sel["margin_source"].value_counts()
        parts = {"cost": "from catalogue costs", "given": "from the margins file (--margins)",
                 "inferred": "inferred from the products' price elasticities (Lerner: margin = -1/elasticity, "
                             "shrunk toward the category; regular prices assumed near the profit optimum)",
                 "assumed": f"from an assumed {meta.get('assumed_rate', 0.3):.0%} margin rate"}
        text = "; ".join(f"{n} bundle(s) {parts.get(s, s)}" for s, n in counts.items())
        page.paragraph(f"Margins: {text}.", note=bool(set(counts.index) - {"cost"}))
    if meta.get("prices_from_orders"):
        page.paragraph(f"{meta['prices_from_orders']:,} products have no catalogue price; their regular price is "
                       "the median observed shelf price.", note=True)


def _elasticities(page: HtmlReport, sel: pd.DataFrame, meta: dict) -> None:
    page.heading("Elasticities used")
    if sel.empty or "elasticities" not in sel:
        page.paragraph("The plan file carries no elasticities.", note=True)
        return
    recs = []
    for _, r in sel.iterrows():
        rates = r["margin_rates"] if "margin_rates" in r and isinstance(r["margin_rates"], tuple) else ()
        for k, (pid, name) in enumerate(zip(r["products"], _names(sel.loc[[r.name]])[0], strict=True)):
            recs.append({"product": name, "id": str(pid),
                         "elasticity at regular price": r["elasticities"][k] if k < len(r["elasticities"]) else np.nan,
                         "margin rate": rates[k] if k < len(rates) else np.nan})
    table = pd.DataFrame(recs).drop_duplicates("id")
    page.paragraph("Own-price elasticities of the bundled products as the pricing used them: at the regular price, "
                   "after clipping, from the log-log slope over the promotion weeks turned into the point value of "
                   f"the demand curve (prior {meta.get('prior', '-2.5 ± 1.0')} where a product's price never moved). "
                   f"Median {table['elasticity at regular price'].median():.2f}.")
    page.table(table, float_format="{:.2f}")


def _margin_figure(sel: pd.DataFrame):  # type: ignore[no-untyped-def]
    plt = pyplot()
    df = sel.head(30).iloc[::-1]
    labels = [bundle_label(tuple(p), n, 60) for p, n in zip(df["products"], _names(df), strict=True)]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(df) + 1.2))
    y = np.arange(len(df))
    low = df["profit_low"] if "profit_low" in df else df["incremental_profit"]
    high = df["profit_high"] if "profit_high" in df else df["incremental_profit"]
    err = np.vstack([np.maximum(df["incremental_profit"] - low, 0), np.maximum(high - df["incremental_profit"], 0)])
    ax.barh(y, df["incremental_profit"], xerr=np.nan_to_num(err), color="#4c78a8", ecolor="#555", capsize=2)
    ax.set_yticks(y, labels, fontsize=7)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_xlabel("expected incremental margin per 1,000 shoppers")
    fig.tight_layout()
    return fig


def _curves_figure(curves: dict[str, pd.DataFrame], top: pd.DataFrame):  # type: ignore[no-untyped-def]
    plt = pyplot()
    n = len(top)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (_, rec), names in zip(axes.ravel(), top.iterrows(), _names(top), strict=False):
        curve = curves[str(rec["bundle_id"])]
        ax.plot(100 * curve["discount"], curve["profit"], color="#4c78a8")
        if curve["low"].notna().any():
            ax.fill_between(100 * curve["discount"], curve["low"], curve["high"], color="#4c78a8", alpha=0.2, lw=0)
        ax.scatter([100 * rec["discount"]], [rec["incremental_profit"]], color="#e45756", zorder=3)
        ax.axhline(0, color="#999", lw=0.8)
        ax.set_title(bundle_label(tuple(rec["products"]), names, 40), fontsize=8)
        ax.set_xlabel("discount %", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].set_ylabel("margin / 1,000 shoppers", fontsize=8)
    fig.tight_layout()
    return fig


def _graph_figure(sel: pd.DataFrame):  # type: ignore[no-untyped-def]
    plt = pyplot()
    titles = {str(p): n for ps, ns in zip(sel["products"], _names(sel), strict=True) for p, n in zip(ps, ns,
                                                                                                  strict=True)}
    # bundle members side by side on the circle: nodes in order of first appearance
    nodes = list(dict.fromkeys(str(p) for products in sel["products"] for p in products))
    angle = 2 * np.pi * np.arange(len(nodes)) / max(len(nodes), 1)
    pos = {p: (math.cos(a), math.sin(a)) for p, a in zip(nodes, angle, strict=True)}
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    lifts = (sel["lift"] if "lift" in sel else pd.Series(1.0, index=sel.index)).fillna(1.0).clip(lower=1.0)
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
