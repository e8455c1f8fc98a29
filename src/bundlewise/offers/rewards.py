"""Decisions + later purchase events → one margin reward per decision (a pure function).

Attribution rule (last touch within a window): a purchase line of shopper ``s`` at time ``t``
belongs to the latest decision for ``s`` with ``decision_time <= t <= decision_time + window_s``.
Its margin is ``price_paid - unit_cost - discount`` — ``price_paid`` the shelf price of the line,
``discount`` the amount the offer took off it. A decision's reward is the sum over its lines, and
0 when nothing follows. By default every line of the shopper counts (the whole basket, so an offer
that only moves a sale the shopper would have made anyway earns no more than "none"); with
``match_products=True`` only lines whose product is in the decision's ``products`` count.

Examples
--------
>>> import pandas as pd
>>> dec = pd.DataFrame({"decision_id": [0, 1], "shopper_id": [7, 8], "time": [0.0, 0.0]})
>>> ev = pd.DataFrame({"shopper_id": [7, 7, 8], "time": [30.0, 900.0, 5.0], "product_id": ["a", "b", "c"],
...                    "price_paid": [10.0, 10.0, 4.0], "unit_cost": [6.0, 6.0, 1.0], "discount": [1.0, 0.0, 0.0]})
>>> join_rewards(dec, ev, window_s=600).tolist()  # 10-6-1 = 3; the line at 900 s is too late; 4-1 = 3
[3.0, 3.0]
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 600.0
EVENT_COLUMNS = ("shopper_id", "time", "product_id", "price_paid", "unit_cost", "discount")


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}")


def join_rewards(decisions: pd.DataFrame, events: pd.DataFrame, window_s: float = DEFAULT_WINDOW_S,
                 *, match_products: bool = False, default_reward: float = 0.0) -> np.ndarray:
    """Margin reward per decision, in the order of ``decisions``.

    Parameters
    ----------
    decisions : DataFrame
        ``shopper_id, time`` (seconds), plus ``products`` (iterables of product ids) when
        ``match_products``.
    events : DataFrame
        Purchase lines ``shopper_id, time, product_id, price_paid, unit_cost, discount``.
    window_s : float
        Reward window in seconds (default 10 minutes), inclusive at both ends.
    match_products : bool
        Count only lines whose product the decision offered.
    default_reward : float
        Reward of a decision that nothing follows.

    Returns
    -------
    numpy.ndarray of float, one per decision.
    """
    if not np.isfinite(window_s) or window_s < 0:
        raise ConfigError(f"window_s must be a finite number of seconds >= 0; got {window_s!r}")
    _require(decisions, ("shopper_id", "time") + (("products",) if match_products else ()), "decisions")
    _require(events, EVENT_COLUMNS, "events")
    n = len(decisions)
    out = np.full(n, float(default_reward))
    if n == 0 or len(events) == 0:
        return out
    dec = pd.DataFrame({"_row": np.arange(n), "shopper_id": decisions["shopper_id"].to_numpy(),
                        "time": decisions["time"].to_numpy(dtype=float)}).sort_values("time", kind="stable")
    ev = events.reset_index(drop=True).assign(_line=lambda f: np.arange(len(f)))
    ev["time"] = ev["time"].astype(float)
    ev = ev.sort_values("time", kind="stable")
    # the latest decision for the same shopper at or before each line (ties: the later decision row)
    m = pd.merge_asof(ev, dec.rename(columns={"time": "dec_time"}), left_on="time", right_on="dec_time",
                      by="shopper_id", direction="backward", allow_exact_matches=True)
    m = m[m["_row"].notna() & (m["time"] - m["dec_time"] <= window_s)]
    if match_products and len(m):
        products = decisions["products"].to_numpy()
        keep = [pid in set(products[int(r)] or ()) for pid, r in zip(m["product_id"], m["_row"], strict=True)]
        m = m[np.asarray(keep, dtype=bool)]
    if len(m) == 0:
        return out
    margin = (m["price_paid"] - m["unit_cost"] - m["discount"]).to_numpy(dtype=float)
    rows = m["_row"].to_numpy(dtype=np.int64)
    sums = np.bincount(rows, weights=margin, minlength=n)
    hit = np.bincount(rows, minlength=n) > 0
    out[hit] = sums[hit]
    logger.debug("joined %d purchase lines onto %d of %d decisions", len(m), int(hit.sum()), n)
    return out
