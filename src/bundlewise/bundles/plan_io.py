"""The bundle plan as a file (CSV or JSON) and back: what ``bundles --output`` writes and
``report --plan`` and ``serve --plan`` read, so the report never prices the bundles a second time.

One row per bundle. Money is rounded to cents, discounts to 0.1 %, margins to 0.01;
columns that would be empty for every row are left out. Besides the priced columns of
:func:`~bundlewise.bundles.pricing.price_bundles` a row holds ``margin_per_week`` (and its interval),
``elasticities`` and ``margin_rates`` (per product, the values the pricing used: elasticities at the
regular price after clipping), ``selected``, and for the top selected bundles ``profit_curve``
(``[[discount, profit, low, high], ...]``). An ``--all`` file adds the candidates the business
rules set aside (``stage = "business rules"``). In CSV, lists are joined (``" + "`` for ids and
names) and number lists and the curve are JSON text.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"bundle_id": ["a+b"], "products": [("a", "b")], "names": [("A", "B")],
...                      "incremental_profit": [2.5], "selected": [True]})
>>> flat = flatten(rows)
>>> flat["products"].tolist(), unflatten(flat)["products"].tolist()
(['a + b'], [('a', 'b')])
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError, allowed

if TYPE_CHECKING:
    from bundlewise.bundles.jobs import BundlePlan

log = logging.getLogger(__name__)

ID_LISTS = ("products", "titles", "names")
NUMBER_LISTS = ("elasticities", "margin_rates")
COLUMNS = ("bundle_id", "products", "names", "titles", "deal_type", "regular_price", "bundle_price", "discount",
           "attach_rate_without", "attach_rate_with", "incremental_profit", "profit_low", "profit_high",
           "margin_per_week", "margin_per_week_low", "margin_per_week_high", "margin_source", "margin_rates",
           "elasticities", "n_ab", "lift", "q_value", "score", "model_score", "selected", "proposed", "stage",
           "reason", "explanation", "profit_curve")
_ROUND = {"regular_price": 2, "bundle_price": 2, "discount": 3, "attach_rate_without": 3, "attach_rate_with": 3,
          "incremental_profit": 2, "profit_low": 2, "profit_high": 2, "margin_per_week": 2,
          "margin_per_week_low": 2, "margin_per_week_high": 2, "lift": 4, "q_value": 4, "score": 4,
          "model_score": 4}


@dataclass
class PlanView:
    """What the report shows, from a fitted plan or a plan file.

    Attributes
    ----------
    bundles : DataFrame
        Every row of the plan (list columns as tuples), ``selected`` ones first by margin.
    curves : dict of str -> DataFrame
        ``discount, profit, low, high`` per bundle id.
    meta : dict
        ``source`` ("plan" or a file path), and from a fitted plan ``n_baskets``, ``weekly_baskets``,
        ``status``, ``gap``, ``max_bundles``, ``per_product``, ``prior``, ``period``, ``assumed_rate``,
        ``n_rejected``.
    """

    bundles: pd.DataFrame
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def selected(self) -> pd.DataFrame:
        sel = self.bundles[self.bundles["selected"].astype(bool)] if "selected" in self.bundles else self.bundles
        return sel.sort_values("incremental_profit", ascending=False, kind="stable")


def _per_product(plan: BundlePlan, products: pd.Series, column: str, frame: pd.DataFrame) -> list[tuple]:
    values = frame.assign(product_id=frame["product_id"].astype(str)).set_index("product_id")[column]
    return [tuple(round(float(values.get(str(p), math.nan)), 3) for p in ps) for ps in products]


def _not_chosen(plan: BundlePlan, products: tuple[str, ...]) -> str:
    """Which portfolio limit kept a profitable bundle out."""
    limits = plan.config.portfolio
    used = pd.Series([str(p) for ps in plan.selected["products"] for p in ps]).value_counts()
    full = [str(p) for p in products if used.get(str(p), 0) >= limits.per_product]
    if full:
        names = dict(zip(plan.priced["products"].explode().astype(str), plan.priced["names"].explode(), strict=False))
        return (f"not chosen: {names.get(full[0], full[0])} is already in {limits.per_product} chosen bundle(s) "
                "(per-product limit), which earn more")
    if len(plan.selected) >= limits.max_bundles:
        return f"not chosen: the portfolio holds its maximum of {limits.max_bundles} bundles, all earning more"
    return "not chosen: a category or brand cap of the portfolio, filled by bundles earning more"


def plan_rows(plan: BundlePlan, *, everything: bool = False) -> pd.DataFrame:
    """The plan's rows (the portfolio, or with ``everything`` every candidate), list columns as tuples."""
    df = (plan.priced if everything else plan.selected).copy()
    if "selected" not in df:
        df["selected"] = True
    df["stage"] = np.where(df["selected"], "selected", np.where(df["proposed"], "portfolio", "pricing"))
    df.loc[df["stage"] == "portfolio", "reason"] = [_not_chosen(plan, p) for p in
                                                     df.loc[df["stage"] == "portfolio", "products"]]
    if everything and len(plan.rejected):
        rejected = plan.rejected.assign(stage="business rules", selected=False, proposed=False)
        df = pd.concat([df, rejected[[c for c in rejected.columns if c in COLUMNS]]], ignore_index=True)
    weekly = plan.demand.weekly_shoppers() / 1000
    for col, src in (("margin_per_week", "incremental_profit"), ("margin_per_week_low", "profit_low"),
                     ("margin_per_week_high", "profit_high")):
        df[col] = df[src] * weekly if src in df else np.nan
    params = plan.demand.params_
    df["elasticities"] = _per_product(plan, df["products"], "elasticity_regular", params)
    if "margin_rate" in plan.catalog:
        df["margin_rates"] = _per_product(plan, df["products"], "margin_rate", plan.catalog)
    curves = {k: v for k, v in plan.curves.items()}
    df["profit_curve"] = [[[round(float(x), 4) for x in r] for r in curves[b].to_numpy()] if b in curves else None
                          for b in df["bundle_id"]]
    return tidy(df)


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Known columns in order, numbers rounded, columns empty in every row left out."""
    df = df[[c for c in COLUMNS if c in df.columns]].copy()
    for col, digits in _ROUND.items():
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").round(digits)
    def blank(v: object) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, (str, tuple, list)) and not v)

    empty = [c for c in df.columns if all(blank(v) for v in df[c])]
    return df.drop(columns=empty).reset_index(drop=True)


def bundle_table(plan: BundlePlan, *, selected_only: bool = True) -> pd.DataFrame:
    """A flat table of the plan for CSV: lists joined, money in cents, empty columns left out;
    ``selected_only=False`` adds every other candidate (the :func:`plan_rows` of the plan, :func:`flatten`-ed)."""
    return flatten(plan_rows(plan, everything=not selected_only))


def flatten(df: pd.DataFrame) -> pd.DataFrame:
    """List columns joined for CSV."""
    out = df.copy()
    for col in ID_LISTS:
        if col in out:
            out[col] = [" + ".join(map(str, v)) if isinstance(v, (tuple, list)) else v for v in out[col]]
    for col in NUMBER_LISTS:  # JSON text: "[-2.1, -1.8]" (a cell starting with "-" would read as a formula)
        if col in out:
            out[col] = [json.dumps(list(v)) if isinstance(v, (tuple, list)) else v for v in out[col]]
    if "profit_curve" in out:
        out["profit_curve"] = [json.dumps(v) if isinstance(v, list) else "" for v in out["profit_curve"]]
    return out


def unflatten(df: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`flatten` (JSON lists are turned into tuples as well)."""
    out = df.copy()
    for col in ID_LISTS:
        if col in out:
            out[col] = [tuple(x.strip() for x in v.split(" + ")) if isinstance(v, str) else
                        tuple(v) if isinstance(v, list) else v for v in out[col]]
    for col in NUMBER_LISTS:
        if col in out:
            out[col] = [_numbers(v) for v in out[col]]
    if "profit_curve" in out:
        out["profit_curve"] = [_curve(v) for v in out["profit_curve"]]
    return out


def _curve(v: object) -> list | None:
    if isinstance(v, list):
        return v
    if isinstance(v, str) and v.strip():
        try:
            curve = json.loads(v.strip().lstrip("'"))
        except ValueError:
            return None
        return curve if isinstance(curve, list) and all(isinstance(r, list) and len(r) == 4 for r in curve) else None
    return None


def _numbers(v: object) -> tuple[float, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(float(x) for x in v)
    if isinstance(v, str) and v.strip():
        try:  # JSON text; a spreadsheet may have added a leading quote
            return tuple(float(x) for x in json.loads(v.strip().lstrip("'")))
        except (ValueError, TypeError):
            return ()
    return ()


def read_plan(path: str | Path) -> PlanView:
    """A plan file written by ``bundlewise bundles --output`` as a :class:`PlanView`.

    Raises
    ------
    ConfigError
        The file is missing, not CSV/JSON, or lacks the plan's columns.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"plan file {str(path)!r} does not exist; write one with 'bundlewise bundles --output "
                          f"{path.name}'")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype={"bundle_id": str}, keep_default_na=True)
        elif suffix == ".json":
            df = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
        else:
            raise ConfigError(f"plan file {str(path)!r} has suffix {suffix!r}; allowed suffixes are '.csv', '.json'")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"plan file {str(path)!r} cannot be read ({exc}); write it with 'bundlewise bundles "
                          "--output plan.csv'") from None
    need = ("bundle_id", "products", "incremental_profit")
    if df.empty and len(df.columns) == 0:  # '[]' (JSON) or a header-less empty file: a plan of no bundles
        df = pd.DataFrame(columns=list(COLUMNS))
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ConfigError(f"plan file {str(path)!r} lacks column(s) {allowed(missing)}; it needs {allowed(need)} "
                          "(write it with 'bundlewise bundles --output')")
    df = unflatten(df)
    if "names" not in df:
        df["names"] = df["titles"] if "titles" in df else df["products"]
    for col, default in (("selected", True), ("proposed", True), ("reason", ""), ("stage", "selected")):
        if col not in df:
            df[col] = default
    df["selected"] = df["selected"].astype(str).str.lower().isin(["true", "1"])
    df["reason"] = df["reason"].fillna("").astype(str)
    curves = {str(b): pd.DataFrame(c, columns=["discount", "profit", "low", "high"])
              for b, c in zip(df["bundle_id"], df.get("profit_curve", [None] * len(df)), strict=True)
              if isinstance(c, list) and c}
    return PlanView(df, curves, {"source": str(path)})


def plan_view(plan: BundlePlan) -> PlanView:
    """A fitted plan as a :class:`PlanView` (every candidate, so the report can say what was left out)."""
    rows = plan_rows(plan, everything=True)
    cfg = plan.config
    meta = {"source": "plan", "n_baskets": plan.n_baskets, "weekly_baskets": plan.demand.weekly_shoppers(),
            "status": plan.portfolio.status, "gap": plan.portfolio.mip_gap, "seconds": plan.portfolio.seconds,
            "max_bundles": cfg.portfolio.max_bundles, "per_product": cfg.portfolio.per_product,
            "prior": f"{cfg.prior_mean} ± {cfg.prior_sd}", "period": cfg.period,
            "assumed_rate": cfg.effective_pricing().assumed_margin_rate,
            "prices_from_orders": plan.catalog.attrs.get("prices_from_orders", 0)}
    curves = {k: v for k, v in plan.curves.items()}
    return PlanView(rows, curves, meta)


__all__ = ["COLUMNS", "PlanView", "bundle_table", "flatten", "plan_rows", "plan_view", "read_plan", "tidy", "unflatten"]
