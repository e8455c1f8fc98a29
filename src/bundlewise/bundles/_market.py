"""The simulated market's ground truth: shoppers, their needs and valuations, their orders.

Deliberately independent of the demand model it tests (no import of ``_valuation``,
``demand`` or ``pricing``): membership is drawn from the four cells of a 2x2 table, valuations
from their own Cholesky factor or a Student-t mixture, choices by explicit enumeration of every
option, including a complementarity (or substitution) term the demand model does not have.

Examples
--------
>>> pair = PairTruth("a", "b", 10.0, 20.0, 6.0, 12.0, 0.3, 0.2, 0.1)
>>> round(true_rate(pair, "a"), 3)   # in the market 30 %, half of them value a above its price
0.15
>>> curve = true_profit_curve(pair, [0.0, 0.1], n_shoppers=20_000)
>>> float(curve["profit"].iloc[0])
0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bundlewise.errors import ConfigError

START = np.datetime64("2025-01-06T00:00:00", "us")  # a Monday: weeks start on Mondays


@dataclass(frozen=True)
class PairTruth:
    """The true market of two products.

    ``member_a``/``member_b``: share of shoppers in the market for each; ``member_ab``: in both.
    In-market valuation: ``price * median_ratio * exp(spread * e)``, ``e`` standard normal (or a
    unit-variance Student t with ``tail_df`` degrees of freedom), correlation ``rho``. Owning
    both is worth ``(v_a + v_b) * (1 + complement)`` (negative: substitutes).

    ``family`` changes the valuation family (the demand model assumes log-normal): ``"logit"``
    maps the same correlated normals to Gumbel draws (a logit demand curve, values
    ``scale * (1 + spread * g)`` with ``g`` a unit-variance Gumbel, floored at 0), ``"segments"``
    is a mixture of a bargain-hunting segment (40 %, median 0.8 x scale, spread 0.4 x) and a
    loyal one (median 1.15 x scale, spread 0.6 x): a kinked demand curve.
    """

    product_a: str
    product_b: str
    price_a: float
    price_b: float
    cost_a: float
    cost_b: float
    member_a: float
    member_b: float
    member_ab: float
    median_ratio_a: float = 1.0
    median_ratio_b: float = 1.0
    spread_a: float = 0.5
    spread_b: float = 0.5
    rho: float = 0.0
    complement: float = 0.0
    tail_df: float | None = None
    family: str = "lognormal"

    @property
    def products(self) -> tuple[str, str]:
        return (self.product_a, self.product_b)


def sample_shoppers(pair: PairTruth, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Membership (n, 2) bool and in-market valuations at the regular prices (n, 2)."""
    cells = np.array([pair.member_ab, pair.member_a - pair.member_ab, pair.member_b - pair.member_ab,
                      1 - pair.member_a - pair.member_b + pair.member_ab])
    if (cells < -1e-12).any():
        raise ConfigError(f"membership shares of {pair.products} are inconsistent: the four cells (both, a only, "
                          f"b only, neither) are {cells}; member_ab must be <= member_a and member_b, and "
                          ">= member_a + member_b - 1")
    cell = rng.choice(4, size=n, p=np.clip(cells, 0, None) / np.clip(cells, 0, None).sum())
    member = np.stack([(cell == 0) | (cell == 1), (cell == 0) | (cell == 2)], axis=1)
    e1 = rng.standard_normal(n)
    e2 = pair.rho * e1 + np.sqrt(1 - pair.rho ** 2) * rng.standard_normal(n)
    e = np.stack([e1, e2], axis=1)
    if pair.tail_df is not None:  # multivariate t, rescaled to unit variance: same rho, heavier tails
        w = rng.chisquare(pair.tail_df, size=(n, 1)) / pair.tail_df
        e = e / np.sqrt(w) * np.sqrt((pair.tail_df - 2) / pair.tail_df)
    scale = np.array([pair.price_a * pair.median_ratio_a, pair.price_b * pair.median_ratio_b])
    spread = np.array([pair.spread_a, pair.spread_b])
    if pair.family == "logit":  # Gaussian copula -> standard Gumbel, rescaled to mean 0, variance 1
        g = -np.log(-np.log(np.clip(stats.norm.cdf(e), 1e-300, 1 - 1e-16)))
        g = (g - np.euler_gamma) * np.sqrt(6) / np.pi
        return member, scale * np.maximum(1 + spread * g, 0.0)
    if pair.family == "segments":
        low = rng.random((n, 1)) < 0.4
        return member, scale * np.where(low, 0.8 * np.exp(0.4 * spread * e), 1.15 * np.exp(0.6 * spread * e))
    if pair.family != "lognormal":
        raise ConfigError(f"family is {pair.family!r}; allowed values are 'lognormal', 'logit', 'segments'")
    return member, scale * np.exp(spread * e)


def choose(member: np.ndarray, values: np.ndarray, price_a: np.ndarray | float, price_b: np.ndarray | float,
           complement: float, bundle_price: float | None = None) -> np.ndarray:
    """Option index per shopper: 0 nothing, 1 a, 2 b, 3 both separately, 4 the bundle."""
    va = np.where(member[:, 0], values[:, 0], 0.0)
    vb = np.where(member[:, 1], values[:, 1], 0.0)
    both = (va + vb) * np.where(member.all(axis=1), 1 + complement, 1.0)
    surplus = [np.zeros(len(va)), va - price_a, vb - price_b, both - price_a - price_b]
    if bundle_price is not None:
        surplus.append(both - bundle_price)
    return np.argmax(np.stack(surplus, axis=1), axis=1)  # first maximum: ties go to the simpler option


def true_rate(pair: PairTruth, product: str, price: float | None = None) -> float:
    """Purchase probability per shopper at the regular prices, or with ``product`` at ``price``."""
    a = product == pair.product_a
    pa = price if a and price is not None else pair.price_a
    pb = price if not a and price is not None else pair.price_b
    if pair.complement != 0 or pair.tail_df is not None or pair.family != "lognormal":
        rng = np.random.default_rng(0)
        member, values = sample_shoppers(pair, 400_000, rng)
        opt = choose(member, values, pa, pb, pair.complement)
        return float(np.isin(opt, (1, 3) if a else (2, 3)).mean())
    m, ratio, s, regular = (pair.member_a, pair.median_ratio_a, pair.spread_a, pair.price_a) if a else \
        (pair.member_b, pair.median_ratio_b, pair.spread_b, pair.price_b)
    return float(m * stats.norm.sf((np.log((pa if a else pb) / regular) - np.log(ratio)) / s))


def true_elasticity(pair: PairTruth, product: str, at: float = 1.0) -> float:
    """Own-price elasticity of the purchase rate at ``at`` times the regular price (closed form for
    log-normal additive values, else a central difference over common random draws)."""
    if pair.complement != 0 or pair.tail_df is not None or pair.family != "lognormal":
        regular = pair.price_a if product == pair.product_a else pair.price_b
        h = 0.02
        up, down = (true_rate(pair, product, regular * at * f) for f in (1 + h, 1 - h))
        return float(np.log(up / down) / np.log((1 + h) / (1 - h)))
    ratio, s = (pair.median_ratio_a, pair.spread_a) if product == pair.product_a else \
        (pair.median_ratio_b, pair.spread_b)
    x = (np.log(at) - np.log(ratio)) / s
    return float(-stats.norm.pdf(x) / (s * stats.norm.sf(x)))


def true_profit_curve(pair: PairTruth, discounts: np.ndarray | list[float], *, n_shoppers: int = 300_000,
                      seed: int = 12345) -> pd.DataFrame:
    """Expected incremental margin per 1,000 shoppers of the bundle at each discount, under the truth.

    Returns
    -------
    DataFrame
        ``discount, profit`` (vs no bundle), ``base`` (margin per 1,000 shoppers without bundle).
    """
    rng = np.random.default_rng(seed)
    member, values = sample_shoppers(pair, n_shoppers, rng)
    ma, mb = pair.price_a - pair.cost_a, pair.price_b - pair.cost_b
    option_margin = np.array([0.0, ma, mb, ma + mb])
    no_bundle = choose(member, values, pair.price_a, pair.price_b, pair.complement)
    base_margin = option_margin[no_bundle]
    base = base_margin.mean()
    va, vb = np.where(member[:, 0], values[:, 0], 0.0), np.where(member[:, 1], values[:, 1], 0.0)
    both = (va + vb) * np.where(member[:, 0] & member[:, 1], 1 + pair.complement, 1.0)
    best_other = np.maximum.reduce([np.zeros(len(va)), va - pair.price_a, vb - pair.price_b,
                                    both - pair.price_a - pair.price_b])
    regular = pair.price_a + pair.price_b
    out = []
    for d in np.asarray(discounts, float):
        price = regular * (1 - d)
        takes = both - price > best_other  # strictly better: ties go to the separate options
        margin = np.where(takes, price - pair.cost_a - pair.cost_b, base_margin).mean()
        out.append(1000 * (margin - base))
    return pd.DataFrame({"discount": np.asarray(discounts, float), "profit": out, "base": 1000 * base})


def simulate_orders(pairs: list[PairTruth], *, n_weeks: int = 52, shoppers_per_week: int = 2000,
                    n_fillers: int = 20, filler_rate: float = 0.9, promo_share: float = 0.25,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders of a market where each product's price varies by week.

    Every week each pair product has a regular week (price within +-3 %) or, with probability
    ``promo_share``, a promotion 10-25 % off. Each shopper also buys a filler product with
    probability ``filler_rate``; shoppers who buy nothing leave no order (as in real data).

    Returns
    -------
    lines : DataFrame
        ``order_id, ordered_at, product_id, unit_price, quantity`` (one unit per line).
    prices : DataFrame
        ``product_id, period, price``: the price of every pair product in every week.
    """
    rng = np.random.default_rng(seed)
    n = n_weeks * shoppers_per_week
    week = np.repeat(np.arange(n_weeks), shoppers_per_week)
    ordered_at = START + week * np.timedelta64(7, "D") + (rng.random(n) * 7 * 86400e6).astype("timedelta64[us]")
    order_id = np.array([f"o{i:07d}" for i in range(n)], dtype=object)
    frames, price_rows = [], []
    for pair in pairs:
        mult = np.where(rng.random((n_weeks, 2)) < promo_share, 1 - rng.uniform(0.10, 0.25, (n_weeks, 2)),
                        rng.uniform(0.97, 1.03, (n_weeks, 2)))
        pa, pb = np.round(pair.price_a * mult[:, 0], 2), np.round(pair.price_b * mult[:, 1], 2)
        member, values = sample_shoppers(pair, n, rng)
        opt = choose(member, values, pa[week], pb[week], pair.complement)
        for pid, wp, bought in ((pair.product_a, pa, np.isin(opt, (1, 3))), (pair.product_b, pb, np.isin(opt, (2, 3)))):
            idx = np.flatnonzero(bought)
            frames.append(pd.DataFrame({"row": idx, "product_id": pid, "unit_price": wp[week[idx]]}))
            price_rows.append(pd.DataFrame({"product_id": pid, "period": START + np.arange(n_weeks)
                                            * np.timedelta64(7, "D"), "price": wp}))
    filler = np.flatnonzero(rng.random(n) < filler_rate)
    frames.append(pd.DataFrame({"row": filler, "product_id": rng.integers(0, n_fillers, len(filler)),
                                "unit_price": 2.0}).assign(product_id=lambda f: "filler" + f["product_id"].astype(str)))
    lines = pd.concat(frames, ignore_index=True).sort_values(["row", "product_id"], kind="stable")
    rows = lines.pop("row").to_numpy()
    lines.insert(0, "ordered_at", ordered_at[rows])
    lines.insert(0, "order_id", order_id[rows])
    lines["quantity"] = 1
    return lines.reset_index(drop=True), pd.concat(price_rows, ignore_index=True)
