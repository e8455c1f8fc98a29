"""``bundlewise stats`` and ``bundlewise rejects``"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bundlewise.cli._console import open_warehouse, out
from bundlewise.cli._render import plain, print_stats, safe
from bundlewise.errors import ConfigError
from bundlewise.outputs import atomic_write, check_output, count_formula_like, neutralise_frame

if TYPE_CHECKING:
    from bundlewise.ingest.warehouse import Warehouse

REJECT_SUFFIXES = (".csv", ".parquet")


def warehouse_stats(wh: Warehouse, top: int = 10) -> Any:
    """:func:`bundlewise.ingest.stats.warehouse_stats`, imported when the verb runs (not for --help)."""
    from bundlewise.ingest.stats import warehouse_stats as compute

    return compute(wh, top=top)


def stats(top: Annotated[int, typer.Option("--top", help="How many top products to list.")] = 10) -> None:
    """Row counts, date range, basket sizes, top products and the share of rejected rows."""
    with open_warehouse("read") as wh:
        print_stats(warehouse_stats(wh, top=top))


def rejects(
    ingest: Annotated[int | None, typer.Option("--ingest", help="Only rows of this ingest id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show.")] = 20,
    output: Annotated[Path | None, typer.Option("--output", help="Write all matching rows to a CSV or "
                                                                 "Parquet file instead.")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="With --output: write the rejected rows as they were in "
                                                    "the source file (its columns), ready to fix and ingest "
                                                    "again.")] = False,
) -> None:
    """Show or export rows kept by --on-error quarantine (file, row, column, value, reason)."""
    from rich.table import Table

    from bundlewise.ingest.sqlexpr import lit

    where = f"WHERE ingest_id = {int(ingest)}" if ingest is not None else ""
    query = ("SELECT ingest_id, source, row_number, column_name, value, reason, raw, resolved_by_ingest "
             f"FROM rejected_rows {where} ORDER BY ingest_id, row_number, column_name")
    if raw and output is None:
        raise ConfigError("--raw needs --output FILE.csv (the rows are written in their source columns)")
    if output is not None:  # before anything is read: never the warehouse, never a folder, a matching suffix
        check_output(output, allowed_suffixes=REJECT_SUFFIXES, what="the rejected rows", warehouse=_db())
    with open_warehouse("read") as wh:
        if output is not None:
            if raw:
                for path, label, n, n_formula in _write_raw(wh, where, output):
                    out.print(f"wrote {n:,} rejected source rows of {safe(label)} to {safe(path)} (fix them, then "
                              "ingest the file again)")
                    if n_formula:
                        out.print(f"  note: {n_formula:,} cells start with = + - @ and are written exactly as they "
                                  "were (so the file can be ingested again); a spreadsheet may run them as "
                                  "formulas: edit the file as text")
                return
            _check_not_a_source(wh, [output])
            with atomic_write(output) as tmp:
                if output.suffix.lower() == ".csv":  # opened in spreadsheets: formula cells neutralised
                    neutralise_frame(wh.con.execute(query).df()).to_csv(tmp, index=False)
                else:
                    wh.con.execute(f"COPY ({query}) TO {lit(str(tmp))} (FORMAT parquet)")
            n = wh.con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
            out.print(f"wrote {n:,} rejected rows to {safe(output)}")
            return
        rows = wh.con.execute(f"{query} LIMIT {int(limit)}").fetchall()
        total = wh.con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
    t = Table("ingest", "file", "row", "column", "value", "reason", "fixed by", box=None, pad_edge=False)
    for r in rows:
        t.add_row(f"#{r[0]}", plain(r[1]), f"{r[2]:,}", plain(r[3]), plain(r[4]), plain(r[5]),
                  f"#{r[7]}" if r[7] else "")
    out.print(t)
    n_fixed = sum(1 for r in rows if r[7])
    out.print(f"{total:,} quarantined rows" + (f" (showing {len(rows)})" if total > len(rows) else "")
              + (f"; {n_fixed:,} shown were fixed by a later ingest" if n_fixed else ""))


def _db() -> str:
    from bundlewise.cli._console import STATE

    return STATE.db


def _check_not_a_source(wh: Warehouse, outputs: list[Path]) -> None:
    """Refuse to write over a file that was ingested (the original export)."""
    sources = [r[0] for r in wh.con.execute("SELECT DISTINCT source FROM ingest_log").fetchall()]
    for path in outputs:
        check_output(path, allowed_suffixes=REJECT_SUFFIXES, what="the rejected rows", warehouse=_db(),
                     inputs=sources)


def _write_raw(wh: Warehouse, where: str, output: Path) -> list[tuple[Path, str, int, int]]:
    """One line per rejected source row (a row with several problems once), in its own columns.

    Rows of different ingests (or kinds) have different columns and must be ingested again
    separately, so each ingest gets its own file: ``output`` when the selection holds one ingest,
    else ``STEM-<ingest>-<kind>.SUFFIX`` beside it. Values are written exactly (no formula
    neutralising), so the fixed file loads as the original would have. Returns
    ``(path, label, rows, formula-like cells)`` per file written.
    """
    records = wh.con.execute(f"""
        SELECT DISTINCT ingest_id, kind, row_number, raw FROM rejected_rows {where}
        {'AND' if where else 'WHERE'} resolved_by_ingest IS NULL  -- fixed rows were loaded already
        ORDER BY ingest_id, row_number
    """).fetchall()
    groups: dict[tuple[int, str], list[dict[str, object]]] = {}
    for ingest_id, kind, _, raw in records:
        groups.setdefault((ingest_id, kind), []).append(json.loads(raw))
    if not groups:
        groups[(0, "")] = []
    if len(groups) == 1:
        paths = {key: output for key in groups}
    else:
        paths = {(i, k): output.with_name(f"{output.stem}-{i}-{k}{output.suffix}") for i, k in groups}
    _check_not_a_source(wh, list(paths.values()))  # every file checked before any is written
    import pandas as pd

    written = []
    for (ingest_id, kind), rows in groups.items():
        frame = pd.DataFrame(rows)
        path = paths[(ingest_id, kind)]
        with atomic_write(path) as tmp:
            if path.suffix.lower() == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
        label = f"ingest #{ingest_id} ({kind})" if kind else "the selection"
        written.append((path, label, len(frame), count_formula_like(frame)))
    return written


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("rejects")(rejects)
