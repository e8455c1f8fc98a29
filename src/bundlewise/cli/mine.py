"""``bundlewise mine`` and ``bundlewise rules``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bundlewise.cli._console import open_warehouse, out, progress
from bundlewise.cli._rules import label_text, parse_budget, titles_of
from bundlewise.config import DEFAULT_MEMORY_BUDGET, MiningConfig, RulesConfig

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


def _engine(value: str) -> str:
    if value not in ("embedded", "spark"):
        raise typer.BadParameter(f"{value!r} is not an engine; use embedded or spark")
    return value


EngineOpt = Annotated[str, typer.Option("--engine", callback=_engine, help="embedded (this process) or spark "
                                        "(PySpark: master from spark-submit/$MASTER, else local[2]; docs/spark.md).")]


def _label(pid: str, titles: dict[str, str], width: int = 28) -> str:
    """``id title`` for a table cell (markup on): escape codes, control characters and markup removed."""
    from rich.markup import escape

    return escape(label_text(pid, titles, width))


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
    engine: EngineOpt = "embedded",
) -> None:
    """Exact co-purchase statistics of every product pair (+ frequent itemsets), stored in the warehouse."""
    from rich.table import Table

    from bundlewise.mining.jobs import SIGNIFICANCE, mine

    if engine == "spark":  # PySpark is imported only here
        from bundlewise.spark.jobs import mine  # type: ignore[no-redef]

    cfg = MiningConfig(min_count=min_count, max_len=max_len, half_life_days=half_life_days,
                       max_basket_size=max_basket_size, segments=tuple(segment or ()), stores=tuple(store or ()),
                       since=since, until=until, memory_budget=parse_budget(memory_budget))
    with open_warehouse("write") as wh, progress() as bars:
        s = mine(wh, cfg, bars, top=top)
        titles = titles_of(wh, set(s.top_pairs["item_a"]) | set(s.top_pairs["item_b"]))
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
    engine: EngineOpt = "embedded",
) -> None:
    """Association rules X ⇒ {y} with arules semantics, from the warehouse or a basket file."""
    from bundlewise.cli._console import STATE
    from bundlewise.cli._rules import run_rules

    if engine == "spark":  # PySpark is imported only here
        from bundlewise.cli._spark_rules import run_rules  # type: ignore[no-redef]

    run_rules(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, min_len=min_len,
              max_len=max_len, output=output, baskets_file=baskets_file, segment=segment, store=store, since=since,
              until=until, top=top, memory_budget=memory_budget, db=STATE.db)


def register(app: typer.Typer) -> None:
    app.command("mine")(mine_cmd)
    app.command("rules")(rules_cmd)
