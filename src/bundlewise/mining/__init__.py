"""Association mining: co-purchase statistics, frequent itemsets and rules."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bundlewise.mining.association import AssociationRules, rules_from_itemsets
    from bundlewise.mining.baskets import Baskets
    from bundlewise.mining.copurchase import CoPurchaseStats
    from bundlewise.mining.itemsets import Itemsets, frequent_itemsets
    from bundlewise.mining.source import BasketQuery, load_baskets, read_basket_file

# name -> module: imported on first use (PEP 562), so importing one mining module (the CLI's
# 'rules --baskets') does not import them all (pandas, DuckDB through the warehouse source)
_WHERE = {
    "AssociationRules": "association", "rules_from_itemsets": "association", "Baskets": "baskets",
    "CoPurchaseStats": "copurchase", "Itemsets": "itemsets", "frequent_itemsets": "itemsets",
    "BasketQuery": "source", "load_baskets": "source", "read_basket_file": "source",
}

__all__ = ["AssociationRules", "BasketQuery", "Baskets", "CoPurchaseStats", "Itemsets", "frequent_itemsets",
           "load_baskets", "read_basket_file", "rules_from_itemsets"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
