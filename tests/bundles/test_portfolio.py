"""Portfolio MILP: every constraint holds, and brute force finds the same optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from bundlewise.bundles.portfolio import PortfolioConstraints, constraint_groups, select_portfolio
from bundlewise.errors import ConfigError, DataValidationError


def _instance(seed: int, n_products: int = 7, n_bundles: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"p{i}" for i in range(n_products)]
    catalog = pd.DataFrame({"product_id": ids,
                            "category_path": [f"C{rng.integers(3)} > sub{rng.integers(2)}" for _ in ids],
                            "brand": [f"B{rng.integers(3)}" for _ in ids]})
    bundles = set()
    while len(bundles) < n_bundles:
        size = int(rng.choice([2, 3], p=[0.7, 0.3]))
        bundles.add(tuple(sorted(rng.choice(ids, size=size, replace=False).tolist())))
    bundles = sorted(bundles)
    priced = pd.DataFrame({"bundle_id": ["+".join(b) for b in bundles], "products": bundles,
                           "incremental_profit": np.round(rng.normal(5, 4, len(bundles)), 3),
                           "proposed": rng.random(len(bundles)) < 0.85})
    return priced, catalog


def _groups(priced: pd.DataFrame, catalog: pd.DataFrame) -> list[tuple[set, set, set]]:
    """Products, top-level categories and brands each bundle touches (computed independently of the MILP)."""
    cat = dict(zip(catalog["product_id"], catalog["category_path"].str.split(" > ").str[0], strict=True))
    brand = dict(zip(catalog["product_id"], catalog["brand"], strict=True))
    return [(set(ps), {cat[p] for p in ps}, {brand[p] for p in ps}) for ps in priced["products"]]


def _feasible(rows: list[int], groups: list[tuple[set, set, set]], c: PortfolioConstraints) -> bool:
    if len(rows) > c.max_bundles:
        return False
    caps = (c.per_product, c.category_cap, c.brand_cap)
    for kind, cap in enumerate(caps):
        if cap is None:
            continue
        counts: dict[str, int] = {}
        for r in rows:
            for key in groups[r][kind]:
                counts[key] = counts.get(key, 0) + 1
        if max(counts.values(), default=0) > cap:
            return False
    return True


def _brute_force(priced: pd.DataFrame, catalog: pd.DataFrame, c: PortfolioConstraints) -> float:
    groups = _groups(priced, catalog)
    eligible = [i for i in range(len(priced)) if priced["proposed"].iloc[i]
                and priced["incremental_profit"].iloc[i] > 0]
    profit = priced["incremental_profit"].to_numpy()
    best = 0.0
    for k in range(min(len(eligible), c.max_bundles) + 1):
        for rows in itertools.combinations(eligible, k):
            if _feasible(list(rows), groups, c):
                best = max(best, float(profit[list(rows)].sum()))
    return best


CASES = [PortfolioConstraints(max_bundles=3, per_product=1),
         PortfolioConstraints(max_bundles=5, per_product=2, category_cap=2),
         PortfolioConstraints(max_bundles=10, per_product=2, brand_cap=2, category_cap=3),
         PortfolioConstraints(max_bundles=4, per_product=3, brand_cap=1)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("constraints", CASES, ids=lambda c: f"max{c.max_bundles}-pp{c.per_product}-"
                                                             f"cat{c.category_cap}-brand{c.brand_cap}")
def test_milp_matches_brute_force_and_respects_every_constraint(seed: int, constraints: PortfolioConstraints) -> None:
    priced, catalog = _instance(seed)
    result = select_portfolio(priced, catalog, constraints)
    assert result.status in ("optimal", "empty")
    assert result.objective == pytest.approx(_brute_force(priced, catalog, constraints), abs=1e-6)
    rows = [int(priced.index[priced["bundle_id"] == b][0]) for b in result.selected["bundle_id"]]
    assert _feasible(rows, _groups(priced, catalog), constraints)
    assert result.selected["proposed"].all() and (result.selected["incremental_profit"] > 0).all()
    assert result.objective == pytest.approx(result.selected["incremental_profit"].sum())
    assert result.mip_gap <= 1e-9 and result.seconds >= 0


def test_nothing_eligible_and_missing_columns() -> None:
    priced, catalog = _instance(0)
    none = select_portfolio(priced.assign(proposed=False), catalog)
    assert none.status == "empty" and none.selected.empty and none.objective == 0.0
    with pytest.raises(DataValidationError, match="'incremental_profit'"):
        select_portfolio(priced.drop(columns="incremental_profit"), catalog)


def test_constraint_groups_only_list_groups_that_can_overflow() -> None:
    priced, catalog = _instance(1)
    groups = constraint_groups(priced, catalog, PortfolioConstraints(per_product=2, category_cap=4))
    for name, cap, rows in groups:
        assert len(rows) > cap
        assert name.split()[0] in ("product", "category")


@pytest.mark.parametrize(("kwargs", "message"), [({"max_bundles": 0}, "max_bundles is 0"),
                                                 ({"per_product": 1.5}, "per_product is 1.5"),
                                                 ({"category_cap": 0}, "category_cap is 0"),
                                                 ({"time_limit": 0}, "time_limit is 0")])
def test_bad_constraints(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PortfolioConstraints(**kwargs)
    with pytest.raises(ConfigError, match="unknown portfolio key"):
        PortfolioConstraints.from_dict({"max_bundle": 3})
