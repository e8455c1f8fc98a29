"""Own-price elasticities from a price/quantity panel, pooled by category with shrinkage.

The model, per row (product ``i``, store ``s``, period ``t``)::

    log q = a[i, s] + g[category(i), t] + b[i] * log p + d[i] * promo + e

``a`` are product x store fixed effects (level of demand), ``g`` period effects shared by the
products of a category (season, traffic, holidays: what moves every product at once),
``b`` the own-price elasticity and ``d`` a promotion (display, feature, deal) effect when the
panel has a ``promo`` column with variation (and further ``controls``). A control that moves
with the price (R² > 0.8 within the product, e.g. a promo flag set exactly when a discount
lowers the paid price) is dropped for that product, so the price keeps its effect. The fixed
effects are swept out by alternating projections (backfitting), so the fit is a handful of
``bincount`` passes, never a dense design matrix. Standard errors are the OLS ones (not
clustered), so they are optimistic where errors are correlated over time.

Validated on Dominick's refrigerated orange juice (``tests/bundles/test_elasticity.py``):
with a feature-ad control the 11 brands come out between -2.0 and -3.8 (median -3.2); with the
other brands' mean log price as a cross-price control, median -2.9 (the published range is
typically -2 to -3). Borden sliced cheese: -2.5.

Empirical Bayes shrinkage then pulls each estimate toward its category mean with the
between-product variance estimated from the data (DerSimonian–Laird); the category mean is
itself shrunk toward the documented prior ``N(prior_mean, prior_sd**2)``. Products with too
little price variation take the category mean (``source="category"``), categories with no
usable product take the prior (``source="prior"``).

Caveat: a panel built from orders has no row for a period without sales (``log 0``), so weeks
where a high price killed demand are missing and elasticities are biased toward zero; the
prior and the category pooling temper that, they do not remove it.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> price = rng.choice([1.0, 1.2, 1.5], size=200)
>>> panel = pd.DataFrame({"product_id": "oj", "period": np.arange(200), "price": price,
...                       "quantity": np.exp(5 - 2.5 * np.log(price) + rng.normal(0, 0.1, 200))})
>>> est = estimate_elasticities(panel)
>>> est[["product_id", "source", "n_price_levels"]].values.tolist()
[['oj', 'own', 3]]
>>> bool(-2.7 < est["elasticity"].iloc[0] < -2.3)
True
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bundlewise.bundles import _valuation as val
from bundlewise.errors import ConfigError, DataValidationError, allowed
from bundlewise.ingest.warehouse import Warehouse

log = logging.getLogger(__name__)

PANEL_COLUMNS = ("product_id", "period", "price", "quantity")
OPTIONAL_COLUMNS = ("store_id", "category", "promo")
OUTPUT_COLUMNS = ("product_id", "category", "elasticity", "se", "n_obs", "n_price_levels", "source")
PERIODS = ("day", "week", "month")
DEFAULT_CATEGORY = "all"
# Below this between-product spread the pooled model would force every product onto the
# category mean; a floor keeps a product with strong own evidence from being overruled.
# The smallest between-product spread of elasticities in a category. With few products the
# random-effects estimate is often ~0, and at a floor of 0.1 a product's own estimate (se ~0.2)
# counted for a sixth of its value: complements whose own-price arc was -0.74 were priced at the
# category's -1.3 and discounted deeply (independent markets, bench/markets). Meta-analyses put
# the spread near 1; 0.5 keeps real shrinkage for noisy products.
_MIN_TAU = 0.5
_MAX_CONTROL_R2 = 0.8
_MAX_ITER = 500
_TOL = 1e-9
PRIOR_ELASTICITY = -2.5
"""Prior own-price elasticity (mean), the one default of every bundle stage. The meta-analytic mean of Bijmolt,
van Heerde & Pieters (2005) is -2.62, and Dominick's orange juice gives -2 to -3. It matters: a discount pays only
where the margin rate is above about ``1 / |elasticity|`` (the inverse-elasticity rule), so with an assumed 30 %
margin a prior of -1.5 would rule out nearly every bundle."""
PRIOR_ELASTICITY_SD = 1.0
"""Spread of that prior: ±1 covers most of the published grocery range (-0.5 to -5)."""


def estimate_elasticities(panel: pd.DataFrame, *, prior_mean: float = PRIOR_ELASTICITY,
                          prior_sd: float = PRIOR_ELASTICITY_SD,
                          min_price_levels: int = 2, min_obs: int = 8,
                          controls: tuple[str, ...] = ()) -> pd.DataFrame:
    """Own-price elasticity of every product of a price/quantity panel.

    Parameters
    ----------
    panel : DataFrame
        Columns ``product_id, period, price, quantity`` and optionally ``store_id``,
        ``category`` and ``promo`` (0/1). Several rows of the same product, store and period
        are merged (quantities summed, prices quantity-weighted). Rows with a price or
        quantity <= 0 or missing are left out (the model is in logs).
    prior_mean, prior_sd : float
        The prior of a category mean and of products of categories without usable data.
        Default :data:`PRIOR_ELASTICITY` ± :data:`PRIOR_ELASTICITY_SD` (-2.5 ± 1.0; Bijmolt et al.
        2005 meta-analysis: mean -2.6, most between -0.5 and -5).
    min_price_levels : int
        Distinct prices (0.1 % apart) a product needs for its own estimate.
    min_obs : int
        Rows a product needs for its own estimate.
    controls : tuple of str
        Further numeric columns of ``panel`` entered as per-product regressors beside
        ``promo`` (e.g. ``("feat",)``: a feature-ad flag).

    Returns
    -------
    DataFrame
        One row per product: ``product_id, category, elasticity, se, n_obs, n_price_levels,
        source`` with ``source`` one of ``own`` (own data, shrunk toward the category),
        ``category`` (the category mean) or ``prior``. Sorted by product_id.
        ``attrs["raw"]`` holds the unshrunk per-product estimates (``b, se_b`` and the
        coefficients of promo and the controls).

    Raises
    ------
    DataValidationError
        A required column is missing.
    ConfigError
        A parameter is out of range.
    """
    if prior_sd <= 0:
        raise ConfigError(f"prior_sd is {prior_sd}; it must be > 0")
    if min_price_levels < 2:
        raise ConfigError(f"min_price_levels is {min_price_levels}; a slope needs at least 2 distinct prices")
    missing = [c for c in controls if c not in panel.columns]
    if missing:
        raise ConfigError(f"control column(s) {allowed(missing)} are not in the panel; its columns are "
                          f"{allowed(list(panel.columns))}")
    df = _clean(panel, tuple(controls))
    raw = _fit_panel(df, min_price_levels, min_obs, ("promo", *controls))
    out = _shrink(raw, prior_mean, prior_sd)
    out.attrs["raw"] = raw
    return out


def _clean(panel: pd.DataFrame, controls: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise DataValidationError(f"the price panel lacks column(s) {allowed(missing)}; it needs "
                                  f"{allowed(PANEL_COLUMNS)} and may have {allowed(OPTIONAL_COLUMNS)}")
    df = pd.DataFrame({"product_id": panel["product_id"].astype(str), "period": panel["period"],
                       "price": pd.to_numeric(panel["price"], errors="coerce"),
                       "quantity": pd.to_numeric(panel["quantity"], errors="coerce")})
    df["store_id"] = panel["store_id"].astype(str) if "store_id" in panel else ""
    df["category"] = (panel["category"].fillna(DEFAULT_CATEGORY).astype(str).replace("", DEFAULT_CATEGORY)
                      if "category" in panel else DEFAULT_CATEGORY)
    df["promo"] = pd.to_numeric(panel["promo"], errors="coerce").fillna(0).clip(0, 1) if "promo" in panel else 0.0
    for c in controls:
        df[c] = pd.to_numeric(panel[c], errors="coerce").fillna(0.0)
    all_products = df.groupby("product_id", sort=True)["category"].first()
    ok = (df["price"] > 0) & (df["quantity"] > 0)
    df = df[ok.fillna(False)]
    df = df.assign(revenue=df["price"] * df["quantity"])
    df = (df.groupby(["product_id", "store_id", "period"], sort=True, observed=True)
          .agg(category=("category", "first"), quantity=("quantity", "sum"), revenue=("revenue", "sum"),
               promo=("promo", "max"), **{c: (c, "mean") for c in controls})
          .reset_index())
    df["price"] = df["revenue"] / df["quantity"]
    df.attrs["all_products"] = all_products
    return df


def _fit_panel(df: pd.DataFrame, min_price_levels: int, min_obs: int, controls: tuple[str, ...]) -> pd.DataFrame:
    """Backfitting of ``log q = a[i,s] + g[c,t] + b[i] log p + d[i] . controls``; one row per product."""
    all_products = df.attrs["all_products"]
    products = all_products.index.to_numpy()
    n_prod = len(products)
    prod = np.searchsorted(products, df["product_id"].to_numpy())
    levels = np.zeros(n_prod, dtype=np.int64)
    n_obs = np.bincount(prod, minlength=n_prod)
    if len(df):
        lv = df.assign(c=np.log(df["price"]).round(3)).groupby("product_id")["c"].nunique()
        levels[np.searchsorted(products, lv.index.to_numpy())] = lv.to_numpy()
    usable = (levels >= min_price_levels) & (n_obs >= min_obs)
    rows = usable[prod]
    coef = np.full((n_prod, 1 + len(controls)), np.nan)
    se = np.full(n_prod, np.nan)
    if rows.any():
        sub = df[rows]
        p = prod[rows]
        unit = sub.groupby(["product_id", "store_id"], sort=False).ngroup().to_numpy()
        cell = sub.groupby(["category", "period"], sort=False).ngroup().to_numpy()
        x = np.column_stack([np.log(sub["price"].to_numpy())] + [sub[c].to_numpy(float) for c in controls])
        coef, se = _backfit(np.log(sub["quantity"].to_numpy()), x, p, unit, cell, n_prod)
    out = pd.DataFrame({"product_id": products, "category": all_products.to_numpy(), "b": coef[:, 0],
                        "se_b": se, "n_obs": n_obs, "n_price_levels": levels})
    for j, c in enumerate(controls, start=1):
        out[c] = coef[:, j]
    return out


def _group_mean(v: np.ndarray, g: np.ndarray, counts: np.ndarray) -> np.ndarray:
    if v.ndim == 2:
        return np.stack([_group_mean(v[:, j], g, counts) for j in range(v.shape[1])], axis=1)
    return np.bincount(g, weights=v, minlength=len(counts)) / counts


def _backfit(y: np.ndarray, x: np.ndarray, p: np.ndarray, unit: np.ndarray, cell: np.ndarray,
             n_prod: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-product slopes on ``x`` (column 0: log price) with unit and cell fixed effects."""
    n_unit, n_cell, k = unit.max() + 1, cell.max() + 1, x.shape[1]
    cu = np.bincount(unit, minlength=n_unit).astype(float)
    cc = np.bincount(cell, minlength=n_cell).astype(float)
    # A period effect is identified only where two or more units (product x store) share the
    # cell; alone, it would soak up the row and leave the slope to chance.
    shared = cc >= 2
    # the regressors are demeaned within units once; only y - g changes between sweeps
    xd = x - _group_mean(x, unit, cu)[unit]
    s = np.zeros((n_prod, k, k))
    for i in range(k):
        for j in range(i, k):
            s[:, i, j] = s[:, j, i] = np.bincount(p, weights=xd[:, i] * xd[:, j], minlength=n_prod)
    # a control with no variation within a product (no promo weeks) gets a zero coefficient
    diag = np.einsum("pii->pi", s)
    flat = diag < 1e-9 * np.maximum(diag[:, :1], 1e-300)
    flat[:, 0] = diag[:, 0] <= 1e-12
    # A control that moves with the price (a promo flag set exactly when a discount lowers the
    # paid price, as in panels built from order lines) would split the price effect at random;
    # the price keeps it.
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = s[:, 0, :] ** 2 / (diag[:, :1] * diag)
    flat[:, 1:] |= np.nan_to_num(r2[:, 1:]) > _MAX_CONTROL_R2
    for j in range(k):
        s[flat[:, j], j, :] = 0.0
        s[flat[:, j], :, j] = 0.0
        s[flat[:, j], j, j] = 1.0
    s_inv = np.linalg.pinv(s)
    g = np.zeros(n_cell)
    coef = np.zeros((n_prod, k))
    a = np.zeros(n_unit)
    for _ in range(_MAX_ITER):
        r = y - g[cell]
        rd = r - _group_mean(r, unit, cu)[unit]
        rhs = np.stack([np.bincount(p, weights=xd[:, j] * rd, minlength=n_prod) for j in range(k)], axis=1)
        rhs[flat] = 0.0
        coef_new = np.einsum("pij,pj->pi", s_inv, rhs)
        fitted = (coef_new[p] * x).sum(axis=1)
        a = _group_mean(y - g[cell] - fitted, unit, cu)
        g_new = np.where(shared, _group_mean(y - a[unit] - fitted, cell, cc), 0.0)
        delta = max(np.abs(coef_new - coef).max(), np.abs(g_new - g).max())
        coef, g = coef_new, g_new
        if delta < _TOL:
            break
    resid = y - a[unit] - g[cell] - (coef[p] * x).sum(axis=1)
    ssr = np.bincount(p, weights=resid * resid, minlength=n_prod)
    n = np.bincount(p, minlength=n_prod)
    unit_prod = np.zeros(n_unit, dtype=np.int64)
    unit_prod[unit] = p  # a unit is one product in one store
    # each estimated period effect uses one degree of freedom, shared by the rows of its cell
    used = np.bincount(p, weights=np.where(shared[cell], 1.0 / cc[cell], 0.0), minlength=n_prod)
    dof = np.floor(n - np.bincount(unit_prod, minlength=n_prod) - (~flat).sum(axis=1) - used)
    sigma2 = ssr / np.maximum(dof, 1)
    ok = (n > 0) & ~flat[:, 0] & (dof >= 1)
    se = np.where(ok, np.sqrt(np.maximum(sigma2 * s_inv[:, 0, 0], 1e-12)), np.nan)
    coef[~ok] = np.nan
    return coef, se


def _shrink(raw: pd.DataFrame, prior_mean: float, prior_sd: float) -> pd.DataFrame:
    parts = []
    for category, grp in raw.groupby("category", sort=True):
        own = grp["b"].notna().to_numpy()
        b, s2 = grp["b"].to_numpy(), grp["se_b"].to_numpy() ** 2
        elasticity = np.full(len(grp), float(prior_mean))
        se = np.full(len(grp), float(prior_sd))
        source = np.array(["prior"] * len(grp), dtype=object)
        if own.any():
            mu, var_mu, tau2 = _category_mean(b[own], s2[own], prior_mean, prior_sd)
            prec = 1.0 / s2[own] + 1.0 / tau2
            elasticity[own] = (b[own] / s2[own] + mu / tau2) / prec
            se[own] = np.sqrt(1.0 / prec)
            source[own] = "own"
            elasticity[~own] = mu
            se[~own] = np.sqrt(var_mu + tau2)
            source[~own] = "category"
            log.info("category %s: %d own estimates, mean %.2f, between-product sd %.2f", category, own.sum(), mu,
                     np.sqrt(tau2))
        parts.append(pd.DataFrame({"product_id": grp["product_id"].to_numpy(), "category": category,
                                   "elasticity": elasticity, "se": se, "n_obs": grp["n_obs"].to_numpy(),
                                   "n_price_levels": grp["n_price_levels"].to_numpy(), "source": source}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("product_id", "category", "source") else float)
                             for c in OUTPUT_COLUMNS})
    out = pd.concat(parts, ignore_index=True).sort_values("product_id", kind="stable").reset_index(drop=True)
    out["n_obs"] = out["n_obs"].astype(np.int64)
    out["n_price_levels"] = out["n_price_levels"].astype(np.int64)
    return out[list(OUTPUT_COLUMNS)]


def _category_mean(b: np.ndarray, s2: np.ndarray, prior_mean: float, prior_sd: float) -> tuple[float, float, float]:
    """Random-effects mean (shrunk toward the prior), its variance and the between-product variance."""
    k = len(b)
    w = 1.0 / s2
    if k >= 2:
        mu_fixed = float((w * b).sum() / w.sum())
        q = float((w * (b - mu_fixed) ** 2).sum())
        denom = float(w.sum() - (w * w).sum() / w.sum())
        tau2 = max((q - (k - 1)) / denom if denom > 0 else 0.0, _MIN_TAU ** 2)
    else:
        tau2 = prior_sd ** 2  # one product says nothing about the spread: keep the prior's
    wr = 1.0 / (s2 + tau2)
    mu_data, var_data = float((wr * b).sum() / wr.sum()), float(1.0 / wr.sum())
    prec = 1.0 / var_data + 1.0 / prior_sd ** 2
    mu = (mu_data / var_data + prior_mean / prior_sd ** 2) / prec
    return mu, 1.0 / prec, tau2


def price_panel_from_warehouse(wh: Warehouse, period: str = "week") -> pd.DataFrame:
    """A price/quantity panel from the warehouse's sales, for :func:`estimate_elasticities`.

    One row per product, store and period: units sold (sales, positive quantity and price,
    real products), the quantity-weighted mean paid unit price, ``promo`` = 1 when any line had
    a non-zero discount, and the product's top-level category (text before the first ``>``
    of ``category_path``; ``"all"`` when unknown).

    Parameters
    ----------
    wh : Warehouse
    period : {"day", "week", "month"}

    Returns
    -------
    DataFrame
        ``product_id, period, price, quantity, store_id, category, promo``.

    Examples
    --------
    >>> from bundlewise.ingest import Warehouse
    >>> with Warehouse(":memory:") as wh:
    ...     price_panel_from_warehouse(wh).columns.tolist()
    ['product_id', 'period', 'price', 'quantity', 'store_id', 'category', 'promo']
    """
    if period not in PERIODS:
        raise ConfigError(f"period is {period!r}; allowed values are {allowed(PERIODS)}")
    df = wh.con.sql(f"""
        SELECT l.product_id, date_trunc('{period}', o.ordered_at) AS period,
               sum(l.quantity * l.unit_price) / sum(l.quantity) AS price, sum(l.quantity) AS quantity,
               coalesce(o.store_id, '') AS store_id,
               coalesce(nullif(trim(split_part(any_value(p.category_path), '>', 1)), ''), '{DEFAULT_CATEGORY}')
                   AS category,
               max(CASE WHEN coalesce(l.discount, 0) <> 0 THEN 1 ELSE 0 END) AS promo
        FROM order_lines l JOIN orders o USING (order_id) JOIN products p USING (product_id)
        WHERE o.kind = 'sale' AND p.is_product AND l.quantity > 0 AND l.unit_price > 0
          AND o.ordered_at IS NOT NULL
        GROUP BY l.product_id, 2, 5
        ORDER BY l.product_id, 2, 5""").df()
    df["promo"] = df["promo"].astype(np.int64)
    return df[["product_id", "period", "price", "quantity", "store_id", "category", "promo"]]


def elasticities_for(ids: np.ndarray, table: pd.DataFrame | None, prior: float = PRIOR_ELASTICITY,
                     prior_sd: float = PRIOR_ELASTICITY_SD) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elasticity, standard error and source of each of ``ids`` from a table in the format of
    :func:`estimate_elasticities` (``product_id, elasticity`` [, ``se``, ``source``]); products it lacks
    take ``prior`` ± ``prior_sd`` (``source="prior"``), non-negative values are clipped to
    ``-MIN_ABS_ELASTICITY`` of :mod:`bundlewise.bundles._valuation`, a table without ``source`` is ``"given"``."""
    el = np.full(len(ids), float(prior))
    se = np.full(len(ids), float(prior_sd))
    src = np.full(len(ids), "prior", dtype=object)
    if table is None or not len(table):
        return el, se, src
    if "elasticity" not in table.columns or "product_id" not in table.columns:
        raise DataValidationError("the elasticities table needs columns 'product_id', 'elasticity' (and "
                                  "optionally 'se', 'source'); see bundles.elasticity.estimate_elasticities")
    t = table.assign(product_id=table["product_id"].astype(str)).drop_duplicates("product_id")
    t = t.set_index("product_id").reindex(ids)
    have = t["elasticity"].notna().to_numpy()
    e = t["elasticity"].to_numpy(float)
    if (e[have] >= 0).any():
        log.warning("%d non-negative elasticities clipped to -%.1f", int((e[have] >= 0).sum()),
                    val.MIN_ABS_ELASTICITY)
    el[have] = np.minimum(e[have], -val.MIN_ABS_ELASTICITY)
    if "se" in t:
        s = t["se"].to_numpy(float)
        se[have] = np.where(np.isfinite(s[have]), s[have], prior_sd)
    src[have] = t["source"].to_numpy(object)[have] if "source" in t else "given"
    return el, se, src
