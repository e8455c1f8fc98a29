"""Request and response models of the HTTP API (pydantic), with the examples /docs shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from bundlewise.ingest.fields import EVENT_TYPES

MAX_K = 100
ID = Annotated[str, Field(min_length=1, max_length=200)]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]  # the warehouse's list, so it cannot go stale


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Problem(BaseModel):
    field: str = Field(description="Where: body.events[0].ts, query.k, path.product_id")
    reason: str


class ErrorOut(BaseModel):
    error: str
    problems: list[Problem] = Field(default_factory=list)


# -- complements ------------------------------------------------------------------------------------

class ComplementOut(BaseModel):
    rank: int
    product_id: str
    title: str
    source: str = Field(description="pair model | co-purchase statistics | text similarity")
    score: float | None = Field(description="The ranking score: model logit, stored metric, or cosine")
    probability: float | None = Field(description="Model P(partner | product), or the stored confidence")
    n_together: float = Field(description="Baskets holding both")
    lift: float | None
    q_value: float | None = Field(description="Benjamini-Hochberg q-value of the one-sided Fisher test")
    text_similarity: float | None
    why: str
    attribution: dict[str, float] = Field(default_factory=dict)
    words: list[tuple[str, float]] = Field(default_factory=list)
    price: float | None = None


class ComplementsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "product": "1098066", "title": "HOT DOG BUNS", "source": "co-purchase statistics", "k": 2,
        "partners": [{"rank": 1, "product_id": "1082185", "title": "HAMBURGER BUNS 12 OZ",
                      "source": "co-purchase statistics", "score": 12.91, "probability": 0.21, "n_together": 412,
                      "lift": 13.2, "q_value": 1e-300, "text_similarity": None,
                      "why": "bought together in 412 baskets; P(partner | product) = 0.21; lift 13.2"}],
        "note": None, "artefacts_version": 1}]})

    product: str | None
    title: str
    source: str
    k: int
    partners: list[ComplementOut]
    note: str | None = None
    artefacts_version: int


class TextComplementsIn(_In):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"text": "stainless steel camping mug 350 ml", "k": 5}]})

    text: str = Field(min_length=1, max_length=2000, description="Title (and description) of a product that "
                                                                 "exists only as text")
    k: int = Field(10, ge=1, le=MAX_K)


# -- cart ---------------------------------------------------------------------------------------------

class CartIn(_In):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"items": ["tent", "pegs"], "k": 5}]})

    items: list[ID] = Field(min_length=1, max_length=1000, description="Product ids in the basket")
    k: int = Field(10, ge=1, le=MAX_K)


class CartSuggestion(BaseModel):
    rank: int
    product_id: str
    title: str
    price: float | None
    unit_margin: float | None = Field(description="price - cost (cost unknown: the assumed margin rate)")
    margin_source: str
    probability: float = Field(description="P(added | cart): 1 - prod(1 - P(partner | item)) over the cart")
    expected_margin: float | None = Field(description="probability x unit margin: the ranking")
    because_of: list[str] = Field(description="Cart items that suggest it")
    source: str


class OfferOut(BaseModel):
    bundle_id: str
    products: list[str]
    titles: list[str]
    in_cart: list[str]
    missing: list[str]
    regular_price: float | None
    bundle_price: float | None
    discount: float | None
    saving: float | None
    explanation: str


class CartOut(BaseModel):
    items: list[str]
    unknown_items: list[str]
    recommendations: list[CartSuggestion]
    offers: list[OfferOut]
    artefacts_version: int


# -- bundles and products ----------------------------------------------------------------------------

class BundleOut(BaseModel):
    bundle_id: str
    products: list[str]
    titles: list[str]
    prices: list[float | None]
    regular_price: float | None
    bundle_price: float | None
    discount: float | None
    attach_rate_without: float | None
    attach_rate_with: float | None
    incremental_profit: float | None = Field(description="Expected incremental margin per 1,000 shoppers")
    profit_low: float | None
    profit_high: float | None
    n_ab: float | None
    lift: float | None
    q_value: float | None
    model_score: float | None
    margin_source: str
    explanation: str


class BundlesOut(BaseModel):
    bundles: list[BundleOut]
    plan: dict[str, Any] | None
    note: str | None = None


class ProductOut(BaseModel):
    product_id: str
    title: str
    category: str
    brand: str
    price: float | None
    cost: float | None
    is_product: bool
    n_orders: int = Field(description="Baskets holding it")
    bundles: list[str] = Field(default_factory=list, description="Bundles of the plan that hold it")


class ProductsOut(BaseModel):
    query: str
    products: list[ProductOut]


# -- events ---------------------------------------------------------------------------------------------

class EventIn(_In):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "event_id": "e-2026-0001", "ts": "2026-12-01T10:15:00Z", "event_type": "offer_impression",
        "session_id": "s-17", "customer_id": "c-4", "product_id": "tent", "offer_id": "o-1",
        "bundle_id": "pegs+tent", "value": None, "decision_id": "d-99"}]})

    event_id: ID = Field(description="Unique id: sending it again is a no-op (reported as a duplicate)")
    ts: datetime = Field(description="ISO 8601; a time zone is converted to UTC, none means UTC")
    event_type: EventType  # type: ignore[valid-type]
    session_id: ID | None = None
    customer_id: ID | None = None
    product_id: ID | None = Field(None, description="Must be a product of the warehouse")
    offer_id: ID | None = None
    bundle_id: ID | None = None
    value: float | None = Field(None, allow_inf_nan=False, ge=-1e12, le=1e12)
    decision_id: ID | None = Field(None, description="The offer decision this event follows (POST "
                                                     "/v1/offers/select's decision_id): column events.decision_id, "
                                                     "also kept in properties")
    properties: dict[str, str | int | float | bool | None] | None = Field(
        None, max_length=50, description="Anything else, stored as JSON")

    @field_validator("ts")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        if not 1970 <= v.year <= 2200:
            raise ValueError(f"year {v.year} is outside 1970..2200")
        return v


class EventBatchIn(_In):
    events: list[EventIn] = Field(min_length=1, max_length=100_000, description="At most max_events per request")


def _event_shape(v: Any) -> str:
    return "batch" if isinstance(v, dict) and "events" in v else "single"


EventsBody = Annotated[Annotated[EventBatchIn, Tag("batch")] | Annotated[EventIn, Tag("single")],
                       Discriminator(_event_shape)]


class EventsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"received": 2, "inserted": 1, "duplicates": ["e-2026-0001"], "durable": True}]})

    received: int
    inserted: int
    duplicates: list[str] = Field(description="Event ids already stored (or repeated in the request): no-ops")
    durable: bool = Field(description="Always true: the answer comes after the transaction committed")


# -- service ----------------------------------------------------------------------------------------------

class ReadyOut(BaseModel):
    ready: bool
    versions: dict[str, Any]


class StatsOut(BaseModel):
    artefacts_version: int
    products: int
    real_products: int
    pairs: int
    bundles: int
    events_total: int
    events_by_type: dict[str, int]
    events_by_day: list[dict[str, Any]] = Field(description="[{day, event_type, n}] in day order")
    writer: dict[str, Any]


# -- offers ------------------------------------------------------------------------------------------------

Placement = Literal["product_page", "cart", "home", "email", "ad_slot"]


class OfferContextIn(_In):
    placement: Placement = Field(description="Where the offer shows")
    items: list[ID] = Field(default_factory=list, max_length=1000, description="Product ids in the cart")
    product_id: ID | None = Field(None, description="The product of a product page")
    segment: Annotated[str, Field(min_length=1, max_length=50)] | None = Field(
        None, description="The shopper's segment (the policies learn per placement x segment)")
    ts: datetime | None = Field(None, description="The shop's time of the impression (kept in the context; the "
                                                  "decision's time is the server's clock)")
    session_id: ID | None = Field(None, description="Purchases of this session without a decision_id are "
                                                    "credited to its latest decision")
    customer_id: ID | None = None


class OffersIn(_In):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "context": {"placement": "cart", "items": ["tent"], "segment": "regular", "session_id": "s-17"}, "k": 1}]})

    context: OfferContextIn
    k: int = Field(1, ge=1, le=10, description="Offers wanted; chosen without replacement, each slot's "
                                                 "propensity given the earlier slots")


class OfferChoiceOut(BaseModel):
    decision_id: str = Field(description="Send it with the click / purchase events that follow")
    slot: int
    offer_id: str = Field(description="bundle:<bundle_id>@<discount>, complement:<product_id> or none")
    kind: str = Field(description="bundle | complement | none (show nothing)")
    bundle_id: str | None
    product_id: str | None
    products: list[str]
    titles: list[str]
    discount: float | None
    regular_price: float | None
    price: float | None
    propensity: float = Field(description="Exact probability with which the policy chose this offer (0, 1]")
    policy: str
    policy_version: str
    expected_margin: float | None = Field(description="The policy's current mean margin per impression")
    explanation: str


class OffersOut(BaseModel):
    offers: list[OfferChoiceOut]
    eligible: int = Field(description="Offers the first slot chose among")
    unknown_items: list[str]
    durable: bool = Field(description="True: answered after the decisions were committed; false (offers_durable "
                                      "off): answered once queued to the single writer, first in first out")
    artefacts_version: int


class OfferStatsRow(BaseModel):
    offer_id: str
    kind: str
    impressions: int
    clicks: int
    purchases: int
    ctr: float | None
    conversion: float | None
    closed: int = Field(description="Decisions whose reward window has closed (learned)")
    margin_per_impression: float | None
    margin_low: float | None = Field(description="95 % normal interval of the mean margin")
    margin_high: float | None
    arm_share: float | None
    exploration_share: float | None = Field(description="Share of its impressions that were not the policy's "
                                                        "most probable offer")


class OfferStatsOut(BaseModel):
    policy: str
    policy_version: str
    updates: int
    decisions: int
    pending: int
    restored: int
    reward_window_s: float
    exploration_share: float | None
    offers: list[OfferStatsRow]
