"""``bundlewise train`` (the pair model) and ``bundlewise complements`` (partners with evidence)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bundlewise.cli._console import open_warehouse, out, progress
from bundlewise.cli._render import plain, safe
from bundlewise.config import PairModelConfig
from bundlewise.errors import ConfigError

DEFAULT_MODEL = Path("bundlewise-pair-model")
ModelOpt = Annotated[Path, typer.Option("--model", help="Pair-model checkpoint folder.")]
EncoderOpt = Annotated[str, typer.Option("--encoder", help="auto | minilm | multilingual-e5-small")]
_PAIR = PairModelConfig()  # the defaults of the train options
AllowOtherData = Annotated[bool, typer.Option("--allow-other-data", help="Use a pair model trained on other data "
                                                                        "than this warehouse's (refused otherwise).")]


def train_cmd(
    output: Annotated[Path, typer.Option("--output", help="Checkpoint folder to write.")] = DEFAULT_MODEL,
    epochs: Annotated[int, typer.Option("--epochs", help="Most passes (early stopping may end sooner).")
                      ] = _PAIR.epochs,
    hidden: Annotated[int, typer.Option("--hidden", help="Tower and head width.")] = _PAIR.hidden,
    volume_weight: Annotated[float, typer.Option("--volume-weight", help="Weight of the sales-volume task "
                                                                         "(0 = pairs only).")] = _PAIR.volume_weight,
    max_positives: Annotated[int, typer.Option("--max-positives", help="Positive pairs sampled.")
                             ] = _PAIR.max_positives,
    half_life_days: Annotated[float | None, typer.Option("--half-life-days", help="Time decay of co-purchase "
                                                                                  "evidence.")] = _PAIR.half_life_days,
    encoder: EncoderOpt = "auto",
    seed: Annotated[int, typer.Option("--seed")] = _PAIR.random_state,
) -> None:
    """Train the pair model S_ij on every basket of the warehouse and save a checkpoint."""
    from bundlewise.pairmodel.jobs import train_pair_model
    from bundlewise.text import ProductEncoder

    params = _train_config(epochs=epochs, hidden=hidden, volume_weight=volume_weight, max_positives=max_positives,
                           half_life_days=half_life_days, random_state=seed)
    from bundlewise.cli._console import STATE
    from bundlewise.pairmodel.io import check_checkpoint_output

    check_checkpoint_output(output, warehouse=STATE.db)  # before the warehouse is opened and minutes of training
    with open_warehouse("write") as wh, progress() as bars:  # embeddings cache
        run = train_pair_model(wh, output, params=params, encoder=ProductEncoder(model=encoder), progress=bars)
    m = run.model
    out.print(f"pair model trained on {run.n_baskets:,} baskets, {run.n_products:,} products "
              f"(encoder {run.encoder_id}) in {m.fit_seconds_:.0f} s")
    out.print(f"best held-out BCE {m.best_loss_:.4f} at epoch {m.best_epoch_} of {len(m.history_)}")
    out.print(f"saved {run.path} · loss curves {run.report}")


_FLAGS = {"random_state": "--seed"}


def _train_config(**values: object) -> PairModelConfig:
    """The options as a PairModelConfig; a bad value is an error naming the flag, before any work."""
    try:
        return PairModelConfig(**values)  # type: ignore[arg-type]
    except ConfigError as exc:
        name = str(exc).split(" ", 1)[0]
        flag = _FLAGS.get(name, "--" + name.replace("_", "-")) if name in values else None
        # "epochs is 0; ..." -> "--epochs is 0; ...": the user typed the flag, not the field
        raise ConfigError(f"{flag}{str(exc)[len(name):]}" if flag else str(exc)) from None


def complements_cmd(
    product_id: Annotated[str | None, typer.Argument(help="Product id (omit with --text).")] = None,
    k: Annotated[int, typer.Option("-k", help="Partners to show.")] = 10,
    text: Annotated[str | None, typer.Option("--text", help="A product that exists only as text "
                                                            "(cold start).")] = None,
    model_path: ModelOpt = DEFAULT_MODEL,
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Attributions and key words.")] = True,
    allow_other_data: AllowOtherData = False,
) -> None:
    """Best partners of a product (or of a product described only by --text), with their evidence."""
    from bundlewise.mining.stored import StoredPairs
    from bundlewise.pairmodel import complements as cmp
    from bundlewise.pairmodel.io import check_model_data, load_pair_model, warehouse_fingerprint
    from bundlewise.text import ProductEncoder

    if (product_id is None) == (text is None):
        raise ConfigError("give either a PRODUCT_ID or --text \"...\" (exactly one)")

    # without a trained model, a product's partners come from the stored co-purchase statistics
    use_stats = text is None and not (model_path / "model.json").exists()
    with open_warehouse("read") as wh:
        titles = dict(wh.con.execute("SELECT product_id, coalesce(title, '') FROM products").fetchall())
        pairs = StoredPairs.from_connection(wh.con) if use_stats else None
        data_fp = warehouse_fingerprint(wh)  # a model must have been trained on this warehouse's baskets
    if pairs is not None and pairs.n_pairs:
        rows = cmp.stored_complements(pairs, product_id, k, titles=titles)
        out.print(f"partners for {safe(product_id)} {safe(titles.get(product_id))} (no pair model at {model_path}: "
                  f"co-purchase statistics of mining run {pairs.run_id}):")
    else:
        model = load_pair_model(model_path)
        check_model_data(model, data_fp, allow_other_data=allow_other_data)
        encoder = _encoder_for(model, ProductEncoder)
        if text is not None:
            rows = cmp.model_text_complements(model, text, k, encoder=encoder, titles=titles)
            out.print(f"partners for the new product {safe(repr(text))} (text only, never sold):")
        else:
            rows = cmp.model_complements(model, product_id, k, titles=titles, encoder=encoder, explain=explain)
            out.print(f"partners for {safe(product_id)} {safe(titles.get(product_id))}:")
    t = Table("#", "partner", "title", "P(partner)" if use_stats else "model P", "baskets together", "lift",
              "q-value", "text sim", "why", box=None, pad_edge=False)
    for r in rows:
        t.add_row(str(r.rank), plain(r.product_id), plain(r.title, 40),
                  "" if r.probability is None else f"{r.probability:.3f}",
                  f"{r.n_together:,.0f}", "" if r.lift is None else f"{r.lift:.1f}",
                  "" if r.q_value is None else f"{r.q_value:.2g}",
                  "" if r.text_similarity is None else f"{r.text_similarity:.2f}", plain(r.why))
    out.print(t)


def _encoder_for(model: object, factory: type) -> object:
    encoder_id = getattr(model, "encoder_id_", None) or ""
    name = "multilingual-e5-small" if "e5" in encoder_id.lower() else "minilm"
    return factory(model=name)


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("complements")(complements_cmd)
