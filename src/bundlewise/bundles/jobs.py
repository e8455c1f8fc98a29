"""From a warehouse to a bundle plan: baskets, statistics, candidates, rules, elasticities, demand,
prices and the portfolio, in one call.

Examples
--------
>>> from bundlewise.ingest import Warehouse
>>> cfg = BundlePlanConfig.from_dict({"min_count": 3, "portfolio": {"max_bundles": 10}})
>>> cfg.portfolio.max_bundles, cfg.pricing.max_discount
(10, 0.3)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from bundlewise.bundles.business_rules import BundleRules
from bundlewise.bundles.candidates import generate_candidates
from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.bundles.elasticity import (
    PRIOR_ELASTICITY,
    PRIOR_ELASTICITY_SD,
    estimate_elasticities,
    price_panel_from_warehouse,
)
from bundlewise.bundles.margins import fill_costs, read_margins
from bundlewise.bundles.portfolio import PortfolioConstraints, PortfolioResult, select_portfolio
from bundlewise.bundles.pricing import PricingConstraints, price_bundles
from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError, allowed
from bundlewise.ingest.catalog import load_catalog
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.mining.copurchase import RANK_METRICS, CoPurchaseStats
from bundlewise.mining.source import BasketQuery, load_baskets
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

_NESTED = {"pricing": PricingConstraints, "portfolio": PortfolioConstraints, "rules": BundleRules}


@dataclass(frozen=True)
class BundlePlanConfig(_ConfigBase):
    """Every setting of :func:`plan_bundles`.

    Parameters
    ----------
    min_count : int
        A pair (and, when counted, a triple) must be bought together in this many baskets.
    max_basket_size : int, optional
        Leave out bigger baskets when counting pairs (wholesale orders).
    metric : str
        Ranking of partners (a :class:`~bundlewise.mining.CoPurchaseStats` metric).
    top_k : int
        Partners per product; ``max_size`` 3 adds triples; ``max_candidates`` keeps the best.
    volume_share : float
        Share of ``max_candidates`` chosen by co-purchase count instead of ``metric`` (0.5; see
        :func:`_candidates`: the bundles that pay are often not the most associated).
    period : {"day", "week", "month"}
        Price periods of the elasticity panel and of the demand model's price variation.
    prior_mean, prior_sd : float
        Elasticity prior (see :func:`~bundlewise.bundles.elasticity.estimate_elasticities`).
    n_draws, n_boot, random_state : int
        Of the :class:`~bundlewise.bundles.demand.BundleDemandModel`.
    infer_margins : bool
        Products without a catalogue cost get the margin their price elasticity implies
        (:func:`~bundlewise.bundles.margins.fill_costs`); False: the assumed rate.
    margins_file : str, optional
        CSV of ``category, margin_rate``: a rate for every product of a category without a cost
        (overrides the inferred one).
    curve_top : int
        Selected bundles whose profit-vs-discount curve is stored in the plan (for the report).
    pricing, portfolio, rules
        :class:`PricingConstraints`, :class:`PortfolioConstraints`, :class:`BundleRules`
        (dicts are accepted by :meth:`from_dict`). The rules' ``max_discount`` and
        ``min_margin_rate`` tighten the pricing constraints.
    """

    _name: ClassVar[str] = "bundle plan"

    min_count: int = 20
    max_basket_size: int | None = None
    metric: str = "shrunk_lift"
    top_k: int = 10
    max_size: int = 3
    max_candidates: int | None = 200
    volume_share: float = 0.5
    period: str = "week"
    prior_mean: float = PRIOR_ELASTICITY  # -2.5: why, see that constant
    prior_sd: float = PRIOR_ELASTICITY_SD
    n_draws: int = 20000
    n_boot: int = 200
    random_state: int = 0
    infer_margins: bool = True
    margins_file: str | None = None
    curve_top: int = 6
    pricing: PricingConstraints = field(default_factory=PricingConstraints)
    portfolio: PortfolioConstraints = field(default_factory=PortfolioConstraints)
    rules: BundleRules = field(default_factory=BundleRules)

    def __post_init__(self) -> None:
        if self.metric not in RANK_METRICS:
            raise ConfigError(f"metric is {self.metric!r}; allowed metrics are {allowed(RANK_METRICS)}")
        if not isinstance(self.min_count, int) or self.min_count < 1:
            raise ConfigError(f"min_count is {self.min_count!r}; it must be an integer >= 1")
        if self.max_candidates is not None and self.max_candidates < 1:
            raise ConfigError(f"max_candidates is {self.max_candidates}; it must be >= 1 or None")
        if not 0 <= self.volume_share <= 1:
            raise ConfigError(f"volume_share is {self.volume_share!r}; it must be in [0, 1] (0: candidates by "
                              "the metric only)")
        for name, cls in _NESTED.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name} must be a {cls.__name__} (or a dict of its keys in from_dict)")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = dict(data)
        for name, sub in _NESTED.items():
            if isinstance(data.get(name), Mapping):
                data[name] = sub.from_dict(data[name])
        return super().from_dict(data)

    def effective_pricing(self) -> PricingConstraints:
        """The pricing constraints tightened by the rules (max discount, margin floor)."""
        p, r = self.pricing, self.rules
        changes: dict[str, Any] = {}
        if r.max_discount is not None and r.max_discount < p.max_discount:
            changes["max_discount"] = r.max_discount
            changes["discount_grid_step"] = min(p.discount_grid_step, r.max_discount)
            changes["min_discount"] = min(p.min_discount, r.max_discount)
        if r.min_margin_rate is not None and r.min_margin_rate > p.margin_floor:
            changes["margin_floor"] = r.min_margin_rate
        return dataclasses.replace(p, **changes) if changes else p


@dataclass
class BundlePlan:
    """Everything :func:`plan_bundles` computed, for tables, reports and checks.

    Attributes
    ----------
    selected : DataFrame
        The portfolio: priced bundles chosen by the MILP (best profit first).
    priced : DataFrame
        Every candidate that passed the rules, priced, with ``selected`` (bool).
    rejected : DataFrame
        Candidates the business rules rejected, with their ``reason``.
    portfolio : PortfolioResult
    elasticities : DataFrame
        Per product of the candidates (see ``estimate_elasticities``).
    demand : BundleDemandModel
        The fitted model (``profit_curve`` for plots).
    catalog : DataFrame
        The catalogue used (regular prices filled from observed prices where missing).
    config : BundlePlanConfig
    n_baskets : int
    seconds : dict of str -> float
        Wall time of each step.
    curves : dict of str -> DataFrame
        Profit-vs-discount curve (``discount, profit, low, high``) of the top selected bundles.
    """

    selected: pd.DataFrame
    priced: pd.DataFrame
    rejected: pd.DataFrame
    portfolio: PortfolioResult
    elasticities: pd.DataFrame
    demand: BundleDemandModel
    catalog: pd.DataFrame
    config: BundlePlanConfig
    n_baskets: int
    seconds: dict[str, float] = field(default_factory=dict)
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._t
        self._t = now


def plan_bundles(wh: Warehouse, config: BundlePlanConfig | None = None, *, model_scorer: Any = None,
                 query: BasketQuery | None = None, progress: Progress = NULL_PROGRESS) -> BundlePlan:
    """Which bundles to run, at what price, and what each is expected to earn.

    Steps: the warehouse's baskets → :class:`CoPurchaseStats` → :func:`generate_candidates`
    (top partners by ``config.metric``, triples) → :meth:`BundleRules.apply` →
    :func:`estimate_elasticities` on the weekly price panel → :class:`BundleDemandModel` (with
    the observed prices per period) → :func:`price_bundles` → :func:`select_portfolio`.

    Parameters
    ----------
    wh : Warehouse
        Orders loaded; a products file with prices and costs makes the plan better (missing
        regular prices are taken from the median observed shelf price, missing costs from
        the assumed margin rate).
    config : BundlePlanConfig, optional
    model_scorer : object with ``recommend(ids, k)``, optional
        A learned pair model whose scores fill ``model_score``.
    query : BasketQuery, optional
        Only these baskets (segment, store, dates).
    progress : Progress

    Returns
    -------
    BundlePlan

    Raises
    ------
    ConfigError
        No baskets (nothing loaded), no candidate pair reaches ``min_count``, or the business
        rules remove every candidate (the message counts the bundles each rule removed).
    """
    cfg = config or BundlePlanConfig()
    clock = _Clock()
    baskets = load_baskets(wh, query or BasketQuery(), progress)
    catalog = _with_prices(wh, load_catalog(wh))
    clock.lap("load")
    with progress.task("pair statistics", total=None):
        stats = CoPurchaseStats(min_count=cfg.min_count, max_basket_size=cfg.max_basket_size,
                                metric=cfg.metric).fit(baskets)
        pair_stats = stats.pair_stats()
    clock.lap("pairs")
    frequent = catalog.loc[catalog["n_orders"] >= cfg.min_count, "product_id"]
    candidates = _candidates(stats, catalog, pair_stats, baskets, frequent, cfg, model_scorer, progress)
    if candidates.empty:
        raise ConfigError(f"no product pair is bought together in >= {cfg.min_count} of the {baskets.n_baskets:,} "
                          "baskets; lower min_count (bundles --min-count) or load more orders")
    kept, rejected = cfg.rules.apply(candidates, catalog)
    if kept.empty:
        raise ConfigError(_no_candidate_left(cfg.rules, rejected))
    clock.lap("candidates")
    in_bundles = sorted({p for products in kept["products"] for p in products})
    panel = price_panel_from_warehouse(wh, cfg.period)
    panel = panel[panel["product_id"].isin(in_bundles)]
    pooled, controls = partner_price_control(_pool_sparse_stores(panel), pair_stats)
    elasticities = estimate_elasticities(pooled, prior_mean=cfg.prior_mean, prior_sd=cfg.prior_sd,
                                         controls=controls)
    elasticities = _complete(elasticities, in_bundles, catalog, cfg)
    clock.lap("elasticities")
    demand = BundleDemandModel(n_draws=cfg.n_draws, n_boot=cfg.n_boot, random_state=cfg.random_state,
                               prior_elasticity=cfg.prior_mean, prior_elasticity_sd=cfg.prior_sd)
    with progress.task("demand model", total=None):
        demand.fit(baskets, catalog, elasticities, pair_stats, prices=_chain_prices(panel))
    pricing = cfg.effective_pricing()
    if cfg.infer_margins or cfg.margins_file:
        margins = read_margins(cfg.margins_file) if cfg.margins_file else None
        params = demand.params_ if cfg.infer_margins else demand.params_.assign(elasticity_source="prior")
        catalog = fill_costs(catalog, params, assumed_margin_rate=pricing.assumed_margin_rate, margins=margins)
    clock.lap("demand")
    priced = price_bundles(kept, catalog, demand, pricing, progress=progress)
    clock.lap("pricing")
    result = select_portfolio(priced, catalog, cfg.portfolio)
    priced = priced.assign(selected=priced["bundle_id"].isin(set(result.selected["bundle_id"])))
    clock.lap("portfolio")
    curves = bundle_curves(demand, catalog, result.selected.head(cfg.curve_top), pricing)
    clock.lap("curves")
    log.info("bundle plan: %d candidates, %d rejected by rules, %d proposed, %d selected (%s)", len(candidates),
             len(rejected), int(priced["proposed"].sum()) if len(priced) else 0, len(result.selected),
             ", ".join(f"{k} {v:.1f}s" for k, v in clock.seconds.items()))
    return BundlePlan(result.selected, priced, rejected, result, elasticities, demand, catalog, cfg,
                      baskets.n_baskets, clock.seconds, curves)


# what to relax for each rule key of BundleRules (the keys of a rules file)
_RELAX = {
    "exclude_out_of_stock": "set exclude_out_of_stock = false, or load current stock (stock <= 0 counts as out)",
    "never_together": "remove pairs from never_together",
    "exclude_products": "shorten exclude_products",
    "required_products": "add products to required_products, or check its ids",
    "category_mode": "set category_mode = \"any\" (or another category_level)",
    "allowed_category_pairs": "add category pairs to allowed_category_pairs",
    "min_margin_rate": "lower min_margin_rate (or load product costs)",
    "max_discount": "raise max_discount",
}


def _no_candidate_left(rules: BundleRules, rejected: pd.DataFrame) -> str:
    """Which rules removed every candidate bundle, how many each, and what to relax."""
    by_rule: dict[str, int] = rejected.attrs.get("by_rule", {})
    counts = ", ".join(f"{key} {n:,}" for key, n in by_rule.items())
    relax = "; ".join(_RELAX.get(key, f"relax {key}") for key in by_rule)
    example = rejected["reason"].iloc[0] if len(rejected) else ""
    return (f"the business rules removed all {len(rejected):,} candidate bundles (removed by {counts}; a bundle can "
            f"break several rules; e.g. {rejected['bundle_id'].iloc[0]}: {example}). To keep some: {relax} in the "
            "rules file (--rules), or widen the candidates (a lower --min-count, a larger --max-candidates)")


def _with_prices(wh: Warehouse, catalog: pd.DataFrame) -> pd.DataFrame:
    """Fill missing regular prices with the median observed shelf price (paid price + discount per unit)."""
    missing = catalog["price"].isna() | (catalog["price"] <= 0)
    if not missing.any():
        return catalog
    observed = wh.con.sql("""
        SELECT product_id, median(unit_price + abs(coalesce(discount, 0)) / quantity) AS shelf
        FROM order_lines WHERE quantity > 0 AND unit_price > 0 GROUP BY product_id""").df()
    shelf = observed.set_index("product_id")["shelf"]
    filled = catalog["product_id"].map(shelf)
    catalog = catalog.copy()
    catalog.loc[missing, "price"] = filled[missing]
    n_filled = int(catalog.loc[missing, "price"].notna().sum())
    log.info("regular price of %d products taken from observed prices (no catalogue price)", n_filled)
    catalog.attrs["prices_from_orders"] = n_filled
    return catalog


def _pool_sparse_stores(panel: pd.DataFrame, min_median_units: float = 5.0) -> pd.DataFrame:
    """Sum stores into one chain-level row per product and period when store rows are sparse.

    A panel built from orders has no row for a store-week without sales; where the typical
    store row holds a unit or two (household panels such as The Complete Journey) the log
    quantity is ~0 at every price and the slope collapses toward 0 (measured there: median
    -0.2 by store, -1.5 summed over stores). Summing over stores keeps the price variation
    and restores the counts.
    """
    if panel.empty or "store_id" not in panel or panel["quantity"].median() >= min_median_units:
        return panel
    g = panel.assign(revenue=panel["price"] * panel["quantity"]).groupby(["product_id", "period"], sort=True)
    out = g.agg(revenue=("revenue", "sum"), quantity=("quantity", "sum"), category=("category", "first"),
                promo=("promo", "max")).reset_index()
    out["price"] = out["revenue"] / out["quantity"]
    log.info("elasticity panel: store rows hold a median %.1f units; pooled over stores", panel["quantity"].median())
    return out[["product_id", "period", "price", "quantity", "category", "promo"]]


def partner_price_control(panel: pd.DataFrame, pair_stats: pd.DataFrame, *, max_partners: int = 3,
                          min_lift: float = 1.5, max_q: float = 0.01) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The panel with ``partner_price``: the log price of each product's complements against their median.

    Shops promote related products together (a category week, a "camping" week). A log-log
    regression of a product's sales on its own price alone then credits it with the lift its
    complements' cuts brought, and the demand model, which adds the complements' effect through
    the bundle's joint valuations, counts it twice: measured on independent markets, the own
    arc elasticity of complements came out −1.2 where their own-price arc was −0.74, and the
    plan discounted pairs already bought together. Holding the complements' price fixed
    (the mean log price ratio of up to ``max_partners`` partners with ``shrunk_lift >=
    min_lift`` and ``q_value <= max_q``, weighted by baskets together; 0 in a period a partner
    did not sell, and for products without such a partner) leaves the own-price effect.

    Returns the panel and the control names to pass to :func:`estimate_elasticities` (none when
    no product has a partner).

    Examples
    --------
    >>> panel = pd.DataFrame({"product_id": ["a", "a", "b", "b"], "period": [1, 2, 1, 2],
    ...                       "price": [10.0, 8.0, 5.0, 4.0], "quantity": [3.0, 5.0, 2.0, 4.0]})
    >>> pairs = pd.DataFrame({"item_a": ["a"], "item_b": ["b"], "n_ab": [40], "shrunk_lift": [3.0],
    ...                       "q_value": [1e-6]})
    >>> out, names = partner_price_control(panel, pairs)
    >>> names, out["partner_price"].round(3).tolist()
    (('partner_price',), [0.105, -0.118, 0.105, -0.118])
    """
    if panel.empty or pair_stats is None or not len(pair_stats) or "shrunk_lift" not in pair_stats:
        return panel, ()
    strong = pair_stats[(pair_stats["shrunk_lift"] >= min_lift) & (pair_stats["q_value"] <= max_q)]
    if strong.empty:
        return panel, ()
    both = pd.concat([strong.rename(columns={"item_a": "product_id", "item_b": "partner"}),
                      strong.rename(columns={"item_b": "product_id", "item_a": "partner"})], ignore_index=True)
    both = both.astype({"product_id": str, "partner": str})
    both = (both.sort_values(["product_id", "shrunk_lift"], ascending=[True, False], kind="stable")
            .groupby("product_id", sort=False).head(max_partners))
    chain = _chain_prices(panel).astype({"product_id": str})
    chain["lr"] = np.log(chain["price"]) - np.log(chain.groupby("product_id")["price"].transform("median"))
    lr = chain.set_index(["product_id", "period"])["lr"]
    periods = np.sort(chain["period"].unique())
    rows = []
    for pid, grp in both.groupby("product_id", sort=True):
        w = grp["n_ab"].to_numpy(float)
        mat = np.column_stack([lr.reindex(pd.MultiIndex.from_product([[q], periods])).fillna(0.0).to_numpy()
                               for q in grp["partner"]])
        rows.append(pd.DataFrame({"product_id": pid, "period": periods, "partner_price": mat @ (w / w.sum())}))
    control = pd.concat(rows, ignore_index=True)
    out = panel.assign(product_id=panel["product_id"].astype(str)).merge(control, on=["product_id", "period"],
                                                                          how="left")
    out["partner_price"] = out["partner_price"].fillna(0.0)
    log.info("elasticity panel: %d products priced against their complements' prices", control["product_id"].nunique())
    return out, ("partner_price",)


def _chain_prices(panel: pd.DataFrame) -> pd.DataFrame:
    """One price per product and period (quantity-weighted over stores), as the demand model wants."""
    if panel.empty:
        return pd.DataFrame({"product_id": pd.Series(dtype=object), "period": pd.Series(dtype="datetime64[us]"),
                             "price": pd.Series(dtype=float)})
    g = panel.assign(revenue=panel["price"] * panel["quantity"]).groupby(["product_id", "period"], sort=True)
    out = g[["revenue", "quantity"]].sum().reset_index()
    out["price"] = out["revenue"] / out["quantity"]
    return out[["product_id", "period", "price"]]


def _candidates(stats: CoPurchaseStats, catalog: pd.DataFrame, pair_stats: pd.DataFrame, baskets: Any,
                frequent: pd.Series, cfg: BundlePlanConfig, model_scorer: Any, progress: Progress) -> pd.DataFrame:
    """Candidates by the plan's metric, and a ``volume_share`` of them by how often pairs are bought together.

    Association (lift) finds pairs bought together more than chance: often variants of one product and
    complements whose buyers already take both, where a discount mostly subsidises what happens anyway.
    Mixed bundling earns most on pairs bought often but not always together (on the independent markets
    of ``bench/markets`` the clairvoyant's best bundles were such pairs), which a lift ranking leaves out
    of a large catalogue.
    """
    n_volume = 0 if cfg.max_candidates is None else int(round(cfg.max_candidates * cfg.volume_share))
    kw = dict(pair_stats=pair_stats, top_k=cfg.top_k, max_size=cfg.max_size, min_count=cfg.min_count,
              model_scorer=model_scorer, baskets=baskets, products=frequent, progress=progress)
    if cfg.max_candidates is None or n_volume == 0 or cfg.metric == "count":
        return generate_candidates(stats, catalog, max_candidates=cfg.max_candidates, **kw)
    by_metric = generate_candidates(stats, catalog, max_candidates=cfg.max_candidates - n_volume, **kw)
    by_volume = generate_candidates(stats.with_metric("count"), catalog, max_candidates=n_volume, **kw)
    both = pd.concat([by_metric, by_volume[~by_volume["bundle_id"].isin(set(by_metric["bundle_id"]))]],
                     ignore_index=True)
    log.info("candidates: %d by %s, %d more by co-purchase count", len(by_metric), cfg.metric,
             len(both) - len(by_metric))
    return both


def _complete(elasticities: pd.DataFrame, products: list[str], catalog: pd.DataFrame,
              cfg: BundlePlanConfig) -> pd.DataFrame:
    """Products of bundles absent from the panel (no dated sales) get the prior."""
    have = set(elasticities["product_id"])
    missing = [p for p in products if p not in have]
    if not missing:
        return elasticities
    extra = pd.DataFrame({"product_id": missing, "category": "all", "elasticity": cfg.prior_mean,
                          "se": cfg.prior_sd, "n_obs": 0, "n_price_levels": 0, "source": "prior"})
    return pd.concat([elasticities, extra], ignore_index=True).sort_values("product_id").reset_index(drop=True)


def bundle_curves(demand: BundleDemandModel, catalog: pd.DataFrame, selected: pd.DataFrame,
                  pricing: PricingConstraints, n_points: int = 31) -> dict[str, pd.DataFrame]:
    """Profit against discount (0 to the max discount) of each bundle of ``selected``, at the catalogue's costs."""
    import numpy as np

    cost = catalog.assign(product_id=catalog["product_id"].astype(str)).set_index("product_id")["cost"]
    discounts = np.round(np.linspace(0.0, pricing.max_discount, n_points), 4)
    out = {}
    for bundle_id, products in zip(selected["bundle_id"], selected["products"], strict=True):
        c = pd.to_numeric(cost.reindex([str(p) for p in products]), errors="coerce").to_numpy(float)
        prices = demand.regular_prices(products)
        c = np.where(np.isfinite(c), c, prices * (1 - pricing.assumed_margin_rate))
        out[str(bundle_id)] = demand.profit_curve(products, discounts, c).round(4)
    return out


__all__ = ["BundlePlan", "BundlePlanConfig", "plan_bundles"]
