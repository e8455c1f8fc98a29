"""Unit costs where the catalogue has none: a margins file, else the margin the price elasticity implies.

A retailer that sets its regular prices near the profit optimum prices each product where the
Lerner condition holds, ``(p - c) / p = -1 / elasticity``: a product with elastic demand earns a
thin margin, an inelastic one a fat margin. So the own-price elasticity at the regular price (the
demand model's ``elasticity_regular``) gives a margin rate, clipped to ``bounds`` (grocery margins
are rarely outside 5-80 %), then shrunk toward the mean of its category (the noisier the
elasticity, the more), with an interval from the elasticity's standard error. One assumed rate
for every product, the alternative, loses most of what the pricing is worth where margins vary.

Precedence per product: a catalogue ``cost`` (``margin_source="cost"``), a rate of the margins
file for its category (``"given"``), the inferred rate where the elasticity rests on price
variation (``"inferred"``), else the assumed rate (``"assumed"``).

Examples
--------
>>> import pandas as pd
>>> cat = pd.DataFrame({"product_id": ["a", "b", "c"], "price": [10.0, 10.0, 10.0], "cost": [7.0, None, None],
...                     "category_path": ["X", "X", "Y > Z"]})
>>> params = pd.DataFrame({"product_id": ["a", "b", "c"], "elasticity_regular": [-2.0, -2.5, -4.0],
...                        "elasticity_se": [0.1, 0.1, 0.1], "elasticity_source": ["own", "own", "prior"]})
>>> out = fill_costs(cat, params, assumed_margin_rate=0.3)
>>> out["margin_source"].tolist(), out["cost"].round(2).tolist()
(['cost', 'inferred', 'assumed'], [7.0, 5.95, 7.0])
>>> fill_costs(cat, params, margins={"Y": 0.5})["margin_source"].tolist()
['cost', 'inferred', 'given']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bundlewise.errors import DataValidationError, allowed

log = logging.getLogger(__name__)

MARGIN_BOUNDS = (0.05, 0.8)
_Z90 = 1.645
MODEL_SD = 0.04
"""Spread added to every inferred margin's interval for the Lerner rule itself (prices are only near
the optimum; the elasticity's OLS error is optimistic): on simulated markets with profit-optimal
prices the inferred margins miss the truth by 4 points on average (``bench/bench_bundles.py``)."""


def read_margins(path: str | Path) -> dict[str, float]:
    """A margins file: CSV with columns ``category`` and ``margin_rate`` (in (0, 1)).

    ``category`` matches a product's full category path, or any leading part of it (``Dairy``
    covers ``Dairy > Yogurt``; the longest match wins).

    Raises
    ------
    DataValidationError
        Missing columns, or a rate outside (0, 1) (the row is named).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"category": str})
    except (OSError, ValueError) as exc:
        raise DataValidationError(f"margins file {str(path)!r} cannot be read as CSV ({exc}); it needs columns "
                                  "'category', 'margin_rate'") from None
    missing = [c for c in ("category", "margin_rate") if c not in df.columns]
    if missing:
        raise DataValidationError(f"margins file {str(path)!r} lacks column(s) {allowed(missing)}; its columns are "
                                  f"{allowed(list(df.columns))}; it needs 'category', 'margin_rate'")
    rate = pd.to_numeric(df["margin_rate"], errors="coerce")
    bad = ~((rate > 0) & (rate < 1))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(f"margins file {str(path)!r} row {row + 2}: margin_rate is "
                                  f"{df['margin_rate'].iloc[row]!r}; it must be a number in (0, 1), e.g. 0.35")
    return {_norm(c): float(r) for c, r in zip(df["category"].fillna(""), rate, strict=True)}


def _norm(path: str) -> str:
    return " > ".join(part.strip().lower() for part in str(path).split(">") if part.strip())


def _given(paths: pd.Series, margins: Mapping[str, float]) -> np.ndarray:
    norm = {_norm(k): v for k, v in margins.items()}
    out = np.full(len(paths), np.nan)
    for i, path in enumerate(paths.fillna("").astype(str)):
        parts = _norm(path).split(" > ") if path else []
        for depth in range(len(parts), 0, -1):
            key = " > ".join(parts[:depth])
            if key in norm:
                out[i] = norm[key]
                break
    return out


def fill_costs(catalog: pd.DataFrame, params: pd.DataFrame, *, assumed_margin_rate: float = 0.3,
               margins: Mapping[str, float] | None = None,
               bounds: tuple[float, float] = MARGIN_BOUNDS) -> pd.DataFrame:
    """The catalogue with every missing ``cost`` filled and where each margin comes from.

    Parameters
    ----------
    catalog : DataFrame
        ``product_id, price``, optionally ``cost``, ``category_path``.
    params : DataFrame
        Per product ``product_id, elasticity_regular, elasticity_se, elasticity_source`` (the demand
        model's ``params_``).
    assumed_margin_rate : float
        For products with neither a cost, a margins-file rate nor an elasticity from price data.
    margins : mapping of category -> margin rate, optional
        See :func:`read_margins`.
    bounds : (float, float)
        Range of inferred margin rates.

    Returns
    -------
    DataFrame
        ``catalog`` plus ``margin_rate``, ``margin_low``, ``margin_high`` (90 % interval of an
        inferred rate) and ``margin_source``; ``cost`` filled.
    """
    out = catalog.copy()
    out["product_id"] = out["product_id"].astype(str)
    price = pd.to_numeric(out["price"], errors="coerce").to_numpy(float)
    cost = pd.to_numeric(out["cost"], errors="coerce").to_numpy(float) if "cost" in out else np.full(len(out), np.nan)
    p = params.assign(product_id=params["product_id"].astype(str)).set_index("product_id").reindex(out["product_id"])
    el = p["elasticity_regular"].to_numpy(float)
    se = p["elasticity_se"].to_numpy(float)
    evidence = p["elasticity_source"].isin(["own", "category", "given"]).to_numpy() & np.isfinite(el) & (el < 0)
    lo, hi = bounds
    raw = np.clip(-1 / np.where(evidence, el, -1.0), lo, hi)
    # delta method: var(-1/e) = se^2 / e^4
    var = np.where(evidence, (se / np.where(evidence, el, 1.0) ** 2) ** 2, np.inf)
    top = (out["category_path"].fillna("").astype(str).str.split(">").str[0].str.strip()
           if "category_path" in out else pd.Series("", index=out.index))
    rate = raw.copy()
    for _, idx in pd.Series(np.arange(len(out))).groupby(top.to_numpy()):
        own = idx.to_numpy()[evidence[idx.to_numpy()]]
        if len(own) < 2:
            continue
        tau2 = max(float(np.var(raw[own])) - float(np.median(var[own])), 0.03 ** 2)
        w = 1 / (var[own] + tau2)  # random-effects weights: no precise product outvotes its category
        mean = float((w * raw[own]).sum() / w.sum())
        keep = tau2 / (tau2 + var[own])  # the share of its own estimate a product keeps
        rate[own] = keep * raw[own] + (1 - keep) * mean
    sd = np.sqrt(np.where(np.isfinite(var), var, 0.0) + MODEL_SD ** 2)
    low, high = np.clip(rate - _Z90 * sd, lo, hi), np.clip(rate + _Z90 * sd, lo, hi)
    given = _given(out["category_path"] if "category_path" in out else pd.Series([""] * len(out)), margins or {})
    known = np.isfinite(cost)
    source = np.where(known, "cost", np.where(np.isfinite(given), "given",
                                              np.where(evidence, "inferred", "assumed"))).astype(object)
    final = np.select([known, np.isfinite(given), evidence],
                      [1 - cost / np.where(price > 0, price, np.nan), given, rate], assumed_margin_rate)
    out["cost"] = np.where(known, cost, price * (1 - final))
    out["margin_rate"] = final
    out["margin_low"] = np.where(source == "inferred", low, np.nan)
    out["margin_high"] = np.where(source == "inferred", high, np.nan)
    out["margin_source"] = source
    counts = pd.Series(source).value_counts().to_dict()
    log.info("margins: %s", ", ".join(f"{n:,} {s}" for s, n in counts.items()))
    return out


LERNER_TAU_FLOOR = 0.15
"""Smallest spread allowed between a product's elasticity and the one its margin implies: prices are set
by people, near the optimum but never at it."""


def lerner_prior(elasticity: np.ndarray, se: np.ndarray, price: np.ndarray, cost: np.ndarray,
                 evidence: np.ndarray, tau_floor: float = LERNER_TAU_FLOOR) -> tuple[np.ndarray, np.ndarray, dict]:
    """Elasticities at the regular price combined with the ones the known margins imply (empirical Bayes).

    A shop that prices near the profit optimum sets ``(p - c) / p ≈ -1 / e``, so with a cost column
    each product's margin says what its elasticity should be, ``e_L = -p / (p - c)``. The panel
    regression's estimate is noisy (its errors of ±0.3–0.7 decide whether a discount pays, since the
    first-order gain of a price cut is ``margin · |e| − 1``), so the two are combined: the offset
    ``b`` (shops pricing complements below the single-product optimum, say) and the spread ``tau``
    of ``e − e_L`` across products are estimated from the products with both (``tau² = var(e − e_L)
    − mean(se²)``, at least ``tau_floor²`` and ``b²``), and each elasticity becomes the
    precision-weighted mean of its own estimate and ``e_L + b``. A shop that prices far from the
    optimum shows a large ``tau`` or ``b``, and its estimates keep their weight.

    Parameters
    ----------
    elasticity, se : ndarray
        Own-price elasticities at the regular price and their standard errors.
    price, cost : ndarray
        Regular prices and unit costs (NaN: unknown, left alone).
    evidence : ndarray of bool
        Products whose elasticity rests on their own price variation: only they inform ``b`` and
        ``tau``. Every product with a cost and an ``se > 0`` is combined (a prior's large ``se``
        leaves it mostly the Lerner value); ``se == 0`` means known exactly and is kept.

    Returns
    -------
    (elasticity, se, info)
        Combined values (unchanged where the cost is unknown) and ``{"n", "offset", "tau"}``.

    Examples
    --------
    >>> e, s, info = lerner_prior(np.array([-3.0, -1.0, -2.0, -1.5]), np.array([0.5, 0.5, 0.5, 0.0]),
    ...                           np.array([10.0, 10.0, 10.0, 10.0]), np.array([5.0, 5.0, np.nan, 5.0]),
    ...                           np.array([True, True, True, True]))
    >>> bool(-3.0 < e[0] < -2.0 and -2.0 < e[1] < -1.0), float(e[2]), float(e[3])
    (True, -2.0, -1.5)
    """
    elasticity, se = np.asarray(elasticity, float).copy(), np.asarray(se, float).copy()
    ok = np.isfinite(cost) & np.isfinite(price) & (price > cost) & (cost >= 0) & np.isfinite(elasticity)
    if not ok.any():
        return elasticity, se, {"n": 0, "offset": 0.0, "tau": float("nan")}
    e_l = np.full(len(price), np.nan)
    e_l[ok] = -price[ok] / (price[ok] - cost[ok])
    both = ok & evidence & np.isfinite(se) & (se > 0)
    offset, tau2 = 0.0, tau_floor ** 2
    if both.sum() >= 3:
        d = elasticity[both] - e_l[both]
        w = 1 / se[both] ** 2
        offset = float((w * d).sum() / w.sum())
        # a shop whose margins miss its elasticities by `offset` on average prices off the optimum product by
        # product about as much: few, noisy products would otherwise let the floor trust the margins blindly
        tau2 = max(float(np.var(d)) - float(np.mean(se[both] ** 2)), tau_floor ** 2, offset ** 2)
    prior = e_l + offset
    upd = ok & np.isfinite(se) & (se > 0)  # an se of 0 is a value known exactly: kept
    prec = 1 / se[upd] ** 2 + 1 / tau2
    elasticity[upd] = (elasticity[upd] / se[upd] ** 2 + prior[upd] / tau2) / prec
    se[upd] = 1 / np.sqrt(prec)
    log.info("elasticities: %d combined with the margins' Lerner values (offset %+.2f, spread %.2f)",
             int(ok.sum()), offset, np.sqrt(tau2))
    return np.minimum(elasticity, -0.05), se, {"n": int(both.sum()), "offset": offset, "tau": float(np.sqrt(tau2))}


__all__ = ["LERNER_TAU_FLOOR", "MARGIN_BOUNDS", "MODEL_SD", "fill_costs", "lerner_prior", "read_margins"]
