"""Matching baskets to the periods of a price panel (for the bundle demand model).

Examples
--------
>>> b = Baskets.from_long(["o1", "o2"], ["a", "a"], np.array(["2025-01-07", "2025-01-15"], dtype="datetime64[us]"))
>>> prices = pd.DataFrame({"product_id": ["a", "a"], "period": pd.to_datetime(["2025-01-06", "2025-01-13"]),
...                        "price": [2.0, 1.5]})
>>> period, priced, mat = basket_periods(b, np.array(["a"]), prices)
>>> period.tolist(), priced.tolist(), mat.ravel().tolist()
([0, 1], [0], [2.0, 1.5])
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bundlewise.errors import DataValidationError, allowed
from bundlewise.mining import Baskets

log = logging.getLogger("bundlewise.bundles.demand")


def basket_periods(baskets: Baskets, ids: np.ndarray, prices: pd.DataFrame | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Period of each basket, the codes of the products with prices, their (periods, products) prices."""
    one = (np.zeros(baskets.n_baskets, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((1, 0)))
    if prices is None or not len(prices):
        return one
    missing = [c for c in ("product_id", "period", "price") if c not in prices.columns]
    if missing:
        raise DataValidationError(f"the prices table lacks column(s) {allowed(missing)}; it needs "
                                  "product_id, period (start timestamp), price")
    if baskets.timestamps is None or np.isnat(baskets.timestamps).all():
        log.warning("baskets have no timestamps: the price panel cannot be matched and is ignored")
        return one
    try:
        starts = np.asarray(pd.to_datetime(prices["period"]).to_numpy(), dtype="datetime64[us]")
    except (TypeError, ValueError):
        log.warning("price periods are not timestamps: the price panel is ignored")
        return one
    uniq = np.unique(starts)
    ts = np.asarray(baskets.timestamps, dtype="datetime64[us]")
    period = np.clip(np.searchsorted(uniq, ts, side="right") - 1, 0, len(uniq) - 1)
    period[np.isnat(ts)] = 0
    table = pd.DataFrame({"p": prices["product_id"].astype(str).to_numpy(),
                          "w": np.searchsorted(uniq, starts), "price": pd.to_numeric(prices["price"]).to_numpy()})
    table = table[table["p"].isin(set(ids)) & (table["price"] > 0)]
    mean = table.groupby(["w", "p"], sort=False)["price"].mean().reset_index()
    codes = np.searchsorted(ids, mean["p"].to_numpy().astype(str))
    priced = np.unique(codes)
    mat = np.full((len(uniq), len(priced)), np.nan)
    mat[mean["w"].to_numpy(), np.searchsorted(priced, codes)] = mean["price"].to_numpy()
    return period.astype(np.int64), priced.astype(np.int64), mat

def n_weeks(baskets: Baskets) -> float:
    ts = baskets.timestamps
    if ts is None or np.isnat(ts).all():
        return 1.0
    t = np.asarray(ts, dtype="datetime64[us]")
    t = t[~np.isnat(t)]
    span = (t.max() - t.min()) / np.timedelta64(1, "D")
    return max(float(span) / 7.0, 1.0)
