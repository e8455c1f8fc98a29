"""The bundle portfolio: which priced bundles to run together, solved exactly as a MILP (HiGHS).

maximise    sum_j profit_j x_j           over proposed bundles j with profit_j > 0
subject to  sum_j x_j <= max_bundles
            sum_{j holds p} x_j <= per_product              for every product p
            sum_{j touches category c} x_j <= category_cap  for every category c (optional)
            sum_{j touches brand b} x_j <= brand_cap        for every brand b (optional)
            x_j in {0, 1}

The exposure caps count bundles, not products: a bundle with two products of one category
uses one unit of that category's cap.

Examples
--------
>>> import pandas as pd
>>> priced = pd.DataFrame({"bundle_id": ["a+b", "a+c", "b+c"], "products": [("a", "b"), ("a", "c"), ("b", "c")],
...                        "incremental_profit": [5.0, 4.0, 3.0], "proposed": [True, True, True]})
>>> catalog = pd.DataFrame({"product_id": ["a", "b", "c"]})
>>> result = select_portfolio(priced, catalog, PortfolioConstraints(per_product=1))
>>> result.selected["bundle_id"].tolist(), result.objective, result.status
(['a+b'], 5.0, 'optimal')
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from bundlewise.config import _ConfigBase
from bundlewise.errors import BundlewiseError, ConfigError, DataValidationError, allowed

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("bundle_id", "products", "incremental_profit", "proposed")


@dataclass(frozen=True)
class PortfolioConstraints(_ConfigBase):
    """Limits on the set of bundles run at once.

    Parameters
    ----------
    max_bundles : int
        Bundles in the portfolio at most.
    per_product : int
        Bundles any one product may appear in (cannibalisation, stock, shopper fatigue).
    category_cap : int, optional
        Bundles that may touch any one category (diversity).
    brand_cap : int, optional
        Bundles that may touch any one brand (fairness to the long tail).
    category_level : int
        Depth of ``category_path`` that defines a category for ``category_cap`` (0 = whole path).
    time_limit : float
        Seconds HiGHS may spend; past it the best solution found is returned with its gap.
    """

    _name: ClassVar[str] = "portfolio"

    max_bundles: int = 50
    per_product: int = 2
    category_cap: int | None = None
    brand_cap: int | None = None
    category_level: int = 1
    time_limit: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_bundles", "per_product"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} is {value!r}; it must be an integer >= 1")
        for name in ("category_cap", "brand_cap"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"{name} is {value!r}; it must be an integer >= 1, or None for no cap")
        if not isinstance(self.category_level, int) or self.category_level < 0:
            raise ConfigError(f"category_level is {self.category_level!r}; it must be an integer >= 0")
        if not self.time_limit > 0:
            raise ConfigError(f"time_limit is {self.time_limit!r}; it must be > 0 seconds")


@dataclass(frozen=True)
class PortfolioResult:
    """The chosen bundles and how the solver got there.

    Attributes
    ----------
    selected : DataFrame
        The chosen rows of ``priced`` (best profit first).
    objective : float
        Their total expected incremental profit (per 1,000 shoppers).
    status : str
        ``optimal``, ``time_limit`` (feasible, maybe not optimal: see ``mip_gap``) or ``empty``
        (nothing to choose from).
    mip_gap : float
        Relative gap between the solution and the best bound (0 when proven optimal).
    seconds : float
        Solver wall time.
    n_eligible : int
        Proposed bundles with a positive expected profit that the solver could choose.
    """

    selected: pd.DataFrame
    objective: float
    status: str
    mip_gap: float
    seconds: float
    n_eligible: int = 0


def _category(path: str, level: int) -> str:
    parts = [x.strip() for x in str(path).split(">")]
    return " > ".join(parts if level == 0 else parts[:level])


def constraint_groups(priced: pd.DataFrame, catalog: pd.DataFrame, constraints: PortfolioConstraints
                      ) -> list[tuple[str, int, list[int]]]:
    """Every capped group as ``(name, cap, row positions of priced)``; empty groups left out."""
    info = catalog.set_index(catalog["product_id"].astype(str))
    groups: dict[tuple[str, str], set[int]] = {}
    caps = {"product": constraints.per_product, "category": constraints.category_cap,
            "brand": constraints.brand_cap}
    for row, products in enumerate(priced["products"]):
        for p in products:
            groups.setdefault(("product", str(p)), set()).add(row)
            if p not in info.index:
                continue
            if constraints.category_cap is not None and "category_path" in info.columns:
                path = info.at[p, "category_path"]
                if isinstance(path, str) and path:
                    groups.setdefault(("category", _category(path, constraints.category_level)), set()).add(row)
            if constraints.brand_cap is not None and "brand" in info.columns:
                brand = info.at[p, "brand"]
                if isinstance(brand, str) and brand:
                    groups.setdefault(("brand", brand), set()).add(row)
    out = []
    for (kind, name), rows in sorted(groups.items()):
        cap = caps[kind]
        if cap is not None and len(rows) > cap:  # a group that cannot overflow needs no row
            out.append((f"{kind} {name}", int(cap), sorted(rows)))
    return out


def select_portfolio(priced: pd.DataFrame, catalog: pd.DataFrame,
                     constraints: PortfolioConstraints | None = None) -> PortfolioResult:
    """The set of proposed bundles with the largest total expected incremental profit.

    Parameters
    ----------
    priced : DataFrame
        :func:`~bundlewise.bundles.pricing.price_bundles` output (needs ``bundle_id``,
        ``products``, ``incremental_profit``, ``proposed``).
    catalog : DataFrame
        ``product_id`` and, for the caps, ``category_path`` and ``brand``.
    constraints : PortfolioConstraints, optional

    Returns
    -------
    PortfolioResult

    Raises
    ------
    DataValidationError
        A required column is missing.
    BundlewiseError
        The solver failed (it cannot be infeasible: choosing nothing is always allowed).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    constraints = constraints or PortfolioConstraints()
    missing = [c for c in REQUIRED_COLUMNS if c not in priced.columns]
    if missing:
        raise DataValidationError(f"priced bundles lack column(s) {allowed(missing)}; pass the output of "
                                  "price_bundles()")
    profit_all = pd.to_numeric(priced["incremental_profit"], errors="coerce").to_numpy(float)
    eligible = priced["proposed"].fillna(False).astype(bool).to_numpy() & (np.nan_to_num(profit_all) > 0)
    pool = priced[eligible].reset_index(drop=True)
    profit = profit_all[eligible]
    start = time.perf_counter()
    if pool.empty:
        return PortfolioResult(pool, 0.0, "empty", 0.0, time.perf_counter() - start, 0)
    groups = constraint_groups(pool, catalog, constraints)
    rows, cols, caps = [np.zeros(len(pool), dtype=np.int64)], [np.arange(len(pool))], [constraints.max_bundles]
    for r, (_, cap, members) in enumerate(groups, start=1):
        rows.append(np.full(len(members), r))
        cols.append(np.asarray(members, dtype=np.int64))
        caps.append(cap)
    matrix = csr_matrix((np.ones(sum(len(c) for c in cols)), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(len(caps), len(pool)))
    res = milp(c=-profit, integrality=np.ones(len(pool)), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(matrix, -np.inf, np.asarray(caps, dtype=float))],
               options={"time_limit": constraints.time_limit, "mip_rel_gap": 0.0})
    seconds = time.perf_counter() - start
    if res.x is None:
        raise BundlewiseError(f"the portfolio solver failed ({res.message}); {len(pool)} bundles, "
                              f"{len(caps)} constraints")
    chosen = np.round(res.x).astype(bool)
    status = "optimal" if res.status == 0 else "time_limit"
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    selected = pool[chosen].copy()
    selected = selected.sort_values(["incremental_profit", "bundle_id"], ascending=[False, True], kind="stable")
    objective = float(profit[chosen].sum())
    log.info("portfolio: %d of %d eligible bundles, objective %.2f, %s in %.3f s", chosen.sum(), len(pool),
             objective, status, seconds)
    return PortfolioResult(selected.reset_index(drop=True), objective, status, gap, seconds, len(pool))
