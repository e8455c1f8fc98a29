"""Association mining: co-purchase statistics, frequent itemsets and rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bundlewise._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
