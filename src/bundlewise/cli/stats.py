"""``bundlewise stats`` and ``bundlewise rejects``"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from bundlewise.cli._console import STATE, out
from bundlewise.cli._render import print_stats
from bundlewise.errors import ConfigError
from bundlewise.ingest import Warehouse
from bundlewise.ingest.sqlexpr import lit
from bundlewise.ingest.stats import warehouse_stats


def stats(top: Annotated[int, typer.Option("--top", help="How many top products to list.")] = 10) -> None:
    """Row counts, date range, basket sizes, top products and the share of rejected rows."""
    with Warehouse(STATE.db, read_only=True) as wh:
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
    where = f"WHERE ingest_id = {int(ingest)}" if ingest is not None else ""
    query = ("SELECT ingest_id, source, row_number, column_name, value, reason, raw FROM rejected_rows "
             f"{where} ORDER BY ingest_id, row_number, column_name")
    if raw and output is None:
        raise ConfigError("--raw needs --output FILE.csv (the rows are written in their source columns)")
    with Warehouse(STATE.db, read_only=True) as wh:
        if output is not None:
            suffix = output.suffix.lower()
            if suffix not in (".csv", ".parquet"):
                raise ConfigError(f"--output {output.name!r}: use a .csv or .parquet file name")
            if raw:
                n = _write_raw(wh, where, output)
                out.print(f"wrote {n:,} rejected source rows to {output} (fix them, then ingest the file again)")
                return
            fmt = "(FORMAT csv, HEADER)" if suffix == ".csv" else "(FORMAT parquet)"
            wh.con.execute(f"COPY ({query}) TO {lit(str(output))} {fmt}")
            n = wh.con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
            out.print(f"wrote {n:,} rejected rows to {output}")
            return
        rows = wh.con.execute(f"{query} LIMIT {int(limit)}").fetchall()
        total = wh.con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
    t = Table("ingest", "file", "row", "column", "value", "reason", box=None, pad_edge=False)
    for r in rows:
        t.add_row(f"#{r[0]}", r[1], f"{r[2]:,}", r[3] or "", r[4] or "", r[5])
    out.print(t)
    out.print(f"{total:,} quarantined rows" + (f" (showing {len(rows)})" if total > len(rows) else ""))


def _write_raw(wh: Warehouse, where: str, output: Path) -> int:
    """One line per rejected source row (a row with several problems once), in its own columns."""
    records = wh.con.execute(f"""
        SELECT DISTINCT ingest_id, row_number, raw FROM rejected_rows {where} ORDER BY ingest_id, row_number
    """).fetchall()
    rows = [json.loads(raw) for _, _, raw in records]
    frame = pd.DataFrame(rows)
    if output.suffix.lower() == ".csv":
        frame.to_csv(output, index=False)
    else:
        frame.to_parquet(output, index=False)
    return len(frame)


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("rejects")(rejects)
