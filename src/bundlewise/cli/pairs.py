"""``bundlewise train`` (the pair model) and ``bundlewise complements`` (partners with evidence)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bundlewise.cli._console import STATE, out, progress
from bundlewise.errors import ConfigError
from bundlewise.ingest import Warehouse

DEFAULT_MODEL = Path("bundlewise-pair-model")
ModelOpt = Annotated[Path, typer.Option("--model", help="Pair-model checkpoint folder.")]
EncoderOpt = Annotated[str, typer.Option("--encoder", help="auto | minilm | multilingual-e5-small")]


def train_cmd(
    output: Annotated[Path, typer.Option("--output", help="Checkpoint folder to write.")] = DEFAULT_MODEL,
    epochs: Annotated[int, typer.Option("--epochs", help="Most passes (early stopping may end sooner).")] = 10,
    hidden: Annotated[int, typer.Option("--hidden", help="Tower and head width.")] = 128,
    volume_weight: Annotated[float, typer.Option("--volume-weight", help="Weight of the sales-volume task "
                                                                         "(0 = pairs only).")] = 0.3,
    max_positives: Annotated[int, typer.Option("--max-positives", help="Positive pairs sampled.")] = 300_000,
    half_life_days: Annotated[float | None, typer.Option("--half-life-days", help="Time decay of co-purchase "
                                                                                  "evidence.")] = None,
    encoder: EncoderOpt = "auto",
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Train the pair model S_ij on every basket of the warehouse and save a checkpoint."""
    from bundlewise.pairs.jobs import train_pair_model
    from bundlewise.text import ProductEncoder

    params = {"epochs": epochs, "hidden": hidden, "volume_weight": volume_weight, "max_positives": max_positives,
              "half_life_days": half_life_days, "random_state": seed}
    with Warehouse(STATE.db) as wh, progress() as bars:
        run = train_pair_model(wh, output, params=params, encoder=ProductEncoder(model=encoder), progress=bars)
    m = run.model
    out.print(f"pair model trained on {run.n_baskets:,} baskets, {run.n_products:,} products "
              f"(encoder {run.encoder_id}) in {m.fit_seconds_:.0f} s")
    out.print(f"best held-out BCE {m.best_loss_:.4f} at epoch {m.best_epoch_} of {len(m.history_)}")
    out.print(f"saved {run.path} · loss curves {run.report}")


def complements_cmd(
    product_id: Annotated[str | None, typer.Argument(help="Product id (omit with --text).")] = None,
    k: Annotated[int, typer.Option("-k", help="Partners to show.")] = 10,
    text: Annotated[str | None, typer.Option("--text", help="A product that exists only as text "
                                                            "(cold start).")] = None,
    model_path: ModelOpt = DEFAULT_MODEL,
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Attributions and key words.")] = True,
) -> None:
    """Best partners of a product (or of a product described only by --text), with their evidence."""
    from bundlewise.pairs.explain import explain_pairs
    from bundlewise.pairs.model_io import load_pair_model
    from bundlewise.text import ProductEncoder

    if (product_id is None) == (text is None):
        raise ConfigError("give either a PRODUCT_ID or --text \"...\" (exactly one)")
    model = load_pair_model(model_path)
    encoder = _encoder_for(model, ProductEncoder)
    with Warehouse(STATE.db, read_only=True) as wh:
        titles = dict(wh.con.execute("SELECT product_id, coalesce(title, '') FROM products").fetchall())
    if text is not None:
        ids, scores = model.recommend_text([text], k=k, encoder=encoder)
        out.print(f"partners for the new product {text!r} (text only, never sold):")
    else:
        ids, scores = model.recommend([product_id], k=k)
        out.print(f"partners for {product_id} {titles.get(product_id, '')}:")
    partners = [p for p in ids[0] if p is not None]
    t = Table("#", "partner", "title", "model P", "baskets together", "lift", "q-value", "text sim",
              "why", box=None, pad_edge=False)
    expl = []
    if explain and product_id is not None and partners:
        expl = explain_pairs(model, [product_id] * len(partners), partners, encoder=encoder, titles=titles)
    for rank, (pid, score) in enumerate(zip(partners, scores[0], strict=False), start=1):
        if expl:
            e = expl[rank - 1]
            top = max(e.attribution, key=lambda g: abs(e.attribution[g]))
            words = ", ".join(w for w, d in e.words[:2] if d > 0)
            why = f"{top} {e.attribution[top]:+.2f}" + (f"; words: {words}" if words else "")
            t.add_row(str(rank), pid, titles.get(pid, "")[:40], f"{e.probability:.3f}", f"{e.n_together:,.0f}",
                      "" if e.lift is None else f"{e.lift:.1f}", "" if e.q_value is None else f"{e.q_value:.2g}",
                      f"{e.text_similarity:.2f}", why)
        else:
            sim = _text_sim(model, encoder, text, pid) if text is not None else float("nan")
            t.add_row(str(rank), pid, titles.get(pid, "")[:40], f"{1 / (1 + pow(2.718281828, -score)):.3f}",
                      "0", "", "", f"{sim:.2f}", "text of the new product")
    out.print(t)


def _encoder_for(model: object, factory: type) -> object:
    encoder_id = getattr(model, "encoder_id_", None) or ""
    name = "multilingual-e5-small" if "e5" in encoder_id.lower() else "minilm"
    return factory(model=name)


def _text_sim(model: object, encoder: object, text: str, pid: str) -> float:
    import numpy as np

    from bundlewise.text import embed_texts

    v = embed_texts(encoder, [text])[0]
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    code = model._codes([pid])[0]  # type: ignore[attr-defined]
    return float(v @ model.vectors_[code])  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("complements")(complements_cmd)
