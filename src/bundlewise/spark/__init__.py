"""bundlewise on Apache Spark: the mining stage's statistics, itemsets and rules, rule application and pair-model
scoring, with the embedded engine's results (counts exact, floats to rounding). See docs/spark.md.

PySpark (``pip install 'bundlewise[spark]'``) is imported on first use, never by ``import bundlewise``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bundlewise._lazy import lazy_exports

if TYPE_CHECKING:
    from bundlewise.spark.apply import apply_rules, rules_to_spark
    from bundlewise.spark.baskets import baskets_to_spark, export_baskets, read_lines
    from bundlewise.spark.itemsets import SparkAssociationRules, spark_frequent_itemsets
    from bundlewise.spark.pairs import SparkCoPurchaseStats
    from bundlewise.spark.rules import find_rules_multi
    from bundlewise.spark.scoring import score_pairs
    from bundlewise.spark.session import SparkConfig, get_session

_WHERE = {
    "apply_rules": "apply", "rules_to_spark": "apply",
    "baskets_to_spark": "baskets", "export_baskets": "baskets", "read_lines": "baskets",
    "SparkAssociationRules": "itemsets", "spark_frequent_itemsets": "itemsets",
    "SparkCoPurchaseStats": "pairs", "find_rules_multi": "rules", "score_pairs": "scoring",
    "SparkConfig": "session", "get_session": "session",
}

__all__ = ["SparkAssociationRules", "SparkCoPurchaseStats", "SparkConfig", "apply_rules", "baskets_to_spark",
           "export_baskets", "find_rules_multi", "get_session", "read_lines", "rules_to_spark", "score_pairs",
           "spark_frequent_itemsets"]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
