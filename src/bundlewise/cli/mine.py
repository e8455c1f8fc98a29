"""``bundlewise mine`` and ``bundlewise rules``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bundlewise.cli._console import open_warehouse, out, progress
from bundlewise.config import DEFAULT_MEMORY_BUDGET, MiningConfig, RulesConfig
from bundlewise.outputs import check_output, clean_terminal

if TYPE_CHECKING:
    from bundlewise.ingest.warehouse import Warehouse

_MINE, _RULES = MiningConfig(), RulesConfig()  # the option defaults are the configs'
_BUDGET = f"{DEFAULT_MEMORY_BUDGET / 2**30:g}GiB"

# the mining modules (numpy, pandas, DuckDB) are imported inside the verbs: 'rules --baskets' never loads DuckDB

SegmentOpt = Annotated[list[str] | None, typer.Option("--segment", help="Only baskets of this segment (country, "
                                                                        "customer group); repeatable.")]
StoreOpt = Annotated[list[str] | None, typer.Option("--store", help="Only baskets of this store; repeatable.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only baskets ordered on/after this date "
                                                              "(ISO: 2024-01-31 or 2024-01-31T18:00).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Only baskets ordered before this date.")]
BudgetOpt = Annotated[str, typer.Option("--memory-budget", help="Memory the mining may plan to use (e.g. 2GiB, "
                                                                "8GiB, 'none'); estimated before it starts, a bigger "
                                                                "job is refused with the setting that fits.")]


def _budget(text: str) -> int | None:
    from bundlewise.mining.guards import parse_size

    return None if text.strip().lower() in ("none", "off", "unlimited") else parse_size(text)


def _titles(wh: Warehouse | None, ids: set[str]) -> dict[str, str]:
    """Product titles for display (ids are often opaque codes); empty without a warehouse."""
    if wh is None or not ids:
        return {}
    rows = wh.con.execute("SELECT product_id, title FROM products WHERE product_id IN (SELECT unnest(?))",
                          [sorted(ids)]).fetchall()
    return {pid: title for pid, title in rows if title and title != pid}


def _label(pid: str, titles: dict[str, str], width: int = 28) -> str:
    """``id title`` for a table cell (markup on): escape codes, control characters and markup removed."""
    from rich.markup import escape

    title = titles.get(pid)
    text = clean_terminal(f"{pid} {title}" if title else pid, keep_newlines=False)
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def mine_cmd(
    min_count: Annotated[int, typer.Option("--min-count", help="Keep pairs/itemsets in >= N baskets.")
                         ] = _MINE.min_count,
    max_len: Annotated[int, typer.Option("--max-len", help="Longest itemset stored (2 = pairs only; longer "
                                                          "ones can be millions: raise --min-count).")
                       ] = _MINE.max_len,
    half_life_days: Annotated[float | None, typer.Option(
        "--half-life-days", help="Time decay: a basket this many days older weighs half.")] = _MINE.half_life_days,
    max_basket_size: Annotated[int | None, typer.Option("--max-basket-size", help="Leave out baskets with more "
                                                                                  "products (wholesale).")
                                 ] = _MINE.max_basket_size,
    segment: SegmentOpt = None,
    store: StoreOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    top: Annotated[int, typer.Option("--top", help="Pairs to print.")] = 10,
    memory_budget: BudgetOpt = _BUDGET,
) -> None:
    """Exact co-purchase statistics of every product pair (+ frequent itemsets), stored in the warehouse."""
    from rich.table import Table

    from bundlewise.mining.jobs import SIGNIFICANCE, mine

    cfg = MiningConfig(min_count=min_count, max_len=max_len, half_life_days=half_life_days,
                       max_basket_size=max_basket_size, segments=tuple(segment or ()), stores=tuple(store or ()),
                       since=since, until=until, memory_budget=_budget(memory_budget))
    with open_warehouse("write") as wh, progress() as bars:
        s = mine(wh, cfg, bars, top=top)
        titles = _titles(wh, set(s.top_pairs["item_a"]) | set(s.top_pairs["item_b"]))
    out.print(f"mining run #{s.run_id} ({s.seconds:.1f} s): {s.n_baskets:,} baskets ({s.query}), "
              f"{s.n_dropped_baskets:,} left out by the size cap, {s.n_items:,} products")
    out.print(f"pairs in >= {min_count} baskets: {s.n_pairs:,} · significant (BH q < {SIGNIFICANCE}): "
              f"{s.n_significant:,}")
    out.print("frequent itemsets by length: " + ", ".join(f"{k}: {v:,}" for k, v in s.itemsets_by_length.items()))
    t = Table("product a", "product b", "baskets", "lift", "shrunk lift", "conf a→b", "conf b→a", "-log10 p",
              box=None, pad_edge=False)
    for column in t.columns[:2]:
        column.no_wrap = True
    for r in s.top_pairs.itertuples():
        t.add_row(_label(r.item_a, titles), _label(r.item_b, titles), f"{r.n_ab:,}", f"{r.lift:.2f}",
                  f"{r.shrunk_lift:.2f}", f"{r.confidence_ab:.2f}", f"{r.confidence_ba:.2f}", f"{r.neg_log10_p:.1f}")
    out.print(t)


def rules_cmd(
    min_support: Annotated[float, typer.Option("--min-support", help="Share of baskets (inclusive; 0 = every "
                                                                     "itemset seen once, within --memory-budget).")
                           ] = _RULES.min_support,
    min_confidence: Annotated[float, typer.Option("--min-confidence", help="Inclusive.")] = _RULES.min_confidence,
    min_lift: Annotated[float | None, typer.Option("--min-lift")] = _RULES.min_lift,
    min_len: Annotated[int, typer.Option("--min-len", help="Products per rule, both sides (arules minlen).")
                       ] = _RULES.min_len,
    max_len: Annotated[int, typer.Option("--max-len", help="Products per rule, both sides (arules maxlen).")
                       ] = _RULES.max_len,
    output: Annotated[Path | None, typer.Option("--output", help="Write FILE.csv ({a,b} items) or "
                                                                 "FILE.parquet (list columns).")] = None,
    baskets_file: Annotated[Path | None, typer.Option("--baskets", help="Mine a basket file (one basket per line) "
                                                                       "instead of the warehouse.")] = None,
    segment: SegmentOpt = None,
    store: StoreOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    top: Annotated[int, typer.Option("--top", help="Rules to print.")] = 10,
    memory_budget: BudgetOpt = _BUDGET,
) -> None:
    """Association rules X ⇒ {y} with arules semantics, from the warehouse or a basket file."""
    from bundlewise.mining.jobs import RULE_FILE_SUFFIXES

    cfg = RulesConfig(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, min_len=min_len,
                      max_len=max_len, segments=tuple(segment or ()), stores=tuple(store or ()), since=since,
                      until=until, memory_budget=_budget(memory_budget))
    if output is not None:  # refused before any basket is read
        from bundlewise.cli._console import STATE

        check_output(output, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules",
                     warehouse=None if baskets_file is not None else STATE.db,
                     inputs=[baskets_file] if baskets_file is not None else ())
    from bundlewise.mining.jobs import mine_rules
    from bundlewise.mining.source import BasketQuery, load_baskets, read_basket_file

    titles: dict[str, str] = {}
    with progress() as bars:
        if baskets_file is not None:
            baskets = read_basket_file(baskets_file, progress=bars)
            s = mine_rules(baskets, cfg, output=output, progress=bars)
        else:
            with open_warehouse("write") as wh:  # rules are stored
                baskets = load_baskets(wh, BasketQuery(cfg.segments, cfg.stores, (), cfg.since, cfg.until), bars)
                s = mine_rules(baskets, cfg, wh=wh, output=output, progress=bars)
                shown = s.table.antecedent[:top], s.table.consequent[:top].tolist()
                titles = _titles(wh, {x for a in shown[0] for x in a} | set(shown[1]))
    from rich.table import Table

    from bundlewise.cli._render import safe

    out.print(f"{len(s.table):,} rules from {s.n_baskets:,} baskets and {s.n_items:,} products "
              f"(support >= {min_support} = {s.min_count:,} baskets, confidence >= {min_confidence}; "
              f"{s.seconds:.2f} s)")
    if s.rule_lengths:
        out.print("rules by length: " + ", ".join(f"{k}: {v:,}" for k, v in s.rule_lengths.items()))
    if s.output:
        out.print(f"wrote {safe(s.output)}")
    if not len(s.table):
        out.print(no_rules_hint(baskets, cfg, s.min_count), markup=False)
        return
    t = Table("antecedent", "consequent", "support", "confidence", "lift", "count", box=None, pad_edge=False)
    for column in t.columns[:2]:
        column.no_wrap = True
    r = s.table
    for ante, cons, support, confidence, lift, count in zip(
            r.antecedent[:top], r.consequent[:top].tolist(), r.support[:top].tolist(), r.confidence[:top].tolist(),
            r.lift[:top].tolist(), r.count[:top].tolist(), strict=True):
        t.add_row("{" + ", ".join(_label(x, titles) for x in ante) + "}", "{" + _label(str(cons), titles) + "}",
                  f"{support:.6f}", f"{confidence:.4f}", f"{lift:.4f}", f"{count:,}")
    out.print(t)


def no_rules_hint(baskets: Any, cfg: RulesConfig, min_count: int) -> str:
    """Which threshold to lower when ``rules`` found none, with the values used and the best ones seen.

    Mines again only here (0 rules is rare and the thresholds that failed are usually far off): the
    frequent itemsets at ``min_count`` tell whether support or confidence (or lift) stopped every rule.
    """
    import numpy as np

    from bundlewise.errors import BundlewiseError
    from bundlewise.mining.association import find_rules
    from bundlewise.mining.itemsets import frequent_itemsets

    n = max(baskets.n_baskets, 1)
    longest = max(cfg.min_len, 2)  # a rule of one product ({} ⇒ y) needs y frequent: pairs say more
    try:
        sets = frequent_itemsets(baskets, min_count=min_count, max_len=min(cfg.max_len, max(longest, 2)),
                                 memory_budget=cfg.memory_budget)
        candidates = find_rules(sets, 0.0, min_len=cfg.min_len, max_len=cfg.max_len,
                                         memory_budget=cfg.memory_budget)
    except BundlewiseError:  # too big to look into: the plain advice
        return (f"no rule reaches support >= {cfg.min_support:g} and confidence >= {cfg.min_confidence:g}: lower "
                "--min-support or --min-confidence")
    if not len(candidates):
        best_pair = _best_pair_count(baskets, min_count, cfg.memory_budget)
        singles = sets.levels[0][1] if sets.levels else np.zeros(0)
        best_item = int(singles.max()) if len(singles) else _best_pair_count(baskets, min_count, None, items=True)
        pair = (f"the most frequent pair is in {best_pair:,} baskets (support {best_pair / n:.4g})"
                if best_pair else "no two products are ever bought together")
        return (f"no itemset of {longest} products reaches --min-support {cfg.min_support:g} ({min_count:,} of "
                f"{baskets.n_baskets:,} baskets): {pair}, the most frequent product is in {best_item:,} "
                f"(support {best_item / n:.4g}); lower --min-support"
                + (f" to {best_pair / n:.4g} or less" if best_pair else ""))
    best_conf = float(candidates.confidence.max())
    if best_conf < cfg.min_confidence:
        return (f"{len(candidates):,} candidate rules reach --min-support {cfg.min_support:g} but none "
                f"--min-confidence {cfg.min_confidence:g}: the highest confidence is {best_conf:.4g}; lower "
                f"--min-confidence to {best_conf:.4g} or less")
    best_lift = float(candidates.lift[candidates.confidence >= cfg.min_confidence].max())
    return (f"rules reach --min-support {cfg.min_support:g} and --min-confidence {cfg.min_confidence:g} but none "
            f"--min-lift {cfg.min_lift:g}: the highest lift is {best_lift:.4g}; lower --min-lift")


def _best_pair_count(baskets: Any, below: int, budget: int | None, *, items: bool = False) -> int:
    """The basket count of the most frequent pair (or product), searched at halving thresholds under ``below``."""
    from bundlewise.errors import BundlewiseError
    from bundlewise.mining.itemsets import frequent_itemsets

    threshold = max(1, below // 2)
    while True:
        try:
            sets = frequent_itemsets(baskets, min_count=threshold, max_len=1 if items else 2, memory_budget=budget)
        except BundlewiseError:
            return 0
        level = sets.levels[0 if items else 1] if len(sets.levels) > (0 if items else 1) else None
        if level is not None and len(level[1]):
            return int(level[1].max())
        if threshold == 1:
            return 0
        threshold = max(1, threshold // 2)


def register(app: typer.Typer) -> None:
    app.command("mine")(mine_cmd)
    app.command("rules")(rules_cmd)
