"""The "Offers that learn" report section: offer performance over time from a decision log, and the OPE table.

:func:`add_offers_section` appends to an :class:`~bundlewise.report.html.HtmlReport`: a table per
time bucket (impressions, CTR, conversion, margin per impression with a 95 % interval, exploration
share), the arm shares, a figure (margin per impression with its band, and the arm shares, over
time) and, when given, the OPE table of ``bundlewise offers evaluate``. :func:`offers_summary`
computes the numbers without HTML.

Examples
--------
>>> import pandas as pd
>>> from bundlewise.report.html import HtmlReport
>>> log = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=4, freq="h"), "offer_id": ["a", "b", "a", "a"],
...                     "propensity": [0.9, 0.1, 0.9, 0.8], "probabilities": [[0.9, 0.1]] * 4,
...                     "reward": [1.0, 0.0, 2.0, 0.0]})
>>> offers_summary(log, buckets=2)["margin_per_impression"].tolist()
[0.5, 1.0]
>>> "Offers that learn" in add_offers_section(HtmlReport("r"), log, buckets=2).render()
True
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def _bucket(ts: pd.Series, buckets: int) -> pd.Series:
    t = pd.to_datetime(ts)
    if t.nunique() < 2:
        return pd.Series(np.zeros(len(t), dtype=int), index=ts.index)
    return pd.Series(pd.cut(t.astype("int64"), bins=buckets, labels=False, include_lowest=True), index=ts.index)


def offers_summary(log: pd.DataFrame, buckets: int = 10) -> pd.DataFrame:
    """One row per time bucket: impressions, CTR, conversion, margin per impression [95 % normal interval],
    exploration share (decisions whose offer was not the most probable one).

    CTR and conversion come from ``clicked`` / ``purchased`` columns of ``log`` when present
    (else conversion = share of decisions with a positive reward, CTR left empty).
    """
    b = _bucket(log["ts"], buckets)
    shown = log["offer_id"].astype(str) != "none"
    greedy = np.array([float(p) >= max(probs) - 1e-12 for p, probs in zip(log["propensity"], log["probabilities"],
                                                                        strict=True)])
    frame = pd.DataFrame({"bucket": b, "ts": pd.to_datetime(log["ts"]), "reward": log["reward"].astype(float),
                          "shown": shown, "explore": ~greedy,
                          "clicked": log["clicked"].astype(float) if "clicked" in log else np.nan,
                          "purchased": (log["purchased"] if "purchased" in log else log["reward"] > 0).astype(float)})
    g = frame.groupby("bucket")
    out = pd.DataFrame({"from": g["ts"].min(), "impressions": g.size(), "offers shown": g["shown"].sum(),
                        "ctr": g["clicked"].mean(), "conversion": g["purchased"].mean(),
                        "margin_per_impression": g["reward"].mean(),
                        "exploration share": g["explore"].mean()})
    half = 1.96 * g["reward"].std(ddof=1).fillna(0.0) / np.sqrt(out["impressions"])
    out["low"], out["high"] = out["margin_per_impression"] - half, out["margin_per_impression"] + half
    return out.reset_index(drop=True)


def arm_shares(log: pd.DataFrame, buckets: int = 10) -> pd.DataFrame:
    """Share of each offer per time bucket (rows: buckets, columns: offers)."""
    b = _bucket(log["ts"], buckets)
    return pd.crosstab(b, log["offer_id"].astype(str), normalize="index")


def _figure(summary: pd.DataFrame, shares: pd.DataFrame):
    from bundlewise.report.html import pyplot

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.arange(len(summary))
    ax1.plot(x, summary["margin_per_impression"], marker="o", label="margin / impression")
    ax1.fill_between(x, summary["low"], summary["high"], alpha=0.25, label="95 % interval")
    ax1.set(xlabel="time bucket", ylabel="margin per impression", title="Margin per impression over time")
    ax1.legend(fontsize=7)
    bottom = np.zeros(len(shares))
    for col in shares.columns:
        ax2.bar(np.arange(len(shares)), shares[col].to_numpy(), bottom=bottom, label=col)
        bottom += shares[col].to_numpy()
    ax2.set(xlabel="time bucket", ylabel="share of decisions", title="Arm shares", ylim=(0, 1))
    ax2.legend(fontsize=6, bbox_to_anchor=(1.02, 1.0), loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def add_offers_section(report, log: pd.DataFrame, ope_table: pd.DataFrame | None = None, *, buckets: int = 10,
                       title: str = "Offers that learn"):
    """Append the offers section to ``report`` (an ``HtmlReport``) and return it.

    Parameters
    ----------
    report : HtmlReport
    log : DataFrame
        A decision log (:func:`bundlewise.offers.logs.read_decision_log`): ``ts, offer_id,
        propensity, probabilities, reward`` (+ ``clicked``, ``purchased`` when known).
    ope_table : DataFrame, optional
        The table of :func:`bundlewise.offers.offline.offline_evaluate`.
    buckets : int
        Number of equal-width time buckets.
    """
    summary = offers_summary(log, buckets)
    shares = arm_shares(log, buckets)
    report.heading(title)
    report.paragraph(f"{len(log):,} decisions from {pd.to_datetime(log['ts']).min()} to "
                     f"{pd.to_datetime(log['ts']).max()}; margin per impression {log['reward'].mean():.4f}; "
                     f"exploration share {summary['exploration share'].mean():.1%} (decisions whose offer was "
                     "not the policy's most probable one).")
    report.table(summary.assign(**{"from": summary["from"].astype(str)}))
    total = log["offer_id"].astype(str).value_counts(normalize=True).rename("share").reset_index()
    report.table(total.rename(columns={"offer_id": "offer"}))
    report.figure(_figure(summary, shares), "Margin per impression (95 % interval) and arm shares per time bucket.")
    if ope_table is not None:
        report.paragraph("Off-policy estimates of the evaluated policy (95 % bootstrap intervals); rows marked "
                         "unreliable failed the support check (effective sample size or interval width).", note=True)
        report.table(ope_table)
    return report


def offers_section_html(log: pd.DataFrame, ope_table: pd.DataFrame | None = None, *, buckets: int = 10) -> str:
    """The section as an HTML fragment (what :func:`add_offers_section` appends)."""
    from bundlewise.report.html import HtmlReport

    page = add_offers_section(HtmlReport("offers"), log, ope_table, buckets=buckets).render()
    start = page.find("<h2>")
    end = page.rfind("</body>")
    return page[start:end] if start >= 0 else page
