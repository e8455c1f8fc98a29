"""Bundle strategy: candidate bundles, business rules, elasticities, a calibrated demand model,
prices, the portfolio and the report.

The data flow (:func:`plan_bundles` runs all of it)::

    baskets -> CoPurchaseStats -> generate_candidates -> BundleRules.apply
            -> estimate_elasticities -> BundleDemandModel.fit -> fill_costs (margins where no cost)
            -> price_bundles -> select_portfolio -> plan_rows / read_plan (the plan file) -> build_report

The market simulator that checks the demand model lives in :mod:`bundlewise.bundles.simulate`.
"""

from bundlewise.bundles.business_rules import BundleRules
from bundlewise.bundles.candidates import generate_candidates
from bundlewise.bundles.demand import BundleDemandModel
from bundlewise.bundles.elasticity import (
    estimate_elasticities,
    price_panel_from_warehouse,
)
from bundlewise.bundles.jobs import BundlePlan, BundlePlanConfig, plan_bundles
from bundlewise.bundles.plan_io import bundle_table
from bundlewise.bundles.portfolio import PortfolioConstraints, PortfolioResult, select_portfolio
from bundlewise.bundles.pricing import PricingConstraints, price_bundles

__all__ = [
    "BundleDemandModel",
    "BundlePlan",
    "BundlePlanConfig",
    "BundleRules",
    "PortfolioConstraints",
    "PortfolioResult",
    "PricingConstraints",
    "bundle_table",
    "estimate_elasticities",
    "generate_candidates",
    "plan_bundles",
    "price_bundles",
    "price_panel_from_warehouse",
    "select_portfolio",
]
