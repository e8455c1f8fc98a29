"""Canonical fields of each input kind: name, type, whether required, what it means.

The validation SQL, the column-mapping checks and the help text are all built from
these tables, so the "allowed" lists in messages cannot go stale.
"""

from __future__ import annotations

from dataclasses import dataclass

ID, TEXT, NUMBER, TIMESTAMP, BOOL = "id", "text", "number", "timestamp", "bool"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    help: str = ""
    joiner: str = " "  # how several source columns join for text fields ("a+b")


ORDER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("order_id", ID, True, "invoice / basket / order number"),
    FieldSpec("product_id", ID, True, "SKU / stock code / item"),
    FieldSpec("quantity", NUMBER, False, "units on the line (default 1); negative = returned"),
    FieldSpec("unit_price", NUMBER, False, "price paid per unit"),
    FieldSpec("line_total", NUMBER, False, "amount paid for the line (unit_price = line_total / quantity)"),
    FieldSpec("discount", NUMBER, False, "discount amount on the line (>= 0)"),
    FieldSpec("ordered_at", TIMESTAMP, False, "order timestamp"),
    FieldSpec("customer_id", ID, False, "customer / household / user"),
    FieldSpec("store_id", ID, False, "store or channel"),
    FieldSpec("segment", TEXT, False, "country / region / customer group"),
    FieldSpec("title", TEXT, False, "product description on the line (used when no catalog exists)"),
    FieldSpec("category_path", TEXT, False, "product category on the line", joiner=" > "),
)

PRODUCT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("product_id", ID, True, "SKU / stock code"),
    FieldSpec("title", TEXT, False, "product name"),
    FieldSpec("description", TEXT, False, "longer product text"),
    FieldSpec("category_path", TEXT, False, "category, coarse to fine (a > b > c)", joiner=" > "),
    FieldSpec("brand", TEXT, False, "brand / manufacturer"),
    FieldSpec("price", NUMBER, False, "list price (>= 0)"),
    FieldSpec("cost", NUMBER, False, "unit cost (>= 0)"),
    FieldSpec("stock", NUMBER, False, "units in stock"),
    FieldSpec("is_product", BOOL, False, "false for fees, postage and adjustments"),
)

EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "offer_impression",
    "offer_click",
    "offer_accept",
    "offer_dismiss",
    "search",
)

EVENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("event_id", ID, False, "unique event id (default: a hash of the row)"),
    FieldSpec("ts", TIMESTAMP, True, "event timestamp"),
    FieldSpec("event_type", TEXT, True, "one of " + ", ".join(EVENT_TYPES)),
    FieldSpec("session_id", ID, False, "session"),
    FieldSpec("customer_id", ID, False, "customer"),
    FieldSpec("product_id", ID, False, "product (must exist in the warehouse)"),
    FieldSpec("offer_id", ID, False, "offer shown or acted on"),
    FieldSpec("bundle_id", ID, False, "bundle shown or acted on"),
    FieldSpec("value", NUMBER, False, "revenue or other numeric value"),
)

FIELDS_BY_KIND: dict[str, tuple[FieldSpec, ...]] = {
    "orders": ORDER_FIELDS,
    "products": PRODUCT_FIELDS,
    "events": EVENT_FIELDS,
}


def field_names(kind: str) -> list[str]:
    return [f.name for f in FIELDS_BY_KIND[kind]]
