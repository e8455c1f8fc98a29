"""What ``bundlewise rules --engine spark`` runs: :func:`bundlewise.cli._rules.run_rules` with the mining on Spark
(imported only with ``--engine spark``, so the embedded path never loads PySpark)."""

from __future__ import annotations

from pathlib import Path

from bundlewise.config import RulesConfig


def run_rules(*, min_support: float, min_confidence: float, min_lift: float | None, min_len: int, max_len: int,
              output: Path | None, baskets_file: Path | None, segment: list[str] | None, store: list[str] | None,
              since: str | None, until: str | None, top: int, memory_budget: str, db: str) -> None:
    """Mine the rules of ``baskets_file`` (or of the warehouse ``db``) on Spark; write, store and print them as the
    embedded engine's verb does."""
    from bundlewise.cli._console import open_warehouse, progress
    from bundlewise.cli._rules import RULES_TABLE, echo, label_text, no_rules_hint, parse_budget, print_table, titles_of
    from bundlewise.mining.jobs import RULE_FILE_SUFFIXES
    from bundlewise.mining.source import BasketQuery, load_baskets, read_basket_file
    from bundlewise.outputs import check_output, clean_terminal
    from bundlewise.spark.jobs import mine_rules

    cfg = RulesConfig(min_support=min_support, min_confidence=min_confidence, min_lift=min_lift, min_len=min_len,
                      max_len=max_len, segments=tuple(segment or ()), stores=tuple(store or ()), since=since,
                      until=until, memory_budget=parse_budget(memory_budget))
    if output is not None:  # refused before any basket is read
        check_output(output, allowed_suffixes=RULE_FILE_SUFFIXES, what="the rules",
                     warehouse=None if baskets_file is not None else db,
                     inputs=[baskets_file] if baskets_file is not None else ())
    titles: dict[str, str] = {}
    with progress() as bars:
        if baskets_file is not None:
            baskets = read_basket_file(baskets_file, progress=bars)
            s = mine_rules(baskets, cfg, output=output, progress=bars)
        else:
            with open_warehouse("write", db) as wh:
                baskets = load_baskets(wh, BasketQuery(cfg.segments, cfg.stores, (), cfg.since, cfg.until), bars)
                s = mine_rules(baskets, cfg, wh=wh, progress=bars)
                if output is not None:  # with the products' titles, as the embedded verb writes it
                    from bundlewise.cli._rules import write_titled_rules

                    every = {x for a in s.table.antecedent for x in a} | set(s.table.consequent.tolist())
                    write_titled_rules(s.table, titles_of(wh, every), output)
                    s.output = output
                titles = titles_of(wh, {x for a in s.table.antecedent[:top] for x in a}
                                   | set(s.table.consequent[:top].tolist()))
    echo(f"{len(s.table):,} rules from {s.n_baskets:,} baskets and {s.n_items:,} products "
         f"(support >= {min_support} = {s.min_count:,} baskets, confidence >= {min_confidence}; "
         f"{s.seconds:.2f} s on Spark)")
    if s.rule_lengths:
        echo("rules by length: " + ", ".join(f"{k}: {v:,}" for k, v in s.rule_lengths.items()))
    if s.output:
        echo(f"wrote {clean_terminal(s.output, keep_newlines=False)}", markup=False)
    if not len(s.table):
        echo(no_rules_hint(baskets, cfg, s.min_count), markup=False)
        return
    t = s.table
    rows = [["{" + ", ".join(label_text(x, titles) for x in ante) + "}", "{" + label_text(str(cons), titles) + "}",
             f"{sup:.6f}", f"{conf:.4f}", f"{lift:.4f}", f"{n:,}"]
            for ante, cons, sup, conf, lift, n in zip(t.antecedent[:top], t.consequent[:top].tolist(),
                                                      t.support[:top].tolist(), t.confidence[:top].tolist(),
                                                      t.lift[:top].tolist(), t.count[:top].tolist(), strict=True)]
    print_table(RULES_TABLE, rows, no_wrap=2)
