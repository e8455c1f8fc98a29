"""``bundlewise bundles`` (the priced bundle plan) and ``bundlewise report`` (its HTML report)."""

from __future__ import annotations

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
from bundlewise.cli._render import plain, safe
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
MaxSize = Annotated[int, typer.Option("--max-size", help="Products per bundle: 2, or 3 to add triples.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed of the demand simulation.")]
AllowOtherData = Annotated[bool, typer.Option("--allow-other-data", help="Use a --pair-model trained on other "
                                                                        "data than this warehouse's.")]
PairModelOpt = Annotated[Path | None, typer.Option("--pair-model", help="Checkpoint from 'bundlewise train': its "
                                                                        "S_ij becomes each bundle's model score.")]


def _config(max_discount: float, max_bundles: int, per_product: int, rules: Path | None, min_count: int,
            margin_floor: float, price_ending: float | None, category_cap: int | None, brand_cap: int | None,
            max_candidates: int, max_size: int, seed: int) -> Any:
    from bundlewise.bundles import BundlePlanConfig, BundleRules, PortfolioConstraints, PricingConstraints

    return BundlePlanConfig(
        min_count=min_count, max_candidates=max_candidates, max_size=max_size, random_state=seed,
        pricing=PricingConstraints(max_discount=max_discount, margin_floor=margin_floor, price_ending=price_ending,
                                   discount_grid_step=min(0.01, max_discount)),
        portfolio=PortfolioConstraints(max_bundles=max_bundles, per_product=per_product, category_cap=category_cap,
                                       brand_cap=brand_cap),
        rules=BundleRules.from_file(rules) if rules is not None else BundleRules())


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
    """Write the plan (selected bundles, or every priced one) to CSV or JSON atomically; returns the row count.

    CSV cells a spreadsheet would run as formulas (titles like ``=HYPERLINK(...)``) are neutralised.
    """
    from bundlewise.bundles import bundle_table

    check_output(path, allowed_suffixes=OUTPUT_SUFFIXES, what="the bundle plan")
    if path.suffix.lower() == ".csv":
        table = bundle_table(plan, selected_only=not everything)
        with atomic_write(path) as tmp:
            neutralise_frame(table).to_csv(tmp, index=False)
        return len(table)
    df = plan.priced if everything else plan.selected
    records = json.loads(df.to_json(orient="records", force_ascii=False))
    write_text(path, json.dumps(records, ensure_ascii=False, indent=1))
    return len(records)


def bundles_cmd(
    max_discount: MaxDiscount = _PRICING.max_discount,
    max_bundles: MaxBundles = _PORTFOLIO.max_bundles,
    per_product: PerProduct = _PORTFOLIO.per_product,
    rules: RulesOpt = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write the plan to FILE.csv or FILE.json.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Write every priced candidate (with 'selected', "
                                                           "'proposed' and 'reason'), not only the portfolio.")]
    = False,
    min_count: MinCount = _PLAN.min_count,
    margin_floor: MarginFloor = _PRICING.margin_floor,
    price_ending: PriceEnding = _PRICING.price_ending,
    category_cap: CategoryCap = _PORTFOLIO.category_cap,
    brand_cap: BrandCap = _PORTFOLIO.brand_cap,
    max_candidates: MaxCandidates = _PLAN.max_candidates,
    max_size: MaxSize = _PLAN.max_size,
    seed: Seed = _PLAN.random_state,
    pair_model: PairModelOpt = None,
    top: Annotated[int, typer.Option("--top", help="Bundles to print.")] = 20,
    allow_other_data: AllowOtherData = False,
) -> None:
    """Priced bundles to run: discount, expected attach rates and incremental margin, evidence and why."""
    if output is not None:  # before the minutes of work
        _check_output(output, rules)
    cfg = _config(max_discount, max_bundles, per_product, rules, min_count, margin_floor, price_ending,
                  category_cap, brand_cap, max_candidates, max_size, seed)
    plan = _plan(cfg, pair_model, allow_other_data)
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
    if len(sel):
        t = Table("#", "products", "titles", "regular", "bundle", "off", "attach w/o→with", "margin /1k [90%]",
                  "n_ab", "lift", "model", box=None, pad_edge=False)
        t.columns[2].overflow = "fold"
        t.columns[2].max_width = 48
        shown = sel.head(top)
        for i, r in enumerate(shown.itertuples(), start=1):
            t.add_row(str(i), plain(" + ".join(r.products)), plain(" + ".join(r.titles)), _fmt(r.regular_price),
                      _fmt(r.bundle_price), f"{r.discount:.0%}",
                      f"{r.attach_rate_without:.1%} → {r.attach_rate_with:.1%}",
                      f"{r.incremental_profit:.2f} [{_fmt(r.profit_low)}, {_fmt(r.profit_high)}]", f"{r.n_ab:,}",
                      _fmt(r.lift), _fmt(r.model_score, ".3f"))
        out.print(t)
        out.print("why:")
        for i, r in enumerate(shown.itertuples(), start=1):
            out.print(f" {i:>2}. {clean_terminal(r.explanation)}", markup=False)
        if len(sel) > top:
            out.print(f"… and {len(sel) - top} more (--top N, or --output FILE for all)")
    elif len(plan.priced):
        best = plan.priced.sort_values("incremental_profit", ascending=False).head(3)
        out.print("no bundle is expected to add margin; the closest:")
        for r in best.itertuples():
            out.print(f"  {safe(' + '.join(r.titles))}: {safe(r.reason)}")
    if output is not None:
        n = write_table(plan, output, everything=everything)
        out.print(f"wrote {n:,} bundles to {output}")


def report_cmd(
    output: Annotated[Path, typer.Option("--output", help="The HTML file to write.")] = Path("report.html"),
    max_discount: MaxDiscount = _PRICING.max_discount,
    max_bundles: MaxBundles = _PORTFOLIO.max_bundles,
    per_product: PerProduct = _PORTFOLIO.per_product,
    rules: RulesOpt = None,
    min_count: MinCount = _PLAN.min_count,
    margin_floor: MarginFloor = _PRICING.margin_floor,
    price_ending: PriceEnding = _PRICING.price_ending,
    category_cap: CategoryCap = _PORTFOLIO.category_cap,
    brand_cap: BrandCap = _PORTFOLIO.brand_cap,
    max_candidates: MaxCandidates = _PLAN.max_candidates,
    max_size: MaxSize = _PLAN.max_size,
    seed: Seed = _PLAN.random_state,
    pair_model: PairModelOpt = None,
    top: Annotated[int, typer.Option("--top", help="Bundles whose profit curve is drawn.")] = 6,
    allow_other_data: AllowOtherData = False,
) -> None:
    """An HTML report of the bundle plan: portfolio, profit-vs-discount curves, association graph."""
    from bundlewise.bundles.report import build_report
    from bundlewise.cli._console import STATE

    check_output(output, allowed_suffixes=HTML_SUFFIXES, what="the HTML report", warehouse=STATE.db,
                 inputs=[rules] if rules is not None else ())  # before the minutes of work
    cfg = _config(max_discount, max_bundles, per_product, rules, min_count, margin_floor, price_ending,
                  category_cap, brand_cap, max_candidates, max_size, seed)
    plan = _plan(cfg, pair_model, allow_other_data)
    path = build_report(plan, top=top).write(output, warehouse=STATE.db)
    out.print(f"wrote {path} ({len(plan.selected)} bundles, expected incremental margin "
              f"{plan.portfolio.objective:.2f} per 1,000 shoppers)")


def register(app: typer.Typer) -> None:
    app.command("bundles")(bundles_cmd)
    app.command("report")(report_cmd)
