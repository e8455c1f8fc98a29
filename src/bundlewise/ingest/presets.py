"""Named presets: column mappings and options for well-known public exports.

A preset only fills what the user did not set (see :mod:`bundlewise.config`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError, SourceFileError, allowed
from bundlewise.ingest.fields import FIELDS_BY_KIND, FieldSpec


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str
    description: str
    mapping: dict[str, str] = field(default_factory=dict)
    file_format: str = "auto"
    cancel_prefix: str | None = None
    non_product_codes: tuple[str, ...] = ()
    timestamp_format: str | None = None
    # Canonical id fields whose values look like '17850.0' (a float written by pandas) -> '17850'.
    strip_float_suffix: tuple[str, ...] = ()
    # Catalog rows whose category path matches one of these globs are not products (fuel, coupons).
    non_product_categories: tuple[str, ...] = ()
    # strptime layouts tried when a timestamp is not ISO 8601 (and no --timestamp-format is given).
    timestamp_fallbacks: tuple[str, ...] = ()


# Online Retail's non-product stock codes (read off the file: postage, carriage, manual
# adjustments, discounts, samples, bank charges, marketplace fees, charity commission,
# bad-debt adjustments and gift vouchers).
ONLINE_RETAIL_NON_PRODUCTS = (
    "POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "gift_0001_*",
)

PRESETS: dict[tuple[str, str], Preset] = {
    (p.name, p.kind): p
    for p in (
        Preset(
            "online-retail", "orders",
            "UCI Online Retail export (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, "
            "CustomerID, Country)",
            mapping={
                "order_id": "InvoiceNo", "product_id": "StockCode", "title": "Description",
                "quantity": "Quantity", "ordered_at": "InvoiceDate", "unit_price": "UnitPrice",
                "customer_id": "CustomerID", "segment": "Country",
            },
            cancel_prefix="C",
            non_product_codes=ONLINE_RETAIL_NON_PRODUCTS,
            strip_float_suffix=("customer_id",),
            # the UCI spreadsheet saved as CSV writes 12/1/2010 8:26
            timestamp_fallbacks=("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"),
        ),
        Preset(
            "instacart", "orders",
            "Instacart order_products (order_id, user_id, product_id, ...); one unit per line, no timestamps",
            mapping={"order_id": "order_id", "product_id": "product_id", "customer_id": "user_id"},
        ),
        Preset(
            "instacart", "products",
            "Instacart products.csv (product_id, product_name, aisle_id, department_id)",
            mapping={"product_id": "product_id", "title": "product_name"},
        ),
        Preset(
            "complete-journey", "orders",
            "84.51 The Complete Journey transactions (basket_id, household_id, store_id, product_id, quantity, "
            "sales_value, discounts, transaction_timestamp)",
            mapping={
                "order_id": "basket_id", "product_id": "product_id", "customer_id": "household_id",
                "store_id": "store_id", "quantity": "quantity", "line_total": "sales_value",
                "discount": "retail_disc+coupon_disc+coupon_match_disc",
                "ordered_at": "transaction_timestamp",
            },
        ),
        Preset(
            "complete-journey", "products",
            "84.51 The Complete Journey products (department, brand, product_category, product_type, "
            "package_size)",
            mapping={
                "product_id": "product_id", "title": "product_type+package_size",
                "category_path": "department+product_category+product_type", "brand": "brand",
            },
            # fuel, coupons, donations and "misc sales transactions" are sold but are not bundle material
            non_product_categories=("FUEL > *", "COUPON > *", "* > COUPON/MISC ITEMS > *", "* > COUPON > *",
                                    "KIOSK-GAS > *"),
        ),
        Preset(
            "groceries", "orders",
            "one basket per line, items separated by commas (arules Groceries, groceries.csv)",
            mapping={"order_id": "basket", "product_id": "item", "title": "item"},
            file_format="baskets",
        ),
    )
}


def preset_names() -> list[str]:
    return sorted({name for name, _ in PRESETS})


@dataclass(frozen=True)
class ResolvedIngest:
    """An :class:`IngestConfig` with the preset applied and every option decided."""

    cfg: IngestConfig
    preset: Preset | None
    mapping: dict[str, str]  # canonical field -> source expression (may hold '+')
    file_format: str
    cancel_prefix: str | None
    non_product_codes: tuple[str, ...]
    timestamp_format: str | None
    drop_duplicate_lines: bool
    strip_float_suffix: tuple[str, ...]
    non_product_categories: tuple[str, ...] = ()
    timestamp_fallbacks: tuple[str, ...] = ()

    def is_non_product(self, product_id: str) -> bool:
        return any(fnmatch.fnmatchcase(product_id, pattern) for pattern in self.non_product_codes)


def get_preset(name: str, kind: str) -> Preset:
    try:
        return PRESETS[(name, kind)]
    except KeyError:
        kinds = sorted(k for n, k in PRESETS if n == name)
        if kinds:
            raise ConfigError(
                f"preset {name!r} has no {kind!r} mapping; it covers {allowed(kinds)}"
            ) from None
        raise ConfigError(f"unknown preset {name!r}; allowed presets are {allowed(preset_names())}") from None


def resolve(cfg: IngestConfig) -> ResolvedIngest:
    """Apply the preset under the user's options (CLI > preset > defaults)."""
    preset = get_preset(cfg.preset, cfg.kind) if cfg.preset else None
    specs = {f.name: f for f in FIELDS_BY_KIND[cfg.kind]}
    unknown = sorted(set(cfg.mapping) - set(specs))
    if unknown:
        raise ConfigError(
            f"--map names unknown {cfg.kind} field(s) {allowed(unknown)}; allowed fields are {allowed(list(specs))}"
        )
    mapping = {**(preset.mapping if preset else {}), **cfg.mapping}
    file_format = cfg.file_format if cfg.file_format != "auto" else (preset.file_format if preset else "auto")
    return ResolvedIngest(
        cfg=cfg,
        preset=preset,
        mapping=mapping,
        file_format=file_format,
        cancel_prefix=cfg.cancel_prefix if cfg.cancel_prefix is not None else (preset and preset.cancel_prefix),
        non_product_codes=cfg.non_product_codes if cfg.non_product_codes is not None
        else (preset.non_product_codes if preset else ()),
        timestamp_format=cfg.timestamp_format or (preset.timestamp_format if preset else None),
        drop_duplicate_lines=bool(cfg.drop_duplicate_lines),
        strip_float_suffix=preset.strip_float_suffix if preset else (),
        non_product_categories=preset.non_product_categories if preset else (),
        timestamp_fallbacks=preset.timestamp_fallbacks if preset and not cfg.timestamp_format else (),
    )


def bind_columns(resolved: ResolvedIngest, columns: list[str], source: str) -> dict[str, list[str]]:
    """Decide which source column(s) feed each canonical field.

    Explicit mappings must name existing columns; unmapped fields fall back to a column
    with the same name (case-insensitive). Missing required fields are an error that
    lists the columns found and how to map them.
    """
    specs: dict[str, FieldSpec] = {f.name: f for f in FIELDS_BY_KIND[resolved.cfg.kind]}
    by_lower = {c.lower(): c for c in columns}
    bound: dict[str, list[str]] = {}
    for name, spec in specs.items():
        expr = resolved.mapping.get(name)
        if expr is not None:
            parts = [p.strip() for p in expr.split("+")]
            missing = [p for p in parts if p not in columns]
            if missing:
                origin = f"preset {resolved.preset.name!r}" if resolved.preset and name not in resolved.cfg.mapping \
                    else "--map"
                raise SourceFileError(
                    f"{source}: has no column {missing[0]!r} (mapped to {name} by {origin}); columns found: "
                    f"{allowed(columns)}; fix it with --map {name}=COLUMN"
                )
            bound[name] = parts
        elif name in by_lower:
            bound[name] = [by_lower[name]]
        elif spec.required:
            raise SourceFileError(
                f"{source}: required field {name!r} ({spec.help}) has no column; columns found: "
                f"{allowed(columns)}; map one with --map {name}=COLUMN or use a --preset"
            )
    return bound
