"""The mining jobs behind ``bundlewise mine`` and ``bundlewise rules``: load, fit, store."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.config import MiningConfig, RulesConfig
from bundlewise.mining.association import AssociationRules, RuleTable
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.itemsets import frequent_itemsets
from bundlewise.mining.source import BasketQuery, load_baskets
from bundlewise.outputs import atomic_write, check_output, neutralise_cell
from bundlewise.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    import pandas as pd

    from bundlewise.ingest.warehouse import Warehouse

# pandas, pyarrow (mining.store, mining.copurchase) and DuckDB are imported where they are needed:
# 'bundlewise rules --baskets FILE --output rules.csv' loads none of them (~0.5 s of a ~0.3 s process)
SIGNIFICANCE = 0.05
RULE_FILE_SUFFIXES = (".csv", ".parquet")  # those of mining.store.write_rules_file (a test checks they agree)
RULE_FILE_COLUMNS = ("antecedent", "consequent", "support", "confidence", "lift", "count")


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
    table: RuleTable
    n_baskets: int
    n_items: int
    min_count: int
    seconds: float
    run_id: int | None = None
    output: Path | None = None
    rule_lengths: dict[int, int] = field(default_factory=dict)

    @cached_property
    def rules(self) -> pd.DataFrame:
        """The rules as a DataFrame (built at the first access: the CLI prints from :attr:`table`)."""
        return self.table.to_frame()


def mine(wh: Warehouse, cfg: MiningConfig, progress: Progress = NULL_PROGRESS, top: int = 10) -> MineSummary:
    """Pair statistics and itemsets of the warehouse's baskets, stored in the warehouse."""
    from bundlewise.mining.copurchase import CoPurchaseStats
    from bundlewise.mining.store import save_pairs

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
                             memory_budget=cfg.memory_budget).fit(baskets, progress=progress)
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


def _braces(items: tuple[str, ...] | list[str]) -> str:
    return "{" + ",".join(items) + "}"


def write_rules_csv(table: RuleTable, path: str | Path) -> None:
    """The CSV of :func:`bundlewise.mining.store.write_rules_file`, byte for byte, without pandas.

    Items as ``{a,b}`` (like arules), floats as ``%.9g``, ``\\n`` line ends, cells quoted only when
    they need it and neutralised against spreadsheet formulas, as pandas' ``to_csv`` wrote them.

    Examples
    --------
    >>> import tempfile
    >>> from bundlewise.mining import Baskets
    >>> b = Baskets.from_lists([["tea", "milk"], ["tea", "milk", "jam"], ["jam"], ["tea", "milk"]])
    >>> t = AssociationRules(min_support=0.5, min_confidence=0.9, min_len=2).fit(b).rule_table_
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_rules_csv(t, Path(tmp) / "r.csv")
    ...     print((Path(tmp) / "r.csv").read_text(), end="")
    antecedent,consequent,support,confidence,lift,count
    {milk},{tea},0.75,1,1.33333333,3
    {tea},{milk},0.75,1,1.33333333,3
    """
    path = check_output(path, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules")
    floats = [[f"{x:.9g}" for x in getattr(table, c).tolist()] for c in ("support", "confidence", "lift")]
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")  # pandas' dialect: excel quoting, "\n" line ends
        writer.writerow([neutralise_cell(c) for c in RULE_FILE_COLUMNS])
        writer.writerows(zip([neutralise_cell(_braces(a)) for a in table.antecedent],
                             [neutralise_cell(_braces([c])) for c in table.consequent.tolist()],
                             *floats, table.count.tolist(), strict=True))
