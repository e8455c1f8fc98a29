"""The per-pair calibration of :class:`~bundlewise.bundles.demand.BundleDemandModel`: valuation correlation
from how conditional purchase rates move with prices, the joint membership, and how far the data back the
model's bundle response (:func:`~bundlewise.bundles._valuation.conditional_response`).

Kept apart from the model's module for its size; it reads the fitted model's state and caches each pair
on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from bundlewise.bundles import _valuation as val

RHO_GRID = np.round(np.linspace(-0.8, 0.95, 36), 4)


def pair_posterior(model: Any, i: int, j: int) -> dict[str, Any]:
    """Valuation correlation posterior of products ``i < j`` from per-period conditional purchase rates."""
    key = (min(i, j), max(i, j))
    if key in model._pairs:
        return model._pairs[key]
    i, j = key
    P = model.params_
    _, per = model._patterns(np.array([i, j]))
    n_w = per.sum(axis=1).astype(float)
    n_a, n_b, n_ab = (per[:, 1] + per[:, 3]).astype(float), (per[:, 2] + per[:, 3]).astype(float), per[:, 3]
    th = []
    for c in (i, j):
        ratio = model._prices_over_periods(c) / P["calib_price"].iat[c]
        th.append(P["x0"].iat[c] + np.log(ratio) / P["sigma"].iat[c])
    m_a, m_b = P["market_share"].iat[i], P["market_share"].iat[j]
    grid = RHO_GRID[:, None]
    joint = val.bvn_upper(th[0][None, :], th[1][None, :], grid)  # (G, W) conversion of both, in market
    m_ab = n_ab.sum() / np.maximum((joint * n_w[None, :]).sum(axis=1), 1e-300)
    feasible = (m_ab <= min(m_a, m_b) * 1.0001) & (m_ab >= max(0.0, m_a + m_b - 1) - 1e-9)
    q_a, q_b = ndtr(-th[0]), ndtr(-th[1])
    fitted, cross, cross_se = val.rate_regressions(per, np.column_stack([model._prices_over_periods(i),
                                                                       model._prices_over_periods(j)]))
    ll = np.zeros(len(RHO_GRID))
    for q, n_cond, other in ((q_a, n_a, 1), (q_b, n_b, 0)):
        # Only the *shape* of P(B | A bought) across periods identifies rho: its level is profiled
        # out, and B's own-price response is taken from the data (fitted rates), so neither an
        # error in the level nor in B's elasticity can pose as correlation. Under rho = 0 the
        # conditional is proportional to B's rate; correlation adds a dependence on A's price.
        lift = joint / (q_a * q_b)[None, :]
        shape = lift * (fitted[:, other][None, :] if fitted is not None else (q_a * q_b / q)[None, :])
        level = n_ab.sum() / np.maximum((shape * n_cond[None, :]).sum(axis=1), 1e-300)
        pi = np.clip(level[:, None] * shape, 1e-9, 1 - 1e-9)
        ll += 0.5 * (n_ab[None, :] * np.log(pi) + (n_cond - n_ab)[None, :] * np.log1p(-pi)).sum(axis=1)
    logpost = ll - 0.5 * (RHO_GRID / model.rho_prior_sd) ** 2
    if not feasible.any():  # co-purchase outside what the grid can explain: the closest end
        excess = m_ab - min(m_a, m_b)
        feasible = np.zeros(len(RHO_GRID), dtype=bool)
        feasible[int(np.argmin(np.where(excess > 0, excess, np.inf))) if (excess > 0).all() else 0] = True
    if model.attribution != "auto":  # a point mass: all excess co-purchase from one source
        target = np.abs(RHO_GRID) if model.attribution == "need" else np.abs(m_ab - m_a * m_b)
        point = np.zeros(len(RHO_GRID))
        point[int(np.argmin(np.where(feasible, target, np.inf)))] = 1.0
        logpost = np.log(np.maximum(point, 1e-300))
    logpost = np.where(feasible, logpost, -np.inf)
    post = np.exp(logpost - logpost.max())
    post /= post.sum()
    best = int(np.argmax(post))
    rho = float(RHO_GRID[best])
    mean = float((post * RHO_GRID).sum())
    m_best = float(min(m_ab[best], m_a, m_b))
    response, response_sd, cond_obs, cond_model = 1.0, 0.0, float("nan"), float("nan")
    if model.calibrate_response:
        both = m_best * joint[best]  # per period: share of baskets buying both, by the model
        model_cond = np.column_stack([both / np.maximum(m_a * q_a, 1e-12), both / np.maximum(m_b * q_b, 1e-12)])
        prices = np.column_stack([model._prices_over_periods(i), model._prices_over_periods(j)])
        response, response_sd, cond_obs, cond_model = val.conditional_response(per, prices, model_cond)
    out = {"rho": rho, "rho_sd": float(np.sqrt((post * (RHO_GRID - mean) ** 2).sum())), "posterior": post,
           "m_ab": m_best, "cross_elasticity": cross, "cross_se": cross_se, "response": response,
           "response_sd": response_sd,
           "attach_slope": cond_obs, "attach_slope_model": cond_model}
    model._pairs[key] = out
    return out
