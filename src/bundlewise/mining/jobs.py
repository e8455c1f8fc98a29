"""The mining jobs behind ``bundlewise mine`` and ``bundlewise rules``: load, fit, store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bundlewise.config import MiningConfig, RulesConfig
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.mining.association import AssociationRules
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.copurchase import CoPurchaseStats
from bundlewise.mining.itemsets import frequent_itemsets
from bundlewise.mining.source import BasketQuery, load_baskets
from bundlewise.mining.store import RULE_FILE_SUFFIXES, save_pairs, save_rules, write_rules_file
from bundlewise.outputs import check_output
from bundlewise.progress import NULL_PROGRESS, Progress

SIGNIFICANCE = 0.05


@dataclass
class MineSummary:
    run_id: int
    n_baskets: int
    n_dropped_baskets: int
    n_items: int
    n_pairs: int
    n_significant: int
    itemsets_by_length: dict[int, int]
    top_pairs: pd.DataFrame
    seconds: float
    query: str


@dataclass
class RulesSummary:
    rules: pd.DataFrame
    n_baskets: int
    n_items: int
    min_count: int
    seconds: float
    run_id: int | None = None
    output: Path | None = None
    rule_lengths: dict[int, int] = field(default_factory=dict)


def mine(wh: Warehouse, cfg: MiningConfig, progress: Progress = NULL_PROGRESS, top: int = 10) -> MineSummary:
    """Pair statistics and itemsets of the warehouse's baskets, stored in the warehouse."""
    started = time.perf_counter()
    baskets = load_baskets(wh, BasketQuery(cfg.segments, cfg.stores, cfg.customers, cfg.since, cfg.until), progress)
    model = CoPurchaseStats(min_count=cfg.min_count, half_life_days=cfg.half_life_days,
                            max_basket_size=cfg.max_basket_size, prior=cfg.prior, memory_budget=cfg.memory_budget)
    with progress.task("counting product pairs", total=None):
        model.fit(baskets)
    with progress.task("pair statistics and significance", total=None):
        pairs = model.pair_stats()
    itemsets = None
    if cfg.max_len > 2:
        capped, _ = baskets.cap_size(cfg.max_basket_size)
        itemsets = frequent_itemsets(capped, min_count=cfg.min_count, max_len=cfg.max_len,
                                     memory_budget=cfg.memory_budget, progress=progress)
    seconds = time.perf_counter() - started
    with progress.task("writing results", total=None):
        run_id = save_pairs(wh, pairs, itemsets, cfg.to_dict(), model.n_baskets_, baskets.n_items,
                            model.n_dropped_baskets_, seconds)
    by_length = {k + 1: len(c) for k, (_, c) in enumerate(itemsets.levels)} if itemsets else {
        1: int((model.item_counts_ >= cfg.min_count).sum()), 2: len(pairs)}
    top_pairs = pairs.sort_values(["shrunk_lift", "n_ab"], ascending=False, kind="stable").head(top)
    return MineSummary(run_id, model.n_baskets_, model.n_dropped_baskets_, baskets.n_items, len(pairs),
                       int((pairs["q_value"] < SIGNIFICANCE).sum()), by_length, top_pairs, seconds,
                       baskets.meta.get("query", ""))  # type: ignore[arg-type]


def mine_rules(baskets: Baskets, cfg: RulesConfig, *, wh: Warehouse | None = None, output: Path | None = None,
               progress: Progress = NULL_PROGRESS) -> RulesSummary:
    """Rules of ``baskets``; stored in ``wh`` when given, written to ``output`` when given."""
    if output is not None:  # refused before mining, not after
        check_output(output, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules",
                     warehouse=None if wh is None else wh.path)
    started = time.perf_counter()
    model = AssociationRules(min_support=cfg.min_support, min_confidence=cfg.min_confidence,
                             min_lift=cfg.min_lift, min_len=cfg.min_len, max_len=cfg.max_len,
                             memory_budget=cfg.memory_budget).fit(baskets, progress)
    rules = model.rules_
    seconds = time.perf_counter() - started
    summary = RulesSummary(rules, baskets.n_baskets, baskets.n_items, model.itemsets_.min_count, seconds)
    lengths = rules["antecedent"].map(len).to_numpy() + 1 if len(rules) else np.array([], dtype=int)
    summary.rule_lengths = {int(k): int(v) for k, v in zip(*np.unique(lengths, return_counts=True), strict=True)}
    if wh is not None:
        summary.run_id = save_rules(wh, rules, cfg.to_dict(), baskets.n_baskets, baskets.n_items, seconds)
    if output is not None:
        write_rules_file(rules, output)
        summary.output = output
    return summary
