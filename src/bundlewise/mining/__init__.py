"""Association mining: co-purchase statistics, frequent itemsets and rules."""

from bundlewise.mining.association import AssociationRules, rules_from_itemsets
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.copurchase import CoPurchaseStats
from bundlewise.mining.itemsets import Itemsets, frequent_itemsets
from bundlewise.mining.source import BasketQuery, load_baskets, read_basket_file

__all__ = [
    "AssociationRules",
    "BasketQuery",
    "Baskets",
    "CoPurchaseStats",
    "Itemsets",
    "frequent_itemsets",
    "load_baskets",
    "read_basket_file",
    "rules_from_itemsets",
]
