"""``bundlewise embed``: encode every product text once, cached in the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bundlewise.cli._console import STATE, open_warehouse, out, progress
from bundlewise.errors import DataValidationError
from bundlewise.ingest.catalog import load_catalog
from bundlewise.text import DEFAULT_TEMPLATE, MODELS, ProductEncoder, embed_catalog


def embed_cmd(
    model: Annotated[str, typer.Option("--model", help=f"Encoder: {' | '.join(MODELS)} (auto: multilingual when "
                                                       ">= 20% of the texts contain CJK).")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Texts per forward pass.")] = 64,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens kept per text.")] = 128,
    template: Annotated[str, typer.Option("--template", help="Product text; fields {title} {description} "
                                                             "{category} {brand}.")] = DEFAULT_TEMPLATE,
    device: Annotated[str | None, typer.Option("--device", help="cpu | cuda (default: cuda when "
                                                                "available).")] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", envvar="BUNDLEWISE_CACHE",
                                            help="Where converted models are built once.")] = Path(
        "~/.cache/bundlewise"),
) -> None:
    """Embed every product's text with a pre-trained encoder; re-runs encode only new or changed texts."""
    encoder = ProductEncoder(model=model, batch_size=batch_size, max_length=max_length, device=device,
                             cache_dir=cache_dir.expanduser())
    with open_warehouse("write") as wh, progress() as bars:
        catalog = load_catalog(wh)
        if catalog.empty:
            raise DataValidationError(f"the warehouse {STATE.db} holds no products to embed; load some first "
                                      "(bundlewise ingest products FILE or bundlewise datasets load NAME)")
        r = embed_catalog(wh, encoder, catalog, template=template, progress=bars)
    rate = f" · {r.texts_per_second:,.0f} texts/s" if r.n_embedded else ""
    out.print(f"{len(r.product_ids):,} products → {r.model_id} ({encoder.dim_}-d, {encoder.device_})")
    out.print(f"  embedded {r.n_embedded:,} · cached {r.n_cached:,} · {r.seconds:.1f} s{rate}")


def register(app: typer.Typer) -> None:
    app.command("embed")(embed_cmd)
