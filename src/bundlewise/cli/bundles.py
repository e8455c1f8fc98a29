"""``bundlewise bundles`` (the priced bundle plan) and ``bundlewise report`` (its HTML report)."""

from __future__ import annotations

import functools
import inspect
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bundlewise.bundles.jobs import BundlePlanConfig
from bundlewise.bundles.portfolio import PortfolioConstraints
from bundlewise.bundles.pricing import PricingConstraints
from bundlewise.cli._console import open_warehouse, out, progress
from bundlewise.cli._render import plain
from bundlewise.outputs import HTML_SUFFIXES, atomic_write, check_output, clean_terminal, neutralise_frame, write_text

OUTPUT_SUFFIXES = (".csv", ".json")
# the defaults live in the configs; this module is imported only when `bundles`/`report` runs (the CLI
# loads verbs on demand), so reading them costs `--help` nothing
_PLAN, _PRICING, _PORTFOLIO = BundlePlanConfig(), PricingConstraints(), PortfolioConstraints()

MaxDiscount = Annotated[float, typer.Option("--max-discount", help="Largest discount off the regular prices.")]
MaxBundles = Annotated[int, typer.Option("--max-bundles", help="Bundles in the portfolio at most.")]
PerProduct = Annotated[int, typer.Option("--per-product", help="Bundles any one product may be in.")]
RulesOpt = Annotated[Path | None, typer.Option("--rules", help="Business rules file (.toml or .json): "
                                                               "never-together pairs, categories, margins, stock.")]
MinCount = Annotated[int, typer.Option("--min-count", help="Bundle products bought together in >= N baskets.")]
MarginFloor = Annotated[float, typer.Option("--margin-floor", help="Minimum margin rate of a bundle price over "
                                                                   "cost.")]
PriceEnding = Annotated[float | None, typer.Option("--price-ending", help="Bundle prices end in these cents "
                                                                          "(e.g. 0.99).")]
CategoryCap = Annotated[int | None, typer.Option("--category-cap", help="Bundles touching any one category.")]
BrandCap = Annotated[int | None, typer.Option("--brand-cap", help="Bundles touching any one brand.")]
MaxCandidates = Annotated[int, typer.Option("--max-candidates", help="Best-scored candidates priced.")]
VolumeShare = Annotated[float, typer.Option("--volume-share", help="Share of the candidates chosen by how often "
                                                                   "pairs are bought together (the rest by lift).")]
MaxSize = Annotated[int, typer.Option("--max-size", help="Products per bundle: 2, or 3 to add triples.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed of the demand simulation.")]
AllowOtherData = Annotated[bool, typer.Option("--allow-other-data", help="Use a --pair-model trained on other "
                                                                        "data than this warehouse's.")]
PairModelOpt = Annotated[Path | None, typer.Option("--pair-model", help="Checkpoint from 'bundlewise train': its "
                                                                        "S_ij becomes each bundle's model score.")]


RequirePositive = Annotated[bool, typer.Option("--require-positive/--allow-uncertain",
                                               help="Propose only bundles whose 90% profit interval is above zero.")]
MinDiscount = Annotated[float, typer.Option("--min-discount", help="Smallest discount offered (no one-cent "
                                                                   "bundles).")]
MaxFreeShare = Annotated[float, typer.Option("--max-free-share", help="Money off at most this share of the cheapest "
                                                                      "product's price (1 = up to all of it).")]
RiskOpt = Annotated[float | None, typer.Option("--risk", help="Price each bundle by this quantile of its profit "
                                                               "(e.g. 0.25; fewer, shallower bundles when unsure).")]
MarginsOpt = Annotated[Path | None, typer.Option("--margins", help="CSV of category,margin_rate for products "
                                                                   "without a cost (overrides inferred margins).")]
InferMargins = Annotated[bool, typer.Option("--infer-margins/--assume-margins",
                                            help="Infer missing costs from each product's price elasticity "
                                                 "(Lerner), or assume one margin rate for all.")]

# the options `bundles` and `report` share, declared once: (name, annotation, default)
SHARED_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("max_discount", MaxDiscount, _PRICING.max_discount), ("max_bundles", MaxBundles, _PORTFOLIO.max_bundles),
    ("per_product", PerProduct, _PORTFOLIO.per_product), ("rules", RulesOpt, None),
    ("min_count", MinCount, _PLAN.min_count), ("margin_floor", MarginFloor, _PRICING.margin_floor),
    ("price_ending", PriceEnding, _PRICING.price_ending), ("min_discount", MinDiscount, _PRICING.min_discount),
    ("require_positive", RequirePositive, _PRICING.require_positive), ("margins", MarginsOpt, None),
    ("max_free_share", MaxFreeShare, _PRICING.max_free_share), ("risk", RiskOpt, _PRICING.risk_quantile),
    ("infer_margins", InferMargins, _PLAN.infer_margins), ("category_cap", CategoryCap, _PORTFOLIO.category_cap),
    ("brand_cap", BrandCap, _PORTFOLIO.brand_cap), ("max_candidates", MaxCandidates, _PLAN.max_candidates),
    ("volume_share", VolumeShare, _PLAN.volume_share),
    ("max_size", MaxSize, _PLAN.max_size), ("seed", Seed, _PLAN.random_state), ("pair_model", PairModelOpt, None),
    ("allow_other_data", AllowOtherData, False),
)


def with_plan_options(fn: Any) -> Any:
    """Add :data:`SHARED_OPTIONS` to a verb; it receives them as one dict ``plan_options``."""
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "plan_options"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
              for name, ann, default in SHARED_OPTIONS]

    @functools.wraps(fn)
    def verb(**kwargs: Any) -> Any:
        options = {name: kwargs.pop(name) for name, _, _ in SHARED_OPTIONS}
        return fn(plan_options=options, **kwargs)

    verb.__signature__ = sig.replace(parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
                                     + shared)
    verb.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
    return verb


def _config(o: dict[str, Any]) -> Any:
    from bundlewise.bundles import BundlePlanConfig, BundleRules, PortfolioConstraints, PricingConstraints

    max_discount = o["max_discount"]
    if o["margins"] is not None:  # a bad margins file fails now, not after minutes of work
        from bundlewise.bundles.margins import read_margins

        read_margins(o["margins"])
    return BundlePlanConfig(
        min_count=o["min_count"], max_candidates=o["max_candidates"], max_size=o["max_size"], random_state=o["seed"],
        volume_share=o["volume_share"],
        infer_margins=o["infer_margins"], margins_file=str(o["margins"]) if o["margins"] is not None else None,
        pricing=PricingConstraints(max_discount=max_discount, margin_floor=o["margin_floor"],
                                   price_ending=o["price_ending"], discount_grid_step=min(0.01, max_discount),
                                   min_discount=min(o["min_discount"], max_discount),
                                   require_positive=o["require_positive"], max_free_share=o["max_free_share"],
                                   risk_quantile=o["risk"]),
        portfolio=PortfolioConstraints(max_bundles=o["max_bundles"], per_product=o["per_product"],
                                       category_cap=o["category_cap"], brand_cap=o["brand_cap"]),
        rules=BundleRules.from_file(o["rules"]) if o["rules"] is not None else BundleRules())


def _plan(cfg: Any, pair_model: Path | None = None, allow_other_data: bool = False) -> Any:
    from bundlewise.bundles import plan_bundles

    scorer = None
    if pair_model is not None:
        from bundlewise.pairmodel.io import load_pair_model

        scorer = load_pair_model(pair_model)
    with open_warehouse("read") as wh, progress() as bars:  # plans are not stored
        if scorer is not None:
            from bundlewise.pairmodel.io import check_model_data

            check_model_data(scorer, wh, allow_other_data=allow_other_data)
        return plan_bundles(wh, cfg, model_scorer=scorer, progress=bars)


def _fmt(x: float, spec: str = ".2f") -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _check_output(output: Path, rules: Path | None) -> None:
    from bundlewise.cli._console import STATE

    check_output(output, allowed_suffixes=OUTPUT_SUFFIXES, what="the bundle plan", warehouse=STATE.db,
                 inputs=[rules] if rules is not None else ())


def write_table(plan: Any, path: Path, *, everything: bool) -> int:
    """Write the plan (selected bundles, or every candidate) to CSV or JSON atomically; returns the row count.

    CSV cells a spreadsheet would run as formulas (titles like ``=HYPERLINK(...)``) are neutralised.
    """
    import pandas as pd

    from bundlewise.bundles.plan_io import COLUMNS, flatten, plan_rows

    check_output(path, allowed_suffixes=OUTPUT_SUFFIXES, what="the bundle plan")
    rows = plan_rows(plan, everything=everything)
    if rows.empty:  # no bundle chosen: still a plan file ('report --plan' and 'serve --plan' read it)
        rows = pd.DataFrame(columns=list(COLUMNS))
    if path.suffix.lower() == ".csv":
        with atomic_write(path) as tmp:
            neutralise_frame(flatten(rows)).to_csv(tmp, index=False)
        return len(rows)
    records = json.loads(rows.to_json(orient="records", force_ascii=False))
    write_text(path, json.dumps(records, ensure_ascii=False, indent=1))
    return len(records)


@with_plan_options
def bundles_cmd(
    output: Annotated[Path | None, typer.Option("--output", help="Write the plan to FILE.csv or FILE.json.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Write every candidate (with 'selected', "
                                                           "'proposed' and 'reason'), not only the portfolio.")]
    = False,
    top: Annotated[int, typer.Option("--top", help="Bundles to print.")] = 20,
    plan_options: dict[str, Any] | None = None,
) -> None:
    """Priced bundles to run: discount, expected attach rates and incremental margin, evidence and why."""
    o = plan_options or {}
    if output is not None:  # before the minutes of work
        _check_output(output, o["rules"])
    cfg = _config(o)
    plan = _plan(cfg, o["pair_model"], o["allow_other_data"])
    sel = plan.selected
    total = plan.portfolio.objective
    n_proposed = int(plan.priced["proposed"].sum()) if len(plan.priced) else 0
    out.print(f"{len(sel)} bundles chosen from {len(plan.priced) + len(plan.rejected):,} candidates "
              f"({len(plan.rejected):,} set aside by rules, {n_proposed:,} "
              f"with a positive expected margin; {plan.n_baskets:,} baskets; "
              f"{sum(plan.seconds.values()):.1f} s)")
    out.print(f"expected incremental margin: {total:.2f} per 1,000 shoppers "
              f"(MILP {plan.portfolio.status}, gap {plan.portfolio.mip_gap:.2%})")
    if len(sel) and (sel["margin_source"] == "assumed").any():
        out.print(f"note: {(sel['margin_source'] == 'assumed').sum()} bundles hold products without a catalogue cost; "
                  f"their margins assume a {cfg.effective_pricing().assumed_margin_rate:.0%} margin rate")
    if len(sel) and (sel["margin_source"] == "inferred").any():
        out.print(f"note: {(sel['margin_source'] == 'inferred').sum()} bundles hold products without a catalogue "
                  "cost; their margins are inferred from price elasticities (--margins FILE to give them)")
    if len(sel):
        t = Table("#", "products", "names", "regular", "bundle", "off", "attach w/o→with", "margin /1k [90%]",
                  "n_ab", "lift", "model", box=None, pad_edge=False)
        t.columns[1].overflow = t.columns[2].overflow = "fold"  # wrapped, never cut
        shown = sel.head(top)
        for i, r in enumerate(shown.itertuples(), start=1):
            t.add_row(str(i), plain(" + ".join(r.products)), plain(" + ".join(r.names)), _fmt(r.regular_price),
                      _fmt(r.bundle_price), f"{r.discount:.0%}",
                      f"{r.attach_rate_without:.1%} → {r.attach_rate_with:.1%}",
                      f"{r.incremental_profit:.2f} [{_fmt(r.profit_low)}, {_fmt(r.profit_high)}]", f"{r.n_ab:,}",
                      _fmt(r.lift), _fmt(r.model_score, ".3f") + (" multi-buy" if r.deal_type == "multi-buy" else ""))
        out.print(t)
        out.print("why:")
        for i, r in enumerate(shown.itertuples(), start=1):
            out.print(f" {i:>2}. {clean_terminal(r.explanation)}", markup=False)
        if len(sel) > top:
            out.print(f"… and {len(sel) - top} more (--top N, or --output FILE for all)")
    elif len(plan.priced):
        # nothing to run: say so, and show what came closest and why each was left out (a merchandiser
        # reads this as the answer, so the names are the table's first column and never cut)
        best = plan.priced.sort_values(["incremental_profit", "bundle_id"], ascending=[False, True],
                                       na_position="last").head(min(top, 10))
        out.print("no bundle is worth running; the closest candidates and why each was left out:")
        t = Table("#", "names", "off", "margin /1k [90%]", "n_ab", "lift", "why left out", box=None, pad_edge=False)
        t.columns[1].overflow = t.columns[6].overflow = "fold"
        for i, r in enumerate(best.itertuples(), start=1):
            off = f"{r.discount:.0%}" if math.isfinite(r.discount) else "—"
            margin = (f"{r.incremental_profit:.2f} [{_fmt(r.profit_low)}, {_fmt(r.profit_high)}]"
                      if math.isfinite(r.incremental_profit) else "—")
            kind = " (multi-buy)" if r.deal_type == "multi-buy" else ""
            t.add_row(str(i), plain(" + ".join(r.names)) + kind, off, margin, f"{r.n_ab:,}", _fmt(r.lift),
                      plain(str(r.reason)))
        out.print(t)
    if output is not None:
        n = write_table(plan, output, everything=everything)
        out.print(f"wrote {n:,} bundles to {output}")


@with_plan_options
def report_cmd(
    output: Annotated[Path, typer.Option("--output", help="The HTML file to write.")] = Path("report.html"),
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Report this plan file (from 'bundles --output', "
                                                                  ".csv or .json) instead of planning again.")]
    = None,
    top: Annotated[int, typer.Option("--top", help="Bundles whose profit curve is drawn.")] = 6,
    plan_options: dict[str, Any] | None = None,
) -> None:
    """An HTML report of the bundle plan: what to run, what was left out and why, curves, elasticities."""
    from bundlewise.bundles.report import build_report
    from bundlewise.cli._console import STATE

    o = plan_options or {}
    check_output(output, allowed_suffixes=HTML_SUFFIXES, what="the HTML report", warehouse=STATE.db,
                 inputs=[p for p in (o["rules"], plan_file) if p is not None])  # before the minutes of work
    if plan_file is not None:
        from bundlewise.bundles.plan_io import read_plan

        view = read_plan(plan_file)
        page, sel = build_report(view, top=top), view.selected
    else:
        plan = _plan(_config(o), o["pair_model"], o["allow_other_data"])
        page, sel = build_report(plan, top=top), plan.selected
    path = _with_offers(page, STATE.db).write(output, warehouse=STATE.db)
    out.print(f"wrote {path} ({len(sel)} bundles, expected incremental margin "
              f"{float(sel['incremental_profit'].sum()) if len(sel) else 0.0:.2f} per 1,000 shoppers)")


def _with_offers(page: Any, db: Path | None) -> Any:
    """Append the "Offers that learn" section when the warehouse holds offer decisions the service logged."""
    if db is None or not Path(db).exists():
        return page
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.offers.logs import read_decision_log
    from bundlewise.report.offers import add_offers_section

    with Warehouse(db, read_only=True) as wh:
        has = wh.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                             "AND table_name = 'offer_decisions'").fetchone()[0]
        if not has or not wh.con.execute("SELECT count(*) FROM offer_decisions").fetchone()[0]:
            return page  # no offer served from this warehouse yet: nothing to report
        log = read_decision_log(wh)
    return add_offers_section(page, log)


def register(app: typer.Typer) -> None:
    app.command("bundles")(bundles_cmd)
    app.command("report")(report_cmd)
