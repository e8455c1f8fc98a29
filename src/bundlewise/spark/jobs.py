"""``bundlewise mine --engine spark`` and ``rules --engine spark``: the embedded jobs' summaries and stored
results, with the counting on Spark.

``mine`` exports the warehouse's basket lines to Parquet (DuckDB, on this machine), lets Spark
filter, cap, weigh and count them, and stores the pair statistics (and itemsets) exactly as the
embedded job does. ``mine_rules`` takes the baskets the CLI loaded and mines them on Spark.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.config import MiningConfig, RulesConfig
from bundlewise.mining.jobs import RULE_FILE_SUFFIXES, MineSummary, RulesSummary, write_rules_csv
from bundlewise.mining.source import BasketQuery
from bundlewise.outputs import check_output
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.spark.session import SparkConfig, get_session

if TYPE_CHECKING:
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.mining.baskets import Baskets

SIGNIFICANCE = 0.05


def mine(wh: Warehouse, cfg: MiningConfig, progress: Progress = NULL_PROGRESS, top: int = 10,
         spark_config: SparkConfig | None = None) -> MineSummary:
    """:func:`bundlewise.mining.jobs.mine` on Spark: pair statistics (and itemsets), stored in the warehouse."""
    from bundlewise.mining.store import save_pairs
    from bundlewise.spark.baskets import export_baskets, read_lines
    from bundlewise.spark.itemsets import spark_frequent_itemsets
    from bundlewise.spark.pairs import SparkCoPurchaseStats

    started = time.perf_counter()
    spark = get_session(spark_config)
    query = BasketQuery(cfg.segments, cfg.stores, cfg.customers, cfg.since, cfg.until)
    with tempfile.TemporaryDirectory(prefix="bundlewise-spark-") as tmp:
        with progress.task("exporting baskets to Parquet", total=None):
            lines = read_lines(spark, export_baskets(wh, Path(tmp) / "baskets.parquet"))
        with progress.task("counting product pairs on Spark", total=None):
            model = SparkCoPurchaseStats(min_count=cfg.min_count, half_life_days=cfg.half_life_days,
                                         max_basket_size=cfg.max_basket_size, prior=cfg.prior, query=query).fit(lines)
        with progress.task("pair statistics and significance on Spark", total=None):
            pairs = model.to_pandas()
        itemsets = None
        if cfg.max_len > 2:
            with progress.task("frequent itemsets on Spark", total=None):
                itemsets = spark_frequent_itemsets(lines, min_count=cfg.min_count, max_len=cfg.max_len,
                                                   max_basket_size=cfg.max_basket_size, query=query)
        model.pairs_.unpersist()
    seconds = time.perf_counter() - started
    with progress.task("writing results", total=None):
        run_id = save_pairs(wh, pairs, itemsets, cfg.to_dict(), model.n_baskets_, len(model.item_ids_),
                            model.n_dropped_baskets_, seconds)
    by_length = {k + 1: len(c) for k, (_, c) in enumerate(itemsets.levels)} if itemsets else {
        1: int((model.item_counts_ >= cfg.min_count).sum()), 2: len(pairs)}
    top_pairs = pairs.sort_values(["shrunk_lift", "n_ab"], ascending=False, kind="stable").head(top)
    return MineSummary(run_id, model.n_baskets_, model.n_dropped_baskets_, len(model.item_ids_), len(pairs),
                       int((pairs["q_value"] < SIGNIFICANCE).sum()), by_length, top_pairs, seconds, query.describe())


def mine_rules(baskets: Baskets, cfg: RulesConfig, *, wh: Warehouse | None = None, output: Path | None = None,
               progress: Progress = NULL_PROGRESS, spark_config: SparkConfig | None = None) -> RulesSummary:
    """:func:`bundlewise.mining.jobs.mine_rules` with the itemsets counted on Spark (same rules, same order)."""
    from bundlewise.spark.baskets import baskets_to_spark
    from bundlewise.spark.itemsets import SparkAssociationRules

    if output is not None:
        check_output(output, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules",
                     warehouse=None if wh is None else wh.path)
    started = time.perf_counter()
    spark = get_session(spark_config)
    with progress.task("frequent itemsets and rules on Spark", total=None):
        lines = baskets_to_spark(spark, baskets)
        model = SparkAssociationRules(min_support=cfg.min_support, min_confidence=cfg.min_confidence,
                                      min_lift=cfg.min_lift, min_len=cfg.min_len, max_len=cfg.max_len,
                                      memory_budget=cfg.memory_budget).fit(lines)
    table = model.rule_table_
    seconds = time.perf_counter() - started
    summary = RulesSummary(table, baskets.n_baskets, baskets.n_items, model.itemsets_.min_count, seconds)
    lengths = table.lengths()
    summary.rule_lengths = {int(k): int(v) for k, v in zip(*np.unique(lengths, return_counts=True), strict=True)}
    if wh is not None:
        from bundlewise.mining.store import save_rules

        summary.run_id = save_rules(wh, model.rules_, cfg.to_dict(), baskets.n_baskets, baskets.n_items, seconds)
    if output is not None:
        if Path(output).suffix.lower() == ".csv":
            write_rules_csv(table, output)
        else:
            from bundlewise.mining.store import write_rules_file

            write_rules_file(model.rules_, output)
        summary.output = output
    return summary
