"""``bundlewise datasets list|load``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bundlewise.cli._console import STATE, open_warehouse, out, progress
from bundlewise.cli._render import print_ingest_results
from bundlewise.ingest.datasets import list_datasets, load_dataset

app = typer.Typer(help="Public datasets bundlewise knows how to load.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List the datasets and where each one comes from."""
    t = Table("name", "description", "source", "--path", box=None, pad_edge=False)
    for d in list_datasets():
        t.add_row(d.name, d.description, d.provenance, d.path_help or "(not needed)")
    out.print(t)


@app.command("load")
def load(
    name: Annotated[str, typer.Argument(help="Dataset name (see 'datasets list').")],
    path: Annotated[Path | None, typer.Option("--path", help="Local file or folder of the dataset.")] = None,
    on_error: Annotated[str, typer.Option("--on-error", help="fail | skip | quarantine")] = "fail",
) -> None:
    """Load a dataset into the warehouse (one transaction; loading it again changes nothing)."""
    with open_warehouse("create") as wh, progress() as bars:
        results = load_dataset(wh, name, path, on_error=on_error, progress=bars)
    print_ingest_results(results, STATE.db)
