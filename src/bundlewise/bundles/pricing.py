"""The bundle price that maximises expected incremental margin, under business constraints.

For each candidate bundle, every discount of the grid (``discount_grid_step`` up to
``max_discount``) is turned into a bundle price (rounded *down* to the price ending, if any),
checked against the margin floor and the stock coverage, and scored by
:meth:`BundleDemandModel.evaluate` — expected margin per 1,000 shoppers with the bundle on offer
minus without it (so cannibalised full-price sales count against the bundle). The best
feasible price wins; a bundle is proposed only when that expected incremental margin is > 0.

Examples
--------
>>> import pandas as pd
>>> from bundlewise.bundles.demand import BundleDemandModel
>>> from bundlewise.mining import Baskets
>>> baskets = Baskets.from_lists([["a", "b"], ["a"], ["b"], ["c"]] * 50)
>>> catalog = pd.DataFrame({"product_id": ["a", "b", "c"], "title": ["Tent", "Pegs", "Map"],
...                         "price": [100.0, 20.0, 5.0], "cost": [50.0, 5.0, 3.0]})
>>> model = BundleDemandModel(n_draws=4000, n_boot=20).fit(baskets, catalog)
>>> cands = pd.DataFrame({"bundle_id": ["a+b"], "products": [("a", "b")], "score": [1.0], "n_ab": [50],
...                       "lift": [1.33], "q_value": [0.01], "model_score": [float("nan")]})
>>> out = price_bundles(cands, catalog, model, PricingConstraints(max_discount=0.2, price_ending=0.99))
>>> row = out.iloc[0]
>>> bool(row["discount"] <= 0.2), f"{row['bundle_price']:.2f}"[-3:], row["titles"]
(True, '.99', ('Tent', 'Pegs'))
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import pandas as pd

from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.bundles.naming import display_names, variant_pair
from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError, DataValidationError, UnknownProductError, allowed
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ("bundle_id", "products", "score", "n_ab", "lift", "q_value", "model_score")


class PricedBundle(NamedTuple):
    """One candidate's pricing: the columns :func:`price_bundles` adds (see there), by name."""

    titles: tuple[str, ...]
    regular_price: float
    bundle_price: float = math.nan
    discount: float = math.nan
    attach_rate_without: float = math.nan
    attach_rate_with: float = math.nan
    incremental_profit: float = math.nan
    profit_low: float = math.nan
    profit_high: float = math.nan
    margin_source: str = "assumed"
    proposed: bool = False
    reason: str = ""
    explanation: str = ""
    names: tuple[str, ...] = ()
    deal_type: str = "bundle"


OUTPUT_COLUMNS = PricedBundle._fields


@dataclass(frozen=True)
class PricingConstraints(_ConfigBase):
    """Business constraints of bundle prices.

    Parameters
    ----------
    max_discount : float
        Largest discount off the sum of regular prices, in (0, 1).
    margin_floor : float
        Minimum margin rate of the bundle price over the products' cost: ``(price - cost) / price``.
    assumed_margin_rate : float
        Margin rate assumed for products without a catalogue cost (cost = price * (1 - rate));
        rows priced with it say ``margin_source="assumed"``.
    price_ending : float, optional
        Bundle prices end with these cents (e.g. 0.99); prices are rounded down to it. Without
        one, prices are rounded down to the cent.
    min_discount : float
        Smallest discount offered: a bundle one cent cheaper than its parts is no offer a shopper
        notices (default 5 %).
    require_positive : bool
        Propose only bundles whose profit interval lies above zero (its lower bound > 0), not
        those whose expected margin is positive but could as well be a loss.
    max_free_share : float, optional
        The money off is at most this share of the cheapest member's regular price (default
        0.5: never more than half of it given away). A deeper bundle costs little more than
        its dearest member alone, so every buyer of that member takes it: it is a price cut on
        that member in disguise, and its profit then rests on that one product's elasticity,
        where an error is most expensive. On independent markets (``bench.markets.diagnose``,
        3 regimes) the cap raised the true profit of pricing every pair alone from −119 to
        +191, +147 to +372 and +247 to +320 per 1,000 visits. ``None``: no cap.
    risk_quantile : float, optional
        The explicit risk setting: choose each bundle's price by this quantile of its bootstrap
        profit (e.g. 0.25) instead of the expected value, and propose it only if that quantile is
        above zero. Where the model is unsure (a discount that pays only if the subsidy to
        shoppers who buy both anyway is outweighed), it prefers shallow discounts on fewer
        bundles. ``None``: the expected value (default).
    min_stock_coverage : float, optional
        Weeks of expected bundle sales the stock of every product must cover (unknown stock passes).
    discount_grid_step : float
        Spacing of the discounts tried.
    """

    _name: ClassVar[str] = "pricing"

    max_discount: float = 0.3
    margin_floor: float = 0.0
    assumed_margin_rate: float = 0.3
    price_ending: float | None = None
    min_stock_coverage: float | None = None
    discount_grid_step: float = 0.01
    min_discount: float = 0.05
    require_positive: bool = False
    max_free_share: float | None = 0.5
    risk_quantile: float | None = None

    def __post_init__(self) -> None:
        checks = [("max_discount", 0 < self.max_discount < 1, "in (0, 1)"),
                  ("margin_floor", 0 <= self.margin_floor < 1, "in [0, 1)"),
                  ("assumed_margin_rate", 0 < self.assumed_margin_rate < 1, "in (0, 1)"),
                  ("price_ending", self.price_ending is None or 0 <= self.price_ending < 1, "in [0, 1) or None"),
                  ("min_stock_coverage", self.min_stock_coverage is None or self.min_stock_coverage > 0,
                   "> 0 (weeks) or None"),
                  ("discount_grid_step", 0 < self.discount_grid_step <= self.max_discount, "in (0, max_discount]"),
                  ("min_discount", 0 <= self.min_discount <= self.max_discount, "in [0, max_discount]"),
                  ("max_free_share", self.max_free_share is None or 0 < self.max_free_share <= 1,
                   "in (0, 1] or None"),
                  ("risk_quantile", self.risk_quantile is None or 0 < self.risk_quantile < 0.5,
                   "in (0, 0.5) or None")]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} is {getattr(self, name)!r}; it must be {rule}")

    def grid(self) -> np.ndarray:
        """The discounts tried (before price endings): the grid steps from ``min_discount`` up."""
        n = int(math.floor(self.max_discount / self.discount_grid_step + 1e-9))
        steps = np.round(np.arange(1, n + 1) * self.discount_grid_step, 10)
        return steps[steps >= self.min_discount - 1e-9]


def bundle_price_options(regular_price: float, constraints: PricingConstraints) -> np.ndarray:
    """Distinct bundle prices of the discount grid after the price ending, within the max discount.

    Examples
    --------
    >>> bundle_price_options(10.0, PricingConstraints(max_discount=0.2, discount_grid_step=0.05, price_ending=0.99))
    array([8.99])
    """
    prices = regular_price * (1 - constraints.grid())
    if constraints.price_ending is not None:
        e = constraints.price_ending
        prices = np.floor(prices - e + 1e-9) + e
    else:  # whole cents, rounded down (never a shallower discount than the grid's)
        prices = np.floor(prices * 100 + 1e-6) / 100
    prices = np.unique(np.round(prices, 2))
    discount = 1 - prices / regular_price
    return prices[(prices > 0) & (discount >= constraints.min_discount - 1e-9) & (discount > 1e-9)
                  & (discount <= constraints.max_discount + 1e-9)]


def price_bundles(candidates: pd.DataFrame, catalog: pd.DataFrame, demand: BundleDemandModel,
                  constraints: PricingConstraints | None = None, *, progress: Progress = NULL_PROGRESS
                  ) -> pd.DataFrame:
    """Price every candidate bundle and say whether to propose it.

    Parameters
    ----------
    candidates : DataFrame
        ``bundle_id, products`` (tuple of 2 or 3 ids), ``score, n_ab, lift, q_value, model_score``.
    catalog : DataFrame
        ``product_id``, optionally ``title``, ``cost``, ``stock`` (costs and stock come from here).
    demand : BundleDemandModel
        Fitted on the baskets the candidates come from.
    constraints : PricingConstraints, optional
        Default ``PricingConstraints()``.
    progress : Progress
        Reports one step per candidate.

    Returns
    -------
    DataFrame
        One row per candidate, in order (a candidate that cannot be priced — a product without
        purchases or without a price — is kept, not proposed, with the reason).
        The candidates' columns plus ``titles, regular_price, bundle_price, discount,
        attach_rate_without, attach_rate_with, incremental_profit`` (expected margin per 1,000
        shoppers vs no bundle), ``profit_low, profit_high`` (the model's interval, 90 % by default;
        NaN for bundles not proposed or with ``n_boot=0``), ``margin_source``
        (the weakest of the products': ``cost``, ``given`` by a margins file, ``inferred`` from the
        price elasticity, or ``assumed``), ``proposed``, ``reason`` (empty when proposed),
        ``explanation``, ``names`` (titles made distinguishable, see
        :func:`~bundlewise.bundles.naming.display_names`) and ``deal_type`` (``bundle``, or
        ``multi-buy`` for variants of one product type). Prices are whole cents, discounts are
        rounded to 0.1 %.
    """
    constraints = constraints or PricingConstraints()
    missing = [c for c in ("bundle_id", "products") if c not in candidates.columns]
    if missing:
        raise DataValidationError(f"candidates lack column(s) {allowed(missing)}; expected "
                                  f"{allowed(CANDIDATE_COLUMNS)}")
    cat = catalog.assign(product_id=catalog["product_id"].astype(str)).drop_duplicates("product_id")
    names = display_names(cat)
    cat = cat.set_index("product_id")
    rows = []
    with progress.task("pricing bundles", total=len(candidates)) as task:
        for products in candidates["products"]:
            products = tuple(str(p) for p in products)
            try:
                rows.append(_price_one(products, cat, demand, constraints, names))
            except (UnknownProductError, DataValidationError) as exc:  # one bad candidate must not stop the rest
                rows.append(PricedBundle(_titles(cat, products), math.nan, reason=f"cannot price: {exc}",
                                         explanation=f"{' + '.join(products)}: not priced ({exc}).",
                                         names=tuple(names.get(p, p) for p in products)))
            task.advance()
    out = candidates.reset_index(drop=True).copy()
    priced = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
    for col in OUTPUT_COLUMNS:
        out[col] = priced[col].to_numpy()
    out["proposed"] = out["proposed"].astype(bool)
    log.info("priced %d bundles, %d proposed", len(out), int(out["proposed"].sum()))
    return out


def _lookup(cat: pd.DataFrame, products: tuple[str, ...], column: str) -> np.ndarray:
    if column not in cat.columns:
        return np.full(len(products), np.nan)
    return pd.to_numeric(cat[column].reindex(list(products)), errors="coerce").to_numpy(float)


def _titles(cat: pd.DataFrame, products: tuple[str, ...]) -> tuple[str, ...]:
    if "title" not in cat.columns:
        return products
    raw = cat["title"].reindex(list(products))
    return tuple(str(t) if isinstance(t, str) and t else p for p, t in zip(products, raw, strict=True))


# the weakest source of a bundle's products names the bundle's margins
_SOURCES = ("assumed", "inferred", "given", "cost")
_SOURCE_NOTE = {"assumed": ", margins from an assumed rate.",
                "inferred": ", margins inferred from price elasticities (no cost column).",
                "given": ", margins from the margins file."}


def _margin_source(cat: pd.DataFrame, products: tuple[str, ...], known: np.ndarray) -> str:
    if "margin_source" in cat.columns:
        given = cat["margin_source"].reindex(list(products)).fillna("assumed").astype(str).tolist()
    else:
        given = ["cost" if k else "assumed" for k in known]
    given = [g if k or g != "cost" else "assumed" for g, k in zip(given, known, strict=True)]
    return min(given, key=lambda g: _SOURCES.index(g) if g in _SOURCES else 0)


def _why_not(name: str, first: str, rest: str, d: float, point: float, a0: float, margin_rate: float,
             elasticity: float, c: PricingConstraints) -> tuple[str, str]:
    """Why no discount pays, in the words of the likeliest cause (the reason, then the explanation)."""
    best = f"best {d:.0%} off: {point:+.1f} per 1,000 shoppers"
    if a0 >= 0.25:
        return (f"already bought together: {a0:.0%} of {first} buyers also take {rest} at full price; a discount "
                f"would mostly subsidise them ({best})",
                f"{name}: not discounted, {a0:.0%} of {first} buyers already take {rest}; any discount up to "
                f"{c.max_discount:.0%} gives away more on them than the extra sales bring ({best}).")
    need = 1 / abs(elasticity) if elasticity < 0 else 1.0
    if margin_rate < need:
        return (f"thin margin: {margin_rate:.0%} over cost, below the ~{need:.0%} a discount needs at price "
                f"elasticity {elasticity:.1f} ({best})",
                f"{name}: not discounted, the {margin_rate:.0%} margin is too thin for the extra sales a discount "
                f"brings at elasticity {elasticity:.1f} ({best}).")
    return (f"no discount from {c.min_discount:.0%} to {c.max_discount:.0%} adds margin ({best})",
            f"{name}: not bundled, at every discount up to {c.max_discount:.0%} the margin given to shoppers who "
            f"would buy anyway outweighs the extra sales ({best}).")


def _price_one(products: tuple[str, ...], cat: pd.DataFrame, demand: BundleDemandModel,
               c: PricingConstraints, names: dict[str, str]) -> PricedBundle:
    titles = _titles(cat, products)
    shown = tuple(names.get(p, t) for p, t in zip(products, titles, strict=True))
    deal = "multi-buy" if variant_pair(cat, products) else "bundle"
    prices = demand.regular_prices(products)
    regular = float(prices.sum())
    cost = _lookup(cat, products, "cost")
    known = np.isfinite(cost)
    cost = np.where(known, cost, prices * (1 - c.assumed_margin_rate))
    source = _margin_source(cat, products, known)
    total_cost = float(cost.sum())
    options = bundle_price_options(regular, c)

    def refused(reason: str, explanation: str) -> PricedBundle:
        return PricedBundle(titles, round(regular, 2), margin_source=source, reason=reason, explanation=explanation,
                            names=shown, deal_type=deal)

    name = " + ".join(shown)
    if not len(options):
        return refused("no bundle price fits the max discount and price ending",
                       f"{name}: no price ending in {c.price_ending} lies between {c.min_discount:.0%} and "
                       f"{c.max_discount:.0%} off {regular:.2f}.")
    if c.max_free_share is not None and len(options):
        cap = c.max_free_share * float(prices.min())
        within = regular - options <= cap + 1e-9
        if not within.any():
            cheapest = shown[int(np.argmin(prices))]
            return refused(f"free-share cap: {c.min_discount:.0%} off ({regular * c.min_discount:.2f}) already gives "
                           f"away more than {c.max_free_share:.0%} of {cheapest}'s price {prices.min():.2f}",
                           f"{name}: not bundled, any discount that counts would make it barely dearer than its "
                           "dearest product alone (a price cut on that product in disguise).")
        options = options[within]
    floor_ok = (options - total_cost) / options >= c.margin_floor - 1e-12
    if not floor_ok.any():
        return refused(f"margin floor: even {c.min_discount:.0%} off leaves less than {c.margin_floor:.0%} "
                       f"margin over cost {total_cost:.2f}",
                       f"{name}: not bundled, any discount would breach the {c.margin_floor:.0%} margin floor.")
    options = options[floor_ok]
    subs = demand.substitutes(products)
    if subs is not None:
        a, b, cross = subs
        return refused(f"substitutes: sales of {names.get(a, a)} and {names.get(b, b)} move with each other's price "
                       f"(cross-price elasticity {cross:+.2f}); a bundle price would mostly move sales between them",
                       f"{name}: not bundled, the products replace each other (a cut on one takes sales from the "
                       "other).")
    ev = demand.evaluate(products, options, cost, interval=False)
    feasible = np.ones(len(options), dtype=bool)
    stock_note = ""
    if c.min_stock_coverage is not None:
        stock = _lookup(cat, products, "stock")
        weekly_units = ev["units"].to_numpy() / 1000 * demand.weekly_shoppers()
        need = c.min_stock_coverage * weekly_units
        feasible = np.all(~np.isfinite(stock)[:, None] | (stock[:, None] >= need[None, :]), axis=0)
        if not feasible.any():
            return refused(f"stock coverage: stock {np.nanmin(stock):.0f} covers less than {c.min_stock_coverage:g} "
                           f"weeks of expected bundle sales at every price",
                           f"{name}: not bundled, stock would run out within {c.min_stock_coverage:g} weeks.")
        if not feasible.all():
            stock_note = " (deeper discounts would outrun stock)"
    profit = np.where(feasible, ev["profit"].to_numpy(), -np.inf)
    risky = c.risk_quantile is not None and demand.n_boot > 0 and bool((profit > 0).any())
    if risky:  # price by a low quantile: deep discounts that only pay when every estimate is right lose
        guarded = np.where(feasible, demand.profit_quantile(products, options, cost, c.risk_quantile,
                                                                 point=ev["profit"].to_numpy()), -np.inf)
        best = int(np.argmax(guarded))
    else:
        best = int(np.argmax(profit))
    chosen = ev.iloc[[best]]
    point = round(float(profit[best]), 4)
    low, high = np.nan, np.nan  # the bootstrap only for bundles worth proposing (it is the slow part)
    if point > 0 and demand.n_boot > 0:
        full = demand.evaluate(products, [options[best]], cost, interval=True)
        low, high = round(float(full["low"].iat[0]), 4), round(float(full["high"].iat[0]), 4)
    bp = round(float(options[best]), 2)
    d = round(1 - bp / regular, 3)
    a0, a1 = float(chosen["attach_rate_without"].iat[0]), float(chosen["attach_rate_with"].iat[0])
    rest = " + ".join(shown[1:])
    proposed = point > 0 and not (c.require_positive and not low > 0) and not (risky and not guarded[best] > 0)
    what = ("a multi-buy of variants of one product type (shoppers choose between them, not a complementary "
            "bundle): " if deal == "multi-buy" else "")
    band = f" ({demand.interval:.0%} interval {low:+.1f} to {high:+.1f})" if np.isfinite(low) else ""
    if proposed:
        reason = ""
        expl = (f"{name} at {d:.0%} off ({bp:.2f} instead of {regular:.2f}), {what}{point:+.1f} expected margin per "
                f"1,000 shoppers{band}; {a0:.0%} of {shown[0]} buyers also take {rest} "
                f"today, {a1:.0%} with the bundle{stock_note}" + _SOURCE_NOTE.get(source, "."))
    elif point > 0 and risky and not guarded[best] > 0:
        reason = (f"too unsure: {point:+.1f} per 1,000 shoppers expected at {d:.0%} off, but its "
                  f"{c.risk_quantile:.0%} quantile is {guarded[best]:+.1f} (risk setting)")
        expl = (f"{name}: not proposed, at the chosen risk setting the gain at {d:.0%} off could as well be a "
                f"loss{band}.")
    elif point > 0:
        reason = (f"profit interval reaches below zero: {point:+.1f} per 1,000 shoppers expected at {d:.0%} off, "
                  f"{demand.interval:.0%} interval {low:+.1f} to {high:+.1f}")
        expl = f"{name}: not proposed, the expected gain at {d:.0%} off could as well be a loss{band}."
    else:
        el = demand.params_.set_index("product_id")["elasticity_regular"].reindex(list(products)).to_numpy(float)
        reason, expl = _why_not(name, shown[0], rest, d, point, a0, 1 - total_cost / regular,
                                float(np.nansum(prices / regular * el)), c)
    return PricedBundle(titles, round(regular, 2), bundle_price=bp, discount=d, attach_rate_without=round(a0, 4),
                        attach_rate_with=round(a1, 4), incremental_profit=point, profit_low=low, profit_high=high,
                        margin_source=source, proposed=proposed, reason=reason, explanation=expl, names=shown,
                        deal_type=deal)
