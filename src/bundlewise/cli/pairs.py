"""``bundlewise train`` (the pair model) and ``bundlewise complements`` (partners with evidence)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from bundlewise.cli._console import open_warehouse, out, progress
from bundlewise.cli._render import plain, safe
from bundlewise.config import PairModelConfig
from bundlewise.errors import ConfigError

T = TypeVar("T")
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
    max_positives: Annotated[int, typer.Option("--max-positives", help="At most this many positive pairs (fewer "
                                                                       "when the data holds fewer distinct pairs).")
                             ] = _PAIR.max_positives,
    half_life_days: Annotated[float | None, typer.Option("--half-life-days", help="Time decay of co-purchase "
                                                                                  "evidence.")] = _PAIR.half_life_days,
    max_seconds: Annotated[float | None, typer.Option("--max-seconds", help="Time budget: no new epoch after this "
                                                                            "many seconds.")] = _PAIR.max_seconds,
    encoder: EncoderOpt = "auto",
    seed: Annotated[int, typer.Option("--seed")] = _PAIR.random_state,
) -> None:
    """Train the pair model S_ij on every basket of the warehouse and save a checkpoint."""
    from bundlewise.pairmodel.jobs import train_pair_model
    from bundlewise.text import ProductEncoder

    params = _train_config(epochs=epochs, hidden=hidden, volume_weight=volume_weight, max_positives=max_positives,
                           half_life_days=half_life_days, max_seconds=max_seconds, random_state=seed)
    from bundlewise.cli._console import STATE
    from bundlewise.pairmodel.io import check_checkpoint_output

    check_checkpoint_output(output, warehouse=STATE.db)  # before the warehouse is opened and minutes of training
    with open_warehouse("write") as wh, progress() as bars, _epoch_lines():  # embeddings cache
        run = train_pair_model(wh, output, params=params, encoder=ProductEncoder(model=encoder), progress=bars)
    m = run.model
    ex = m.examples_["train"]
    out.print(f"pair model trained on {run.n_baskets:,} baskets, {run.n_products:,} products "
              f"(encoder {run.encoder_id}) in {m.fit_seconds_:.0f} s, from {ex['distinct_positive_pairs']:,} distinct "
              f"pairs bought together ({ex['positive']:,} positives, {len(m.history_)} epochs)")
    out.print(f"best held-out BCE {m.best_loss_:.4f} at epoch {m.best_epoch_} of {len(m.history_)} "
              f"(stopped by {m.stopped_by_}; held-out baskets are newer than every training basket)")
    if m.calibration_ is not None:
        out.print(f"P(partner) calibrated on {m.calibration_.n_events:,} held-out baskets: calibration error "
                  f"{m.calibration_.ece:.3f}")
    out.print(f"saved {run.path} · loss curves {run.report}")


DEFAULT_RANKER = Path("bundlewise-ranker")
RankerOpt = Annotated[Path | None, typer.Option("--ranker", help="A folder written by train-ranker: rank with it "
                                                                  "(instead of the pair model).")]


def train_ranker_cmd(
    output: Annotated[Path, typer.Option("--output", help="Folder to write.")] = DEFAULT_RANKER,
    label_share: Annotated[float | None, typer.Option("--label-share", help="Share of the newest baskets per "
                                                                            "label window [default: the "
                                                                            "ranker's, 0.1].")] = None,
    label_windows: Annotated[int | None, typer.Option("--label-windows", help="Label windows rolled back in time "
                                                                             "[default: the ranker's, 3].")] = None,
    encoder: EncoderOpt = "auto",
    seed: Annotated[int | None, typer.Option("--seed")] = None,
) -> None:
    """Train the second-stage ranker (LightGBM over every evidence, warm/cold gate) on every basket and save it."""
    from bundlewise.cli._console import STATE
    from bundlewise.pairmodel.jobs import train_reranker
    from bundlewise.pairmodel.rerank import RerankerConfig
    from bundlewise.pairmodel.rerank_io import check_ranker_output
    from bundlewise.text import ProductEncoder

    given = {"label_share": label_share, "label_windows": label_windows, "random_state": seed}
    params = {k: v for k, v in given.items() if v is not None}  # the defaults live in RerankerConfig
    _as_flags(RerankerConfig.from_dict, params)
    check_ranker_output(output, warehouse=STATE.db)
    with open_warehouse("write") as wh, progress() as bars:  # embeddings cache
        run = train_reranker(wh, output, params=params, encoder=ProductEncoder(model=encoder), progress=bars)
    m = run.model
    held = m.held_recall_
    out.print(f"ranker trained on {run.n_baskets:,} baskets, {run.n_products:,} products (encoder "
              f"{run.encoder_id}) in {run.fit_seconds:.0f} s")
    out.print(f"held-out recall@10 (newest label baskets): warm {held['warm']:.4f}, cold ranker {held['cold']:.4f} "
              f"vs best sellers {held['cold_popularity']:.4f}: new products "
              + ("back off to best sellers" if m.cold_backoff_ else "go to the cold ranker"))
    out.print(f"saved {run.path}; bundlewise complements PRODUCT --ranker {run.path}")


@contextmanager
def _epoch_lines() -> Iterator[None]:
    """One plain line per epoch on stderr when it is no terminal (a log file, CI): no live bar shows there,
    and a long fit must not look dead. -v logs them anyway; -q silences them."""
    from bundlewise.cli._console import STATE

    logger = logging.getLogger("bundlewise.pairmodel.model")
    if STATE.quiet or sys.stderr.isatty() or logger.isEnabledFor(logging.INFO):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False  # these lines only; the rich handler keeps its level
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


_FLAGS = {"random_state": "--seed"}


def _train_config(**values: object) -> PairModelConfig:
    """The options as a PairModelConfig; a bad value is an error naming the flag, before any work."""
    return _as_flags(PairModelConfig.from_dict, values)


def _as_flags(build: Callable[[dict[str, Any]], T], values: dict[str, Any]) -> T:
    """``build(values)``, its ConfigError about a field reworded as one about the flag the user typed."""
    try:
        return build(values)
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
    ranker: RankerOpt = None,
) -> None:
    """Best partners of a product (or of a product described only by --text), with their evidence."""
    from bundlewise.mining.stored import StoredPairs
    from bundlewise.pairmodel import complements as cmp
    from bundlewise.pairmodel.io import check_model_data, load_pair_model, warehouse_fingerprint
    from bundlewise.text import ProductEncoder

    if (product_id is None) == (text is None):
        raise ConfigError("give either a PRODUCT_ID or --text \"...\" (exactly one)")

    if ranker is not None:
        if text is not None:
            raise ConfigError("--ranker ranks the catalogue's products (a catalogued product never sold goes to "
                              "its cold ranker); a product that exists only as --text needs the pair model: drop "
                              "--ranker")
        _ranker_complements(ranker, product_id, k, allow_other_data)  # type: ignore[arg-type]
        return
    # without a trained model, a product's partners come from the co-purchase statistics: the last mine run's,
    # else counted now from the warehouse's baskets
    use_stats = text is None and not (model_path / "model.json").exists()
    with open_warehouse("read") as wh:
        titles = dict(wh.con.execute("SELECT product_id, coalesce(title, '') FROM products").fetchall())
        pairs = StoredPairs.from_connection(wh.con) if use_stats else None
        if pairs is not None and not pairs.n_pairs:
            pairs = _live_pairs(wh)
        data_fp = warehouse_fingerprint(wh)  # a model must have been trained on this warehouse's baskets
    if pairs is not None and pairs.n_pairs:
        rows = cmp.stored_complements(pairs, product_id, k, titles=titles)
        origin = (f"co-purchase statistics of mining run {pairs.run_id}" if pairs.run_id is not None else
                  f"co-purchase statistics counted now from {pairs.n_baskets:,} baskets, pairs seen in >= "
                  f"{_LIVE_MIN_COUNT} of them; 'bundlewise mine' stores them")
        out.print(f"partners for {safe(product_id)} {safe(titles.get(product_id))} (no pair model at {model_path}: "
                  f"{origin}; sorted by shrunk lift):")
        score_name = "shrunk lift"
    else:
        model = load_pair_model(model_path)
        check_model_data(model, data_fp, allow_other_data=allow_other_data)
        encoder = _encoder_for(model, ProductEncoder)
        if text is not None:
            rows = cmp.model_text_complements(model, text, k, encoder=encoder, titles=titles)
            out.print(f"partners for the new product {safe(repr(text))} (text only, never sold; sorted by the "
                      "model's score, not a probability):")
        else:
            rows = cmp.model_complements(model, product_id, k, titles=titles, encoder=encoder, explain=explain)
            cal = getattr(model, "calibration_", None)
            how = (f"P(partner) = chance a basket with it also holds the partner, calibrated on "
                   f"{cal.n_events:,} held-out baskets (calibration error {cal.ece:.3f})" if cal is not None else
                   "this checkpoint has no calibration: scores only, retrain for probabilities")
            out.print(f"partners for {safe(product_id)} {safe(titles.get(product_id))} (sorted by the model's "
                      f"score; {how}):")
        score_name = "model score"
    t = Table("#", "partner", "title", "P(partner)", score_name, "baskets together", "lift", "q-value", "text sim",
              "why", box=None, pad_edge=False)
    for r in rows:
        t.add_row(str(r.rank), plain(r.product_id), plain(r.title, 40),
                  "" if r.probability is None else f"{r.probability:.3f}", f"{r.score:.3f}",
                  f"{r.n_together:,.0f}", "" if r.lift is None else f"{r.lift:.1f}",
                  "" if r.q_value is None else f"{r.q_value:.2g}",
                  "" if r.text_similarity is None else f"{r.text_similarity:.2f}", plain(r.why))
    out.print(t)


def _ranker_complements(path: Path, product_id: str, k: int, allow_other_data: bool) -> None:
    from bundlewise.pairmodel.io import warehouse_fingerprint
    from bundlewise.pairmodel.jobs import ranker_inputs
    from bundlewise.pairmodel.rerank_explain import explain_reranked
    from bundlewise.pairmodel.rerank_io import load_reranker, read_ranker_meta
    from bundlewise.text import ProductEncoder

    meta = read_ranker_meta(path)  # a bad folder fails before the warehouse is read
    encoder = ProductEncoder(model="multilingual-e5-small" if "e5" in str(meta.get("encoder_id") or "").lower()
                             else "minilm")
    with open_warehouse("read") as wh:
        titles = dict(wh.con.execute("SELECT product_id, coalesce(title, '') FROM products").fetchall())
        baskets, catalog, _ = ranker_inputs(wh, encoder)
        model = load_reranker(path, baskets, catalog, warehouse_fp=warehouse_fingerprint(wh),
                              allow_other_data=allow_other_data)
    rows = explain_reranked(model, product_id, k=k, titles=titles)
    out.print(f"partners for {safe(product_id)} {safe(titles.get(product_id))} (ranker {path}; sorted by its "
              "score, a ranking score, not a probability; 'drivers' split the score by evidence, TreeSHAP):")
    t = Table("#", "partner", "title", "score", "baskets together", "lift", "text sim", "from", "drivers", "why",
              box=None, pad_edge=False)
    for r in rows:
        drivers = ", ".join(f"{g} {v:+.2f}" for g, v in list(r.contributions.items())[:3])
        t.add_row(str(r.rank), plain(r.partner_id), plain(titles.get(r.partner_id, ""), 40), f"{r.score:.3f}",
                  f"{r.n_together:,.0f}", "" if r.lift is None else f"{r.lift:.1f}",
                  "" if r.text_similarity is None else f"{r.text_similarity:.2f}", r.source, drivers, plain(r.why))
    out.print(t)


_LIVE_MIN_COUNT = 2  # a pair seen once is a coincidence more often than a complement


def _live_pairs(wh: object) -> object:
    """The warehouse's co-purchase statistics counted now, as StoredPairs (no mining run stored)."""
    import numpy as np

    from bundlewise.mining import CoPurchaseStats
    from bundlewise.mining.source import load_baskets
    from bundlewise.mining.stored import StoredPairs

    baskets = load_baskets(wh)  # type: ignore[arg-type]
    if baskets.n_baskets == 0:
        return StoredPairs({k: np.zeros(0) for k in _STORED_KEYS}, None, {}, 0)
    df = CoPurchaseStats(min_count=_LIVE_MIN_COUNT).fit(baskets).pair_stats()
    rows = {"product_a": df.item_a.to_numpy(), "product_b": df.item_b.to_numpy(),
            **{k: df[k].to_numpy() for k in _STORED_KEYS[2:]}}
    return StoredPairs(rows, None, {"min_count": _LIVE_MIN_COUNT}, baskets.n_baskets)


_STORED_KEYS = ("product_a", "product_b", "n_ab", "lift", "shrunk_lift", "confidence_ab", "confidence_ba", "q_value")


def _encoder_for(model: object, factory: type) -> object:
    encoder_id = getattr(model, "encoder_id_", None) or ""
    name = "multilingual-e5-small" if "e5" in encoder_id.lower() else "minilm"
    return factory(model=name)


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("train-ranker")(train_ranker_cmd)
    app.command("complements")(complements_cmd)
