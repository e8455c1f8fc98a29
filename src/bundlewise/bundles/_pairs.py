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
from bundlewise.errors import UnknownProductError

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
    directions: list[dict[str, float]] = []
    if response_mode(model) != "off":
        both = m_best * joint[best]  # per period: share of baskets buying both, by the model
        model_cond = np.column_stack([both / np.maximum(m_a * q_a, 1e-12), both / np.maximum(m_b * q_b, 1e-12)])
        prices = np.column_stack([model._prices_over_periods(i), model._prices_over_periods(j)])
        directions = val.attach_slopes(per, prices, model_cond)
    out = {"rho": rho, "rho_sd": float(np.sqrt((post * (RHO_GRID - mean) ** 2).sum())), "posterior": post,
           "m_ab": m_best, "cross_elasticity": cross, "cross_se": cross_se, "directions": directions,
           "attach_slope": float(np.mean([d["observed"] for d in directions])) if directions else float("nan"),
           "attach_slope_model": float(np.mean([d["model"] for d in directions])) if directions else float("nan")}
    apply_response(model, out)
    model._pairs[key] = out
    return out


RESPONSE_MODES = ("pooled", "pair", "off")
POOL_PAIRS = 300
"""Pairs (the most bought together) whose attach-rate slopes inform the pooled response prior."""
POOL_MIN_DIRECTIONS = 30
"""Fewest pair directions with price variation for a pooled prior (else each pair is shrunk toward 1)."""
POOL_SD_FLOOR = 0.1
"""Smallest spread of the pooled prior: on the independent markets the between-pair spread the Birge
ratio estimates is below 0.05 (noise explains it all), which would let no pair's own slopes count."""


def response_mode(model: Any) -> str:
    """``calibrate_response`` as one of :data:`RESPONSE_MODES` (True means ``"pair"``, False ``"off"``)."""
    mode = model.calibrate_response
    return "pair" if mode is True else "off" if mode is False else str(mode)


def apply_response(model: Any, pair: dict[str, Any]) -> None:
    """Set a pair's ``response``, ``response_sd`` and per-direction ``response_dirs`` from its directions.

    ``"pair"``: each pair's slopes shrunk toward 1 (sd 0.5). ``"pooled"`` (once :func:`pool_responses`
    has run): each direction toward what pairs with the same attach level showed, with the spread
    between pairs as the prior's sd: one pair's slopes are noisy (se 0.3–1.2 on a year of weeks), and
    where most pairs say the model's pool of convertible shoppers is too large, a pair with little
    evidence of its own should not be priced as if it were right.
    """
    mode, prior = response_mode(model), getattr(model, "response_prior_", None)
    dirs = pair["directions"]
    if mode == "off":
        pair["response"], pair["response_sd"], pair["response_dirs"] = 1.0, 0.0, (1.0, 1.0)
        return
    if mode == "pooled" and prior is not None:
        level = {int(d["direction"]): d["level"] for d in dirs}
        means = [float(np.clip(prior["intercept"] + prior["slope"] * level.get(k, prior["level"]), 0.0, 1.0))
                 for k in (0, 1)]
        r, sd, per_dir = val.shrink_response(dirs, means, prior["sd"])
    else:
        r, sd, per_dir = val.shrink_response(dirs, 1.0, 0.5)
    pair["response"], pair["response_sd"], pair["response_dirs"] = r, sd, per_dir


def pool_responses(model: Any, pair_stats: Any, n_pairs: int = POOL_PAIRS) -> dict[str, float] | None:
    """Fit the pooled response prior on the most co-purchased pairs and re-apply it to every cached pair.

    Per direction ``d`` of these pairs, the raw slope ratio ``r_d`` (clipped to [-1, 2]) with precision
    ``pi_d``; a random-effects regression ``r_d = a + b * level_d + u`` (``u ~ N(0, tau^2)``, weights
    ``1 / (tau^2 + 1 / pi_d)``, ``tau`` from the Birge ratio) on the attach level. None (the per-pair
    prior stays) with fewer than :data:`POOL_MIN_DIRECTIONS` directions.
    """
    top = pair_stats.sort_values(["n_ab", "item_a", "item_b"], ascending=[False, True, True]).head(n_pairs)
    rows = []
    for a, b in zip(top["item_a"].astype(str), top["item_b"].astype(str), strict=True):
        try:
            i, j = sorted(int(c) for c in model._codes((a, b)))
        except UnknownProductError:  # a pair of products outside the baskets: nothing to learn from
            continue
        if i == j:
            continue
        rows += [(d["ratio"], d["precision"], d["level"]) for d in pair_posterior(model, i, j)["directions"]]
    prior = pooled_prior(rows)
    if prior is None:
        return None
    model.response_prior_ = prior
    for pair in model._pairs.values():
        apply_response(model, pair)
    return prior


def pooled_prior(rows: list[tuple[float, float, float]], floor: float | None = None) -> dict[str, float] | None:
    """The random-effects line through per-direction ``(ratio, precision, attach level)`` rows.

    ``ratio = a + b * level + u`` with ``u ~ N(0, tau^2)``: weights ``1 / (tau^2 + 1 / precision)``,
    ``tau`` by the Birge-ratio fixed point (at least ``floor``, default :data:`POOL_SD_FLOOR`); ratios
    clipped to [-1, 2] first, so that one pair whose model slope is near 0 cannot tilt the line.
    None with fewer than :data:`POOL_MIN_DIRECTIONS` rows (a line through a handful of noisy slopes
    would be trusted more than each of them).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> level = rng.uniform(0.05, 0.7, 400)
    >>> rows = list(zip(0.9 - 0.8 * level + rng.normal(0, 0.1, 400), np.full(400, 100.0), level))
    >>> p = pooled_prior(rows)
    >>> round(p["intercept"], 1), round(p["slope"], 1), p["n_directions"]
    (0.9, -0.8, 400)
    """
    if len(rows) < POOL_MIN_DIRECTIONS:
        return None
    floor = POOL_SD_FLOOR if floor is None else floor
    r, prec, level = (np.array(c, float) for c in zip(*rows, strict=True))
    r = np.clip(r, -1.0, 2.0)
    x = np.column_stack([np.ones(len(r)), level])
    tau2 = 0.1
    for _ in range(50):
        w = 1.0 / (tau2 + 1.0 / np.maximum(prec, 1e-9))
        beta = np.linalg.lstsq(x * np.sqrt(w)[:, None], r * np.sqrt(w), rcond=None)[0]
        q = float((w * (r - x @ beta) ** 2).sum())
        new = max(tau2 * q / max(len(r) - 2, 1), floor ** 2)
        if abs(new - tau2) < 1e-6:
            break
        tau2 = new
    return {"intercept": float(beta[0]), "slope": float(beta[1]), "sd": float(np.sqrt(tau2)),
            "level": float(np.average(level, weights=w)), "n_directions": len(r)}


def pair_summary(model: Any, a: str, b: str) -> dict[str, float]:
    """:meth:`~bundlewise.bundles.demand.BundleDemandModel.pair_parameters` of products ``a``, ``b``."""
    i, j = model._codes((a, b))
    pair = pair_posterior(model, int(i), int(j))
    counts, _ = model._patterns(np.array([i, j]))
    P, n = model.params_, model.n_baskets_
    r_a, r_b, r_ab = (counts[1] + counts[3]) / n, (counts[2] + counts[3]) / n, counts[3] / n
    q_a, q_b = ndtr(-P["x0"].iat[i]), ndtr(-P["x0"].iat[j])
    excess = r_ab - r_a * r_b
    need = pair["m_ab"] * q_a * q_b - r_a * r_b
    return {"rate_a": float(r_a), "rate_b": float(r_b), "rate_ab": float(r_ab),
            "m_a": float(P["market_share"].iat[i]), "m_b": float(P["market_share"].iat[j]),
            "m_ab": pair["m_ab"], "rho": pair["rho"], "rho_sd": pair["rho_sd"],
            "shared_need_share": float(np.clip(need / excess, 0, 1)) if excess > 0 else 0.0,
            "cross_elasticity": pair["cross_elasticity"], "cross_se": pair["cross_se"],
            "response": pair["response"], "response_ab": pair["response_dirs"][0 if i < j else 1],
            "response_ba": pair["response_dirs"][1 if i < j else 0]}


def response_weights(model: Any, codes: np.ndarray) -> float | np.ndarray:
    """What :func:`~bundlewise.bundles._valuation.mixed_bundle_choice` scales by for a product set: a
    pair's per pattern of separate purchases (buyers of one product respond as that direction's attach
    rate did; buyers of neither by the mean), a triple's mean over its pairs."""
    if len(codes) != 2:
        return response_mean(model, codes)
    pair = pair_posterior(model, int(codes[0]), int(codes[1]))
    r0, r1 = pair["response_dirs"] if codes[0] < codes[1] else pair["response_dirs"][::-1]
    return np.array([pair["response"], r0, r1, 1.0])


def response_mean(model: Any, codes: np.ndarray) -> float:
    """Mean response of a product set over its pairs (1 for a single product)."""
    vals = [pair_posterior(model, int(codes[a]), int(codes[b]))["response"]
            for a in range(len(codes)) for b in range(a + 1, len(codes))]
    return float(np.mean(vals)) if vals else 1.0


def response_sd(model: Any, codes: np.ndarray) -> float:
    """Posterior sd of a product set's response (root mean square over its pairs)."""
    sds = [pair_posterior(model, int(codes[a]), int(codes[b]))["response_sd"]
           for a in range(len(codes)) for b in range(a + 1, len(codes))]
    return float(np.sqrt(np.mean(np.square(sds)))) if sds else 0.0
