"""What ``bundlewise rules`` does once its options are known: shared by the Typer verb and the fast entry.

Imports neither typer nor rich: :mod:`bundlewise.cli.entry` runs ``rules --baskets FILE`` through
:func:`run_rules` without loading the Typer app, and the verb in :mod:`bundlewise.cli.mine` calls
the same function, so both print the same bytes. rich is loaded only to draw on a terminal (or for
text that is not plain, see :mod:`._plain`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundlewise.cli._console import PIPE_WIDTH, echo, open_warehouse, out, plain_out, progress
from bundlewise.config import RulesConfig
from bundlewise.outputs import check_output, clean_terminal

if TYPE_CHECKING:
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.mining.association import RuleTable
    from bundlewise.mining.baskets import Baskets
    from bundlewise.progress import Progress

RULES_TABLE = ("antecedent", "consequent", "support", "confidence", "lift", "count")
# the rules verb's parameters with a snake_case name, as the user types them (error messages name flags)
RULES_FLAGS = {"min_support": "--min-support", "min_confidence": "--min-confidence", "min_lift": "--min-lift",
               "min_len": "--min-len", "max_len": "--max-len", "baskets_file": "--baskets",
               "memory_budget": "--memory-budget"}


def parse_budget(text: str) -> int | None:
    """``--memory-budget``: a size (``2GiB``) or none/off/unlimited."""
    from bundlewise.mining.guards import parse_size

    return None if text.strip().lower() in ("none", "off", "unlimited") else parse_size(text)


def titles_of(wh: Warehouse | None, ids: set[str]) -> dict[str, str]:
    """Product titles for display (ids are often opaque codes); empty without a warehouse."""
    if wh is None or not ids:
        return {}
    rows = wh.con.execute("SELECT product_id, title FROM products WHERE product_id IN (SELECT unnest(?))",
                          [sorted(ids)]).fetchall()
    return {pid: title for pid, title in rows if title and title != pid}


def label_text(pid: str, titles: dict[str, str], width: int = 28) -> str:
    """``id title`` for a table cell: escape codes and control characters removed, clipped to ``width``."""
    title = titles.get(pid)
    text = clean_terminal(f"{pid} {title}" if title else pid, keep_newlines=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(headers: tuple[str, ...], rows: list[list[str]], no_wrap: int = 0) -> None:
    """A borderless table of text cells on stdout (``rich.table.Table(box=None, pad_edge=False)``; the first
    ``no_wrap`` columns never wrap); written without rich on a pipe or a file when it is plain text."""
    from bundlewise.cli._plain import table_lines

    lines = table_lines(headers, rows, PIPE_WIDTH) if plain_out() else None
    if lines is not None:
        import sys

        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(*headers, box=None, pad_edge=False)
    for column in t.columns[:no_wrap]:
        column.no_wrap = True
    for row in rows:
        t.add_row(*(Text(c) for c in row))  # text from the data: never markup
    out.print(t)


def read_baskets(path: Path, progress: Progress) -> Baskets:
    """:func:`bundlewise.mining.source.read_basket_file` (same baskets, ids, progress task and errors), faster for
    a plain file: tokenised by :meth:`Baskets.from_plain_text` instead of a Python string per item."""
    import dataclasses

    import numpy as np

    from bundlewise.config import IngestConfig
    from bundlewise.ingest.readers import inspect_source, open_reader
    from bundlewise.mining.baskets import Baskets, plain_basket_text
    from bundlewise.mining.source import read_basket_file

    cfg = IngestConfig(kind="orders", file_format="baskets")
    # the file's own errors first, as read_basket_file raises them (no hash: nothing is stored)
    info = inspect_source(path, cfg, digest=False)
    reader = open_reader(info, cfg)
    data = reader.plain_bytes()  # type: ignore[attr-defined]
    data = plain_basket_text(data, reader.delimiter) if data is not None else None  # type: ignore[attr-defined]
    if data is None:
        return read_basket_file(path, progress=progress)
    with progress.task(f"reading {info.name}", total=info.size) as task:
        baskets = Baskets.from_plain_text(data, reader.delimiter)  # type: ignore[attr-defined]
        task.update(completed=info.size)
    assert baskets is not None  # the text is plain
    labels = np.empty(baskets.n_baskets, dtype=object)
    labels[:] = [f"{info.name}:{n}" for n in range(1, baskets.n_baskets + 1)]
    baskets = dataclasses.replace(baskets, basket_ids=labels)
    baskets.meta["source"] = str(path)
    return baskets


def run_rules(*, min_support: float, min_confidence: float, min_lift: float | None, min_len: int, max_len: int,
              output: Path | None, baskets_file: Path | None, segment: list[str] | None, store: list[str] | None,
              since: str | None, until: str | None, top: int, memory_budget: str, db: str) -> None:
    """Mine the rules of ``baskets_file`` (or of the warehouse ``db``), write ``output``, print the summary and the
    ``top`` rules."""
    from bundlewise.mining.jobs import RULE_FILE_SUFFIXES

    cfg = RulesConfig(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, min_len=min_len,
                      max_len=max_len, segments=tuple(segment or ()), stores=tuple(store or ()), since=since,
                      until=until, memory_budget=parse_budget(memory_budget))
    if output is not None:  # refused before any basket is read
        check_output(output, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules",
                     warehouse=None if baskets_file is not None else db,
                     inputs=[baskets_file] if baskets_file is not None else ())
    from bundlewise.mining.jobs import mine_rules

    titles: dict[str, str] = {}
    with progress() as bars:
        if baskets_file is not None:
            baskets = read_baskets(baskets_file, bars)
            s = mine_rules(baskets, cfg, output=output, progress=bars)
        else:
            from bundlewise.mining.source import BasketQuery, load_baskets

            with open_warehouse("write", db) as wh:  # rules are stored
                baskets = load_baskets(wh, BasketQuery(cfg.segments, cfg.stores, (), cfg.since, cfg.until), bars)
                s = mine_rules(baskets, cfg, wh=wh, progress=bars)
                if output is not None:  # the warehouse knows the products' titles: written beside the ids
                    every = {x for a in s.table.antecedent for x in a} | set(s.table.consequent.tolist())
                    write_titled_rules(s.table, titles_of(wh, every), output)
                    s.output = output
                shown = s.table.antecedent[:top], s.table.consequent[:top].tolist()
                titles = titles_of(wh, {x for a in shown[0] for x in a} | set(shown[1]))
    echo(f"{len(s.table):,} rules from {s.n_baskets:,} baskets and {s.n_items:,} products "
         f"(support >= {min_support} = {s.min_count:,} baskets, confidence >= {min_confidence}; "
         f"{s.seconds:.2f} s)")
    if s.rule_lengths:
        echo("rules by length: " + ", ".join(f"{k}: {v:,}" for k, v in s.rule_lengths.items()))
    if s.output:
        echo(f"wrote {clean_terminal(s.output, keep_newlines=False)}", markup=False)
    if not len(s.table):
        echo(no_rules_hint(baskets, cfg, s.min_count), markup=False)
        return
    print_table(RULES_TABLE, _rows(s.table, top, titles), no_wrap=2)


TITLE_COLUMNS = ("antecedent_titles", "consequent_title")
TITLE_SEPARATOR = " | "  # titles hold commas: the antecedent's are joined with this, in its items' order


def write_titled_rules(table: RuleTable, titles: dict[str, str], path: str | Path) -> None:
    """The rules file of ``bundlewise rules --output`` (CSV or Parquet, as the warehouse-free one) with two more
    columns: ``antecedent_titles`` and ``consequent_title``, the products' titles ('' / null when unknown).

    CSV: titles joined by ``" | "``, cells neutralised against spreadsheet formulas like the others;
    Parquet: a list of strings and a string.
    """
    from bundlewise.mining.jobs import RULE_FILE_COLUMNS, RULE_FILE_SUFFIXES
    from bundlewise.outputs import atomic_write, neutralise_cell

    path = check_output(path, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules")
    consequents = table.consequent.tolist()
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from bundlewise.mining.store import rules_table

        arrow = rules_table(table.to_frame())
        arrow = arrow.append_column("antecedent_titles", pa.array(
            [[titles.get(x) for x in a] for a in table.antecedent], type=pa.list_(pa.string())))
        arrow = arrow.append_column("consequent_title", pa.array([titles.get(c) for c in consequents],
                                                                 type=pa.string()))
        with atomic_write(path) as tmp:
            pq.write_table(arrow, tmp)
        return
    import csv

    floats = [[f"{x:.9g}" for x in getattr(table, c).tolist()] for c in ("support", "confidence", "lift")]
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")  # the dialect of the warehouse-free rules file
        writer.writerow([neutralise_cell(c) for c in (*RULE_FILE_COLUMNS, *TITLE_COLUMNS)])
        writer.writerows(zip(
            [neutralise_cell("{" + ",".join(a) + "}") for a in table.antecedent],
            [neutralise_cell("{" + c + "}") for c in consequents], *floats, table.count.tolist(),
            [neutralise_cell(TITLE_SEPARATOR.join(titles.get(x, "") for x in a)) for a in table.antecedent],
            [neutralise_cell(titles.get(c, "")) for c in consequents], strict=True))


def _rows(r: RuleTable, top: int, titles: dict[str, str]) -> list[list[str]]:
    return [["{" + ", ".join(label_text(x, titles) for x in ante) + "}", "{" + label_text(str(cons), titles) + "}",
             f"{support:.6f}", f"{confidence:.4f}", f"{lift:.4f}", f"{count:,}"]
            for ante, cons, support, confidence, lift, count in zip(
                r.antecedent[:top], r.consequent[:top].tolist(), r.support[:top].tolist(),
                r.confidence[:top].tolist(), r.lift[:top].tolist(), r.count[:top].tolist(), strict=True)]


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
