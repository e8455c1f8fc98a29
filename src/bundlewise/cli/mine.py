"""``bundlewise mine`` and ``bundlewise rules``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bundlewise.cli._console import open_warehouse, out, progress
from bundlewise.cli._render import safe
from bundlewise.config import MiningConfig, RulesConfig
from bundlewise.ingest import Warehouse
from bundlewise.mining.guards import parse_size
from bundlewise.mining.jobs import SIGNIFICANCE, mine, mine_rules
from bundlewise.mining.source import BasketQuery, load_baskets, read_basket_file
from bundlewise.mining.store import RULE_FILE_SUFFIXES
from bundlewise.outputs import check_output, clean_terminal

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
    title = titles.get(pid)
    text = clean_terminal(f"{pid} {title}" if title else pid, keep_newlines=False)
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def mine_cmd(
    min_count: Annotated[int, typer.Option("--min-count", help="Keep pairs/itemsets in >= N baskets.")] = 5,
    max_len: Annotated[int, typer.Option("--max-len", help="Longest itemset stored (2 = pairs only; longer "
                                                          "ones can be millions: raise --min-count).")] = 2,
    half_life_days: Annotated[float | None, typer.Option(
        "--half-life-days", help="Time decay: a basket this many days older weighs half.")] = None,
    max_basket_size: Annotated[int | None, typer.Option("--max-basket-size", help="Leave out baskets with more "
                                                                                  "products (wholesale).")] = None,
    segment: SegmentOpt = None,
    store: StoreOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    top: Annotated[int, typer.Option("--top", help="Pairs to print.")] = 10,
    memory_budget: BudgetOpt = "2GiB",
) -> None:
    """Exact co-purchase statistics of every product pair (+ frequent itemsets), stored in the warehouse."""
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
                           ] = 0.1,
    min_confidence: Annotated[float, typer.Option("--min-confidence", help="Inclusive.")] = 0.8,
    min_lift: Annotated[float | None, typer.Option("--min-lift")] = None,
    min_len: Annotated[int, typer.Option("--min-len", help="Products per rule, both sides (arules minlen).")] = 1,
    max_len: Annotated[int, typer.Option("--max-len", help="Products per rule, both sides (arules maxlen).")] = 10,
    output: Annotated[Path | None, typer.Option("--output", help="Write FILE.csv ({a,b} items) or "
                                                                 "FILE.parquet (list columns).")] = None,
    baskets_file: Annotated[Path | None, typer.Option("--baskets", help="Mine a basket file (one basket per line) "
                                                                       "instead of the warehouse.")] = None,
    segment: SegmentOpt = None,
    store: StoreOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    top: Annotated[int, typer.Option("--top", help="Rules to print.")] = 10,
    memory_budget: BudgetOpt = "2GiB",
) -> None:
    """Association rules X ⇒ {y} with arules semantics, from the warehouse or a basket file."""
    cfg = RulesConfig(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, min_len=min_len,
                      max_len=max_len, segments=tuple(segment or ()), stores=tuple(store or ()), since=since,
                      until=until, memory_budget=_budget(memory_budget))
    if output is not None:  # refused before any basket is read
        from bundlewise.cli._console import STATE

        check_output(output, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules",
                     warehouse=None if baskets_file is not None else STATE.db,
                     inputs=[baskets_file] if baskets_file is not None else ())
    titles: dict[str, str] = {}
    with progress() as bars:
        if baskets_file is not None:
            baskets = read_basket_file(baskets_file, progress=bars)
            s = mine_rules(baskets, cfg, output=output, progress=bars)
        else:
            with open_warehouse("write") as wh:  # rules are stored
                baskets = load_baskets(wh, BasketQuery(cfg.segments, cfg.stores, (), cfg.since, cfg.until), bars)
                s = mine_rules(baskets, cfg, wh=wh, output=output, progress=bars)
                shown = s.rules.head(top)
                titles = _titles(wh, {x for a in shown["antecedent"] for x in a} | set(shown["consequent"]))
    out.print(f"{len(s.rules):,} rules from {s.n_baskets:,} baskets and {s.n_items:,} products "
              f"(support >= {min_support} = {s.min_count:,} baskets, confidence >= {min_confidence}; "
              f"{s.seconds:.2f} s)")
    if s.rule_lengths:
        out.print("rules by length: " + ", ".join(f"{k}: {v:,}" for k, v in s.rule_lengths.items()))
    if s.output:
        out.print(f"wrote {safe(s.output)}")
    t = Table("antecedent", "consequent", "support", "confidence", "lift", "count", box=None, pad_edge=False)
    for column in t.columns[:2]:
        column.no_wrap = True
    for r in s.rules.head(top).itertuples():
        t.add_row("{" + ", ".join(_label(x, titles) for x in r.antecedent) + "}",
                  "{" + _label(str(r.consequent), titles) + "}", f"{r.support:.6f}",
                  f"{r.confidence:.4f}", f"{r.lift:.4f}", f"{r.count:,}")
    out.print(t)


def register(app: typer.Typer) -> None:
    app.command("mine")(mine_cmd)
    app.command("rules")(rules_cmd)
