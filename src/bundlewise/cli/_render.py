"""Rendering of library results for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bundlewise.cli._console import err, out
from bundlewise.outputs import clean_terminal

if TYPE_CHECKING:  # for the annotations only: rendering loads neither DuckDB nor pandas
    from bundlewise.ingest.jobs import IngestResult
    from bundlewise.ingest.stats import WarehouseStats


def plain(value: object, width: int | None = None) -> Text:
    """Text from the data as a table cell: never read as markup, without escape codes or control characters
    (rich's ``markup=False`` alone lets ANSI escapes through), clipped to ``width`` characters."""
    text = clean_terminal("" if value is None else value, keep_newlines=False)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return Text(text)


def safe(value: object) -> str:
    """Text from the data for an f-string printed with markup: cleaned and markup-escaped."""
    return escape(clean_terminal("" if value is None else value, keep_newlines=False))


def _n(value: int) -> str:
    return f"{value:,}"


def print_ingest_results(results: Sequence[IngestResult], db: str) -> None:
    for r in results:
        name = safe(r.source.rsplit("/", 1)[-1])
        if not r.changed:
            out.print(f"[bold]{name}[/] ({r.kind}): already ingested as #{r.already_ingested_as} "
                      "(same content); nothing changed")
            continue
        out.print(f"[bold]{name}[/] → {r.kind} (ingest #{r.ingest_id}, {r.seconds:.1f} s, {r.file_format})")
        out.print(f"  read {_n(r.rows_read)} · accepted {_n(r.rows_accepted)} · rejected {_n(r.rows_rejected)}"
                  f" · duplicates {_n(r.rows_duplicate)}")
        d = r.details
        if r.kind == "orders":
            out.print(f"  orders {_n(d['orders'])} · products {_n(d['products'])} · lines without customer "
                      f"{_n(d['lines_without_customer'])}")
            if d.get("orders_joined"):
                out.print(f"  joined {_n(d['lines_joined'])} fixed lines to {_n(d['orders_joined'])} orders already "
                          "in the warehouse (their quarantined rows are marked fixed)")
            out.print(f"  sale lines {_n(d['sale_lines'])} in {_n(d['sale_orders'])} orders "
                      "(not cancelled, quantity > 0, price > 0 or unknown)")
            out.print(f"  returns {_n(d['return_lines'])} lines ({_n(d['cancellation_lines'])} in cancellation "
                      f"orders, {_n(d['negative_quantity_lines'])} negative quantities)")
            out.print(f"  kept out of baskets: {_n(d['zero_price_or_quantity_lines'])} zero/negative-price or "
                      f"zero-quantity lines, {_n(d['non_product_lines'])} fee/non-product lines")
            out.print(f"  baskets {_n(d['basket_orders'])} · products new "
                      f"{_n(d['products_new'])}, seen before {_n(d['products_updated'])}")
        elif r.kind == "products":
            out.print(f"  products {_n(d['products'])} (new {_n(d['products_new'])}, updated "
                      f"{_n(d['products_updated'])})")
        else:
            out.print("  " + " · ".join(f"{k.removeprefix('events_')} {_n(v)}" for k, v in d.items()
                                        if k.startswith("events_")))
        for note in getattr(r, "notes", ()):  # how the file was read where it needed a decision
            out.print(f"  note: {safe(note)}")
        for p in r.problems:
            err.print("  [yellow]rejected:[/] ", end="")
            err.print(clean_terminal(p.describe()), markup=False)
        if r.rows_rejected > len(r.problems):
            err.print(f"  … and {_n(r.rows_rejected - len(r.problems))} more rejected rows")
        for w in r.warnings:  # loaded as is: legal values that are usually a mistake
            err.print("  [yellow]warning:[/] ", end="")
            err.print(clean_terminal(w.describe()), markup=False)
    out.print(f"warehouse: {safe(db)}")


def print_stats(s: WarehouseStats) -> None:
    out.print(f"[bold]warehouse[/] {safe(s.path)} (schema v{s.schema_version})")
    t = Table("table", "rows", box=None, pad_edge=False)
    for name, n in s.counts.items():
        t.add_row(name, _n(n))
    out.print(t)
    if s.first_order_at:
        out.print(f"orders from {s.first_order_at:%Y-%m-%d %H:%M} to {s.last_order_at:%Y-%m-%d %H:%M} · "
                  f"customers {_n(s.n_customers)}")
    out.print(f"baskets {_n(s.n_baskets)} · basket items {_n(s.n_basket_items)} · products in baskets "
              f"{_n(s.n_basket_products)} · non-product codes {_n(s.n_non_products)}")
    if s.basket_size_quantiles:
        q = s.basket_size_quantiles
        out.print("basket size: mean {mean:.2f} · p10 {p10:g} · p25 {p25:g} · median {p50:g} · p75 {p75:g} · "
                  "p90 {p90:g} · p99 {p99:g} · max {max:g}".format(**q))
        peak = max(n for _, n in s.basket_size_histogram) or 1
        h = Table("items", "baskets", "", box=None, pad_edge=False)
        for label, n in s.basket_size_histogram:
            h.add_row(label, _n(n), "█" * max(0, round(30 * n / peak)))
        out.print(h)
    if s.top_products:
        t = Table("top products", "title", "baskets", "share", box=None, pad_edge=False)
        for pid, title, n, share in s.top_products:
            t.add_row(plain(pid), plain(title), _n(n), f"{share:.1%}")
        out.print(t)
    if s.ingests:
        t = Table("ingest", "kind", "file", "read", "accepted", "rejected", "rejected %", "duplicates",
                  box=None, pad_edge=False)
        for i in s.ingests:
            t.add_row(f"#{i.ingest_id}", i.kind, plain(i.source.rsplit("/", 1)[-1]), _n(i.rows_read),
                      _n(i.rows_accepted), _n(i.rows_rejected), f"{i.rejected_share:.2%}", _n(i.rows_duplicate))
        out.print(t)
        out.print(f"rejected overall: {s.rejected_share:.2%} · quarantined rows kept: {_n(s.quarantined_rows)}")
