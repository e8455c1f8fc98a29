"""Numerical helpers of the bundle demand model: normal tails, the bivariate normal orthant,
the log-normal reservation-price marginal and the mixed-bundling choice of simulated shoppers.

Nothing here knows about DataFrames or the warehouse; :mod:`bundlewise.bundles.demand` calibrates,
this module computes. (The simulator in :mod:`bundlewise.bundles.simulate` deliberately has its
own sampling code, so a bug here cannot hide by agreeing with itself.)

Examples
--------
>>> round(float(bvn_upper(0.0, 0.0, 0.0)), 6)   # P(Z1 > 0, Z2 > 0) of independent normals
0.25
>>> round(float(bvn_upper(0.0, 0.0, 0.5)), 6)   # 1/4 + arcsin(rho) / (2 pi)
0.333333
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr, ndtri, owens_t

# Elasticities closer to zero than this would mean reservation prices spread over orders of
# magnitude (sigma ~ 0.8 / 0.2 = 4 in logs): not a demand curve, a sign of a bad estimate.
MIN_ABS_ELASTICITY = 0.2
_EPS = 1e-12


def mills(x: np.ndarray | float) -> np.ndarray:
    """Inverse Mills ratio ``phi(x) / (1 - Phi(x))`` (the hazard of the standard normal)."""
    x = np.asarray(x, dtype=float)
    tail = ndtr(-x)
    pdf = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    return np.where(tail > 1e-300, pdf / np.maximum(tail, 1e-300), x)


def bvn_upper(a: np.ndarray | float, b: np.ndarray | float, rho: np.ndarray | float) -> np.ndarray:
    """``P(Z1 > a, Z2 > b)`` for standard normals with correlation ``rho`` (vectorised, broadcasting).

    Uses Owen's T: ``Phi2(h, k; r) = (Phi(h) + Phi(k)) / 2 - T(h, (k - r h) / (h s)) - T(k, (h - r k) / (k s)) - beta``
    with ``s = sqrt(1 - r^2)``, ``beta = 1/2`` when ``h k < 0`` (Owen 1956); the upper orthant is
    ``Phi2(-a, -b; rho)``.
    """
    h, k, r = np.broadcast_arrays(-np.asarray(a, float), -np.asarray(b, float), np.asarray(rho, float))
    r = np.clip(r, -0.999999, 0.999999)
    # Owen's formula divides by h and k: move exact zeros off by a hair (the function is continuous).
    h = np.where(np.abs(h) < 1e-10, 1e-10, h)
    k = np.where(np.abs(k) < 1e-10, 1e-10, k)
    s = np.sqrt(1.0 - r * r)
    beta = np.where(h * k < 0, 0.5, 0.0)
    out = 0.5 * (ndtr(h) + ndtr(k)) - owens_t(h, (k - r * h) / (h * s)) - owens_t(k, (h - r * k) / (k * s)) - beta
    lo = np.maximum(ndtr(h) + ndtr(k) - 1.0, 0.0)
    return np.clip(out, lo, np.minimum(ndtr(h), ndtr(k)))


def bvn_latent_corr(m_i: np.ndarray, m_j: np.ndarray, m_ij: np.ndarray, iters: int = 40) -> np.ndarray:
    """The latent normal correlation whose thresholded indicators have marginals ``m_i, m_j`` and joint
    ``m_ij`` (bisection, vectorised); targets outside the attainable range get the nearest bound."""
    a, b = ndtri(1.0 - np.clip(m_i, _EPS, 1 - _EPS)), ndtri(1.0 - np.clip(m_j, _EPS, 1 - _EPS))
    lo = np.full(np.shape(m_ij), -0.999)
    hi = np.full(np.shape(m_ij), 0.999)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = bvn_upper(a, b, mid) > m_ij
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


def marginal_from_rate(rate: np.ndarray, elasticity: np.ndarray, conversion: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Market share ``m``, standardised threshold ``x0`` and log-valuation spread ``sigma`` of products.

    A shopper is in the market with probability ``m`` and then values the product at
    ``p_ref * exp(sigma * (z - x0))``, ``z ~ N(0, 1)``; so at ``p_ref`` a share ``q = 1 - Phi(x0)`` of
    the market buys, the purchase rate is ``m q`` and its price elasticity is ``-mills(x0) / sigma``.
    ``q`` (the conversion of in-market shoppers at the reference price) is not identified by a
    rate and a slope; it is the documented prior ``conversion``, raised to the rate where the
    rate is higher (a product in more than ``conversion`` of baskets has ``m = 1``).
    """
    rate = np.clip(np.asarray(rate, float), 1e-9, 1 - 1e-9)
    q = np.maximum(conversion, rate)
    x0 = ndtri(1.0 - q)
    eps = np.maximum(np.abs(np.asarray(elasticity, float)), MIN_ABS_ELASTICITY)
    sigma = mills(x0) / eps
    return rate / q, x0, sigma


def conversion_at(price_ratio: np.ndarray, x0: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Share of in-market shoppers who buy at ``price_ratio * p_ref``."""
    return ndtr(-(x0 + np.log(price_ratio) / sigma))


def nearest_correlation(c: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """A correlation matrix near ``c`` (eigenvalues clipped, unit diagonal): pairwise estimates of
    three products need not be jointly consistent."""
    w, v = np.linalg.eigh(c)
    fixed = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def mixed_bundle_choice(values: np.ndarray, prices: np.ndarray, costs: np.ndarray, bp: np.ndarray,
                        response: float | np.ndarray = 1.0
                        ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Expected margin per shopper of a mixed bundling offer, for every bundle price at once.

    Each shopper (row of ``values``, shape ``(n, k)``, 0 where out of the market) takes the best
    surplus among every subset bought separately at ``prices`` (values are additive, so the best
    subset is each product whose value covers its price) and the bundle of all ``k`` at each of
    ``bp`` (shape ``(d,)``); ties go to the separate purchase.

    ``response`` (in [0, 1]) scales what the bundle changes for shoppers who do not already buy
    every product (conversions, trade-ups, switches); those who do take the bundle regardless
    and keep the full discount (the subsidy): see :func:`conditional_response`. One value for
    all, or one per pattern of separate purchases (shape ``(2**k,)``, bit ``i`` set where product
    ``i`` is bought; the all-bought pattern's entry is ignored).

    Returns
    -------
    base : float
        Margin per shopper without a bundle.
    with_bundle, take : float arrays, shape (d,)
        Margin per shopper with the bundle on offer; share buying the bundle.
    all_bought, first_bought : float arrays, shape (d + 1,)
        Share ending up with every product / with the first product: without bundle, then per price.
    """
    surplus = values - prices
    buys = surplus >= 0
    sep_surplus = np.where(buys, surplus, 0.0).sum(axis=1)
    sep_margin = (buys * (prices - costs)).sum(axis=1)
    bundle_surplus = values.sum(axis=1)[:, None] - bp[None, :]
    choose = (bundle_surplus > sep_surplus[:, None]) & (bundle_surplus >= 0)
    margin = np.where(choose, (bp - costs.sum())[None, :], sep_margin[:, None])
    all_sep = buys.all(axis=1)
    resp = np.asarray(response, float)
    if resp.ndim == 0:
        w = np.where(all_sep, 1.0, float(resp))[:, None]  # per shopper: how much of the change is real
    else:  # one weight per pattern of separate purchases (bit i: product i bought)
        w = np.where(all_sep, 1.0, resp[(buys * (1 << np.arange(buys.shape[1]))).sum(axis=1)])[:, None]
    base = float(sep_margin.mean())
    with_b = base + (w * (margin - sep_margin[:, None])).mean(axis=0)
    take = (w * choose).mean(axis=0)
    all_b = np.concatenate([[all_sep.mean()], all_sep.mean() + (w * (choose & ~all_sep[:, None])).mean(axis=0)])
    first = np.concatenate([[buys[:, 0].mean()],
                            buys[:, 0].mean() + (w * (choose & ~buys[:, [0]])).mean(axis=0)])
    return base, with_b, take, all_b, first


def attach_slopes(per: np.ndarray, prices: np.ndarray, model_cond: np.ndarray) -> list[dict[str, float]]:
    """Per direction of a pair, how the attach rate answered the partner's price, in the data and in the model.

    Direction 0 is ``P(B | A bought)`` against ``log p_B``, direction 1 ``P(A | B bought)`` against
    ``log p_A``: the weighted least squares slope per period (own price held fixed), observed and
    the same regression on the model's conditional ``model_cond`` (periods, 2) at the observed
    prices. Returns, for each direction with price variation and a model that expects a response,
    ``{"direction", "ratio", "precision", "level", "observed", "model"}``: the ratio of the slopes,
    its precision (``(model slope / se)^2``) and the attach level (share of the conditioning
    product's buyers who also buy the partner).
    """
    n_ab = per[:, 3].astype(float)
    given = [(per[:, 1] + per[:, 3]).astype(float), (per[:, 2] + per[:, 3]).astype(float)]
    logp = np.log(prices)
    out = []
    for cond_on, other in ((0, 1), (1, 0)):
        n = given[cond_on]
        ok = n > 0
        if ok.sum() < 8 or logp[ok, other].std() < 1e-6:
            continue
        x = np.column_stack([np.ones(ok.sum()), logp[ok, other], logp[ok, cond_on]])
        w = n[ok]
        xtwx = x.T @ (x * w[:, None])
        try:
            inv = np.linalg.inv(xtwx)
        except np.linalg.LinAlgError:
            continue
        y = np.log((n_ab[ok] + 0.5) / (n[ok] + 1.0))
        beta = inv @ (x.T @ (w * y))
        resid = y - x @ beta
        s2 = float((w * resid ** 2).sum() / max(ok.sum() - 3, 1))
        se = float(np.sqrt(max(s2 * inv[1, 1], 1e-12)))
        ym = np.log(np.clip(model_cond[ok, cond_on], 1e-9, 1.0))
        slope_m = float((inv @ (x.T @ (w * ym)))[1])
        if slope_m > -0.05:  # the model expects no response: nothing to scale
            continue
        out.append({"direction": cond_on, "ratio": float(beta[1]) / slope_m, "precision": (slope_m / se) ** 2,
                    "level": float(n_ab.sum() / max(n.sum(), 1.0)), "observed": float(beta[1]), "model": slope_m})
    return out


def shrink_response(directions: list[dict[str, float]], prior_mean: float | Sequence[float] = 1.0,
                    prior_sd: float = 0.5) -> tuple[float, float, tuple[float, float]]:
    """The response ratio of a pair from its directions (:func:`attach_slopes`): each direction's ratio
    shrunk toward its prior mean (one value, or one per direction) with sd ``prior_sd``, clipped to
    [0, 1]. Returns ``(mean ratio, its sd, (ratio of direction 0, ratio of direction 1))``; a direction
    without data takes the other's value (the prior's when neither has data: then the sd is 0 and
    the ratio 1 for a prior of 1)."""
    means = np.broadcast_to(np.asarray(prior_mean, float), (2,))
    if not directions:
        r = float(np.clip(means.mean(), 0.0, 1.0))
        sd = 0.0 if r == 1.0 else float(prior_sd)
        return r, sd, (float(np.clip(means[0], 0, 1)), float(np.clip(means[1], 0, 1)))
    per_dir: dict[int, float] = {}
    precs = []
    for d in directions:
        k = int(d["direction"])
        post = (means[k] / prior_sd ** 2 + d["ratio"] * d["precision"]) / (1.0 / prior_sd ** 2 + d["precision"])
        per_dir[k] = float(np.clip(post, 0.0, 1.0))
        precs.append(d["precision"])
    r0, r1 = per_dir.get(0, per_dir.get(1)), per_dir.get(1, per_dir.get(0))
    if np.ndim(prior_mean) == 0:  # one prior for the pair: the precision-weighted mean of the directions
        prec = np.array(precs)
        raw = float(np.average([d["ratio"] for d in directions], weights=prec))
        mean = (means[0] / prior_sd ** 2 + raw * prec.sum()) / (1.0 / prior_sd ** 2 + prec.sum())
        mean = float(np.clip(mean, 0.0, 1.0))
    else:
        mean = float(np.mean([r0, r1]))
    sd = float(np.sqrt(1.0 / (1.0 / prior_sd ** 2 + float(np.sum(precs)))))
    return mean, sd, (float(r0), float(r1))


def conditional_response(per: np.ndarray, prices: np.ndarray, model_cond: np.ndarray,
                         prior_sd: float = 0.5) -> tuple[float, float, float, float]:
    """How much of the model's bundle response the data back: attach rates against the partner's price.

    A bundle discount is, for a buyer of A, a price cut on B; the data show how buyers of A
    answered real cuts on B. Per direction (B given A, A given B), :func:`attach_slopes`; their
    ratio, averaged over the directions with price variation, is shrunk toward 1 (normal prior
    ``N(1, prior_sd^2)``, the observed slope's standard error as its noise) and clipped to [0, 1]:
    the data may only say the model's pool of convertible shoppers is too large, never inflate it.
    Returns ``(ratio, its posterior sd, observed slope, model slope)`` (1, 0, NaN, NaN without price
    variation).

    Examples
    --------
    Weeks with B cut 20 % (row 2) and A cut 20 % (row 3): the attach rates hardly move (0.75 ->
    0.78), where the model expected 0.75 -> 0.90.

    >>> per = np.array([[100, 10, 10, 30], [100, 9, 12, 31], [100, 12, 9, 31], [100, 10, 10, 30]] * 4)
    >>> prices = np.array([[1.0, 1.0], [1.0, 0.8], [0.8, 1.0], [1.0, 1.0]] * 4)
    >>> cond = np.array([[0.75, 0.75], [0.9, 0.75], [0.75, 0.9], [0.75, 0.75]] * 4)
    >>> r, sd, obs, mod = conditional_response(per, prices, cond)
    >>> round(r, 2), round(sd, 2), round(obs, 2), round(mod, 2)
    (0.18, 0.0, -0.14, -0.82)
    """
    dirs = attach_slopes(per, prices, model_cond)
    if not dirs:
        return 1.0, 0.0, float("nan"), float("nan")
    mean, sd, _ = shrink_response(dirs, 1.0, prior_sd)
    return mean, sd, float(np.mean([d["observed"] for d in dirs])), float(np.mean([d["model"] for d in dirs]))


def rate_regressions(per: np.ndarray, prices: np.ndarray) -> tuple[np.ndarray | None, float, float]:
    """Per-period purchase rates of two products regressed on both prices.

    Weighted least squares of ``log(rate_i)`` on ``1, log p_i, log p_j`` (weights: purchases, the
    inverse variance of a log count). Returns the fitted rates (periods, 2) — None without enough
    periods or price variation — and the mean cross-price elasticity with its standard error.
    """
    n_w = per.sum(axis=1).astype(float)
    buys = [(per[:, 1] + per[:, 3]).astype(float), (per[:, 2] + per[:, 3]).astype(float)]
    logp = np.log(prices)
    ok = n_w > 0
    if ok.sum() < 8 or (logp[ok].std(axis=0) < 1e-6).any():
        return None, float("nan"), float("nan")
    fitted = np.empty((len(n_w), 2))
    est, var = [], []
    for own, other, n in ((0, 1, buys[0]), (1, 0, buys[1])):
        y = np.log((n[ok] + 0.5) / n_w[ok])
        x = np.column_stack([np.ones(ok.sum()), logp[ok, own], logp[ok, other]])
        w = n[ok] + 0.5
        xtwx = x.T @ (x * w[:, None])
        beta = np.linalg.solve(xtwx, x.T @ (w * y))
        resid = y - x @ beta
        s2 = float((w * resid ** 2).sum() / max(ok.sum() - 3, 1))
        est.append(beta[2])
        var.append(s2 * np.linalg.inv(xtwx)[2, 2])
        fitted[:, own] = np.exp(beta[0] + beta[1] * logp[:, own] + beta[2] * logp[:, other])
    return fitted, float(np.mean(est)), float(np.sqrt(sum(var)) / 2)


def point_from_arc(arc: np.ndarray, log_ratio: np.ndarray, seen: np.ndarray, rate: np.ndarray,
                   conversion: float | np.ndarray, iters: int = 60) -> np.ndarray:
    """The point elasticity at the calibration price whose log-normal demand curve reproduces the
    log-log slope ``arc`` measured over the observed prices (vectorised over products).

    A log-log regression over promotion weeks measures an *arc* elasticity: the chord of the demand
    curve between the regular price and the promotion prices. Where demand steepens with the price
    (any unimodal valuation, the log-normal included) that chord is flatter than the curve at the
    calibration price, and a model calibrated on it believes too few shoppers sit near the price:
    it under-discounts. Here ``sigma`` is solved so that the model's own curve, evaluated at the
    observed prices of each period (``log_ratio``: log price over calibration price, shape
    ``(periods, products)``; ``seen``: where a price was observed) and regressed the same way, has
    slope ``arc``; the point elasticity at the calibration price follows. Products without price
    variation keep ``arc``.

    Examples
    --------
    >>> lr = np.log(np.array([[1.0], [1.0], [0.8], [1.0]]))
    >>> point = point_from_arc(np.array([-2.0]), lr, np.ones_like(lr, bool), np.array([0.1]), 0.5)
    >>> bool(point[0] < -2.0)
    True
    """
    arc = np.asarray(arc, float)
    w = np.asarray(seen, float)
    n = w.sum(axis=0)
    lr = np.where(seen, log_ratio, 0.0)
    lbar = (w * lr).sum(axis=0) / np.maximum(n, 1)
    dl = np.where(seen, lr - lbar, 0.0)
    var = (w * dl * dl).sum(axis=0)
    ok = (n >= 3) & (var > 1e-8 * np.maximum(n, 1)) & np.isfinite(arc) & (arc < 0)
    q = np.maximum(conversion, np.clip(np.asarray(rate, float), 1e-9, 1 - 1e-9))
    x0 = ndtri(1.0 - q)

    def slope(sigma: np.ndarray) -> np.ndarray:
        lq = np.log(np.maximum(ndtr(-(x0 + lr / sigma)), 1e-300))
        return (w * dl * lq).sum(axis=0) / np.maximum(var, 1e-300)

    lo, hi = np.full(arc.shape, np.log(1e-3)), np.full(arc.shape, np.log(1e3))
    for _ in range(iters):  # the slope flattens as sigma grows: bisection on log sigma
        mid = 0.5 * (lo + hi)
        steeper = slope(np.exp(mid)) < arc
        lo, hi = np.where(steeper, mid, lo), np.where(steeper, hi, mid)
    point = -mills(x0) / np.exp(0.5 * (lo + hi))
    return np.where(ok, np.minimum(point, -MIN_ABS_ELASTICITY), arc)
