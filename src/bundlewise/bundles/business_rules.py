"""Business rules for bundles: what a merchandiser never wants, whatever the data says.

Rules come from a TOML or JSON file (or a dict); every key is optional::

    # rules.toml
    never_together = [["1098066", "995242"]]     # product pairs never bundled
    exclude_products = ["6534178"]               # never in any bundle
    required_products = []                       # if set, every bundle holds one of them
    category_mode = "any"                        # "any" | "within" | "between" categories
    category_level = 1                           # depth of category_path compared (0 = whole path)
    allowed_category_pairs = [["GROCERY", "DRUG GM"]]  # if set, only these category pairs
    min_margin_rate = 0.15                       # (price - cost) / price of the bundle
    exclude_out_of_stock = true                  # stock <= 0 excluded (unknown stock passes)
    max_discount = 0.25                          # cap on the bundle discount

A category rule value matches a product when it equals the product's category at
``category_level`` or is a prefix of its ``category_path`` (``"GROCERY"`` matches
``"GROCERY > COOKIES"``).

Examples
--------
>>> import pandas as pd
>>> catalog = pd.DataFrame({"product_id": ["a", "b", "c"], "category_path": ["X", "X", "Y"],
...                         "price": [10.0, 5.0, 8.0], "cost": [6.0, 3.0, 4.0], "stock": [5.0, 0.0, 3.0]})
>>> cands = pd.DataFrame({"bundle_id": ["a+b", "a+c"], "products": [("a", "b"), ("a", "c")]})
>>> kept, rejected = BundleRules(category_mode="between").apply(cands, catalog)
>>> kept["bundle_id"].tolist(), rejected["reason"].tolist()
(['a+c'], ['b is out of stock (stock 0); a and b are in the same category X'])
"""

from __future__ import annotations

import json
import logging
import math
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError, DataValidationError, allowed

log = logging.getLogger(__name__)

CATEGORY_MODES = ("any", "within", "between")
RULE_FILE_FORMATS = (".toml", ".json")


@dataclass(frozen=True)
class BundleRules(_ConfigBase):
    """Business rules applied to candidate (and priced) bundles.

    Parameters
    ----------
    never_together : tuple of (str, str)
        Product pairs that must not share a bundle.
    exclude_products : tuple of str
        Products never bundled.
    required_products : tuple of str
        When non-empty, every bundle must hold at least one of them.
    category_mode : {"any", "within", "between"}
        ``within``: all products of a bundle in one category; ``between``: all in different ones.
    category_level : int
        Depth of ``category_path`` that defines "a category" (1 = top level; 0 = the whole path).
    allowed_category_pairs : tuple of (str, str)
        When non-empty, every pair of products in a bundle must fall in one of these category
        pairs (either order; a value also matches as a path prefix). Same-category pairs are
        allowed only when listed, e.g. ``["SNACKS", "SNACKS"]``.
    min_margin_rate : float, optional
        Minimum ``(price - cost) / price`` of the bundle: at the bundle price when the rows are
        priced, at the regular price before. Bundles with an unknown cost pass (pricing then
        applies its assumed margin rate).
    exclude_out_of_stock : bool
        Leave out bundles with a product whose ``stock`` is <= 0 (unknown stock passes).
    max_discount : float, optional
        Largest discount allowed; checked on priced rows, and passed to pricing by the pipeline.
    """

    _name: ClassVar[str] = "bundle rules"

    never_together: tuple[tuple[str, str], ...] = ()
    exclude_products: tuple[str, ...] = ()
    required_products: tuple[str, ...] = ()
    category_mode: str = "any"
    category_level: int = 1
    allowed_category_pairs: tuple[tuple[str, str], ...] = ()
    min_margin_rate: float | None = None
    exclude_out_of_stock: bool = True
    max_discount: float | None = None

    def __post_init__(self) -> None:
        if self.category_mode not in CATEGORY_MODES:
            raise ConfigError(f"category_mode is {self.category_mode!r}; allowed values are "
                              f"{allowed(CATEGORY_MODES)}")
        if not isinstance(self.category_level, int) or self.category_level < 0:
            raise ConfigError(f"category_level is {self.category_level!r}; it must be an integer >= 0 "
                              "(0 = the whole category path)")
        for name in ("never_together", "allowed_category_pairs"):
            object.__setattr__(self, name, _pairs(name, getattr(self, name)))
        for name in ("exclude_products", "required_products"):
            object.__setattr__(self, name, _strings(name, getattr(self, name)))
        for name in ("min_margin_rate", "max_discount"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)
                                      or not 0.0 <= value < 1.0):
                raise ConfigError(f"{name} is {value!r}; it must be a number in [0, 1) (0.2 = 20 %)")
        if not isinstance(self.exclude_out_of_stock, bool):
            raise ConfigError(f"exclude_out_of_stock is {self.exclude_out_of_stock!r}; it must be true or false")

    @classmethod
    def from_file(cls, path: str | Path) -> BundleRules:
        """Read rules from a ``.toml`` or ``.json`` file; errors name the file and the key."""
        path = Path(path)
        if path.suffix.lower() not in RULE_FILE_FORMATS:
            raise ConfigError(f"rules file {path} has suffix {path.suffix!r}; allowed suffixes are "
                              f"{allowed(RULE_FILE_FORMATS)}")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"rules file {path} does not exist; pass an existing .toml or .json file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"rules file {path} cannot be read ({exc}); save it as UTF-8 text") from None
        try:
            data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"rules file {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"rules file {path} must hold a table/object of keys, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"rules file {path}: {exc}") from None

    # -- applying ------------------------------------------------------------------------
    def apply(self, candidates: pd.DataFrame, catalog: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split bundles into those the rules keep and those they reject.

        Parameters
        ----------
        candidates : DataFrame
            Needs ``products`` (tuples of product ids); ``bundle_price`` and ``discount`` are
            checked when present (priced rows).
        catalog : DataFrame
            ``product_id`` plus whichever of ``category_path``, ``price``, ``cost``, ``stock``
            the rules need (see :func:`bundlewise.ingest.load_catalog`).

        Returns
        -------
        kept, rejected : DataFrame
            The candidate rows in their order; ``rejected`` has one more column, ``reason``
            (every broken rule, joined by "; "). ``rejected.attrs["by_rule"]`` counts the
            rejected bundles per rule key (a bundle may break several).
        """
        if "products" not in candidates.columns:
            raise DataValidationError(f"candidates need a 'products' column; got columns "
                                      f"{allowed(list(candidates.columns))}")
        info = _catalog_lookup(catalog)
        unknown = self.unknown_products(info)
        if unknown:  # legal (a product may be gone from this warehouse), but often a typo'd id
            log.warning("the bundle rules name %d product id(s) that match no product of the catalogue: %s",
                        len(unknown), ", ".join(f"{k} {v}" for k, v in unknown.items()))
        checks = [self._check(tuple(products), row, info) for products, row
                  in zip(candidates["products"], candidates.to_dict("records"), strict=True)]
        reason = pd.Series(["; ".join(text for _, text in c) for c in checks], index=candidates.index, dtype=object)
        bad = reason != ""
        kept = candidates[~bad].copy()
        rejected = candidates[bad].copy()
        rejected["reason"] = reason[bad]
        by_rule: Counter[str] = Counter()
        for c in checks:
            by_rule.update({key for key, _ in c})
        rejected.attrs["by_rule"] = dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])))
        return kept, rejected

    def unknown_products(self, catalog: pd.DataFrame | dict[str, Any]) -> dict[str, list[str]]:
        """Rule key -> the ids it names that are not in ``catalog`` (its product_id column, or a lookup)."""
        known = set(catalog) if isinstance(catalog, dict) else set(catalog["product_id"].astype(str))
        named = {"never_together": [p for pair in self.never_together for p in pair],
                 "exclude_products": list(self.exclude_products), "required_products": list(self.required_products)}
        out = {key: sorted(set(ids) - known) for key, ids in named.items()}
        return {key: ids for key, ids in out.items() if ids}

    def _check(self, products: tuple[str, ...], row: Mapping[str, Any],
               info: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        """Every broken rule as (rule key, reason)."""
        out: list[tuple[str, str]] = []
        never = {frozenset(p) for p in self.never_together}
        excluded = [p for p in products if p in set(self.exclude_products)]
        if excluded:
            out.append(("exclude_products", f"{', '.join(excluded)} excluded by the rules"))
        if self.required_products and not set(products) & set(self.required_products):
            out.append(("required_products", "holds none of the required products"))
        for i, a in enumerate(products):
            for b in products[i + 1:]:
                if frozenset((a, b)) in never:
                    out.append(("never_together", f"{a} and {b} are never bundled together"))
        if self.exclude_out_of_stock:
            for p in products:
                stock = info.get(p, {}).get("stock")
                if stock is not None and stock <= 0:
                    out.append(("exclude_out_of_stock", f"{p} is out of stock (stock {stock:g})"))
        out += self._category_reasons(products, info)
        out += self._price_reasons(products, row, info)
        return out

    def _category(self, path: str) -> str:
        parts = [x.strip() for x in path.split(">")]
        return " > ".join(parts if self.category_level == 0 else parts[: self.category_level])

    def _category_reasons(self, products: tuple[str, ...],
                          info: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        paths = [info.get(p, {}).get("category_path", "") for p in products]
        cats = [self._category(x) for x in paths]
        if self.category_mode != "any" and all(cats):
            if self.category_mode == "within" and len(set(cats)) > 1:
                out.append(("category_mode",
                            f"products span categories {', '.join(sorted(set(cats)))} (rules: within one category)"))
            elif self.category_mode == "between":
                for i, a in enumerate(products):
                    for j in range(i + 1, len(products)):
                        if cats[i] == cats[j]:
                            out.append(("category_mode", f"{a} and {products[j]} are in the same category {cats[i]}"))
        if self.allowed_category_pairs:
            for i, a in enumerate(products):
                for j in range(i + 1, len(products)):
                    if not any(_matches(paths[i], x, self) and _matches(paths[j], y, self)
                               or _matches(paths[i], y, self) and _matches(paths[j], x, self)
                               for x, y in self.allowed_category_pairs):
                        out.append(("allowed_category_pairs", f"categories of {a} ({cats[i] or 'unknown'}) and "
                                    f"{products[j]} ({cats[j] or 'unknown'}) are not an allowed pair"))
        return out

    def _price_reasons(self, products: tuple[str, ...], row: Mapping[str, Any],
                       info: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        discount = _number(row.get("discount"))
        if self.max_discount is not None and discount is not None and discount > self.max_discount + 1e-9:
            out.append(("max_discount", f"discount {discount:.0%} above the maximum {self.max_discount:.0%}"))
        if self.min_margin_rate is not None:
            costs = [info.get(p, {}).get("cost") for p in products]
            prices = [info.get(p, {}).get("price") for p in products]
            if all(c is not None for c in costs) and all(p is not None for p in prices):
                price = _number(row.get("bundle_price"))
                price = sum(prices) if price is None else price  # type: ignore[arg-type]
                rate = (price - sum(costs)) / price if price > 0 else -math.inf  # type: ignore[arg-type]
                if rate < self.min_margin_rate - 1e-9:
                    out.append(("min_margin_rate", f"margin rate {rate:.0%} below the minimum "
                                                   f"{self.min_margin_rate:.0%}"))
        return out


def _matches(path: str, rule: str, rules: BundleRules) -> bool:
    return bool(path) and (rules._category(path) == rule or path == rule or path.startswith(rule + " >"))


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _catalog_lookup(catalog: pd.DataFrame) -> dict[str, dict[str, Any]]:
    if "product_id" not in catalog.columns:
        raise DataValidationError("the catalog needs a 'product_id' column (see bundlewise.ingest.load_catalog)")
    out: dict[str, dict[str, Any]] = {}
    cols = [c for c in ("category_path", "price", "cost", "stock") if c in catalog.columns]
    for rec in catalog[["product_id", *cols]].to_dict("records"):
        entry: dict[str, Any] = {"category_path": str(rec.get("category_path") or "")}
        for c in ("price", "cost", "stock"):
            entry[c] = _number(rec.get(c))
        out[str(rec["product_id"])] = entry
    return out


def _pairs(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(f"{name} is {value!r}; it must be a list of [a, b] pairs, e.g. [[\"p1\", \"p2\"]]")
    out = []
    for number, item in enumerate(value, start=1):
        if isinstance(item, str) or not isinstance(item, list | tuple) or len(item) != 2:
            raise ConfigError(f"{name} entry {item!r} is not a pair (entry {number} of {len(value)}); write "
                              "[\"a\", \"b\"]")
        out.append((str(item[0]), str(item[1])))
    return tuple(out)


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(f"{name} is {value!r}; it must be a list of product ids, e.g. [\"p1\", \"p2\"]")
    return tuple(str(v) for v in value)


RULE_KEYS = tuple(f.name for f in fields(BundleRules))
