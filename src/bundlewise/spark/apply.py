"""Applying association rules to many baskets as a join: which rules fire in which basket, best first.

A rule X ⇒ y fires in a basket holding all of X and not y. Rather than broadcasting the rules
and scanning each basket against all of them, the antecedents are exploded into
``(rule, product)`` rows and joined with the basket lines on the product: a basket meets a rule
once per antecedent product it holds, so the rule fires where the meetings equal ``|X|``.
Both sides are partitioned by product, so the work spreads with the data and neither side must
fit in one executor. Rules with an empty antecedent fire everywhere (a small cross join).
"""

from __future__ import annotations

from typing import Any

from bundlewise.errors import ConfigError


def rules_to_spark(spark: Any, rules: Any) -> Any:
    """A rules DataFrame (``antecedent`` tuples, ``consequent`` id or tuple, ``confidence``, ``lift``,
    ``support``) as a Spark DataFrame with a ``rule_id`` (its row number) and list columns."""
    import pandas as pd

    frame = pd.DataFrame({
        "rule_id": range(len(rules)),
        "antecedent": [list(a) for a in rules["antecedent"]],
        "consequent": [list(c) if isinstance(c, tuple | list) else [c] for c in rules["consequent"]],
        "confidence": rules["confidence"].astype(float), "lift": rules["lift"].astype(float),
        "support": rules["support"].astype(float)})
    schema = ("rule_id long, antecedent array<string>, consequent array<string>, confidence double, lift double, "
              "support double")
    return spark.createDataFrame(frame, schema)


def apply_rules(rules: Any, lines: Any, k: int = 10) -> Any:
    """The top ``k`` products to offer each basket: ``basket_id, item_id, confidence, lift, rule_id, rank``.

    A product recommended by several firing rules keeps its best rule (confidence, then lift,
    then the lower ``rule_id``); products are ranked by confidence, lift, then id. ``rules`` is
    :func:`rules_to_spark`'s layout, ``lines`` basket lines (``basket_id``, ``item_id``).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if k < 1:
        raise ConfigError(f"k is {k}; it must be >= 1")
    held = lines.select("basket_id", "item_id").distinct()
    sized = rules.withColumn("need", F.size("antecedent"))
    ante = sized.where(F.col("need") > 0).select("rule_id", "need", F.explode("antecedent").alias("item_id"))
    met = (held.join(ante, "item_id").groupBy("basket_id", "rule_id", "need").count()
           .where(F.col("count") == F.col("need")).select("basket_id", "rule_id"))
    empty = sized.where(F.col("need") == 0).select("rule_id")
    fired = met.unionByName(held.select("basket_id").distinct().crossJoin(empty))
    offers = (fired.join(rules.select("rule_id", "consequent", "confidence", "lift"), "rule_id")
              .select("basket_id", "rule_id", "confidence", "lift", F.explode("consequent").alias("item_id")))
    offers = offers.join(held, ["basket_id", "item_id"], "left_anti")  # never offer what the basket holds
    best_rule = Window.partitionBy("basket_id", "item_id").orderBy(F.col("confidence").desc(), F.col("lift").desc(),
                                                                    "rule_id")
    offers = offers.withColumn("r", F.row_number().over(best_rule)).where("r = 1").drop("r")
    by_basket = Window.partitionBy("basket_id").orderBy(F.col("confidence").desc(), F.col("lift").desc(), "item_id")
    return (offers.withColumn("rank", F.row_number().over(by_basket)).where(F.col("rank") <= k)
            .select("basket_id", "item_id", "confidence", "lift", "rule_id", "rank"))
