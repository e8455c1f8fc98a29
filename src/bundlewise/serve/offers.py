"""Offers served: which offers a request may get, the policy's choice and the decision rows to log.

A request's **eligible offers** are, in this order: ``none`` (show nothing), the plan's bundles at
each discount level (the plan's own discount, plus ``offers_discounts``) that the business rules
keep (stock, margin floor, never-together, excluded products, max discount; :class:`~bundlewise.
bundles.BundleRules`) — those holding a product of the context, or every bundle when none does —
and up to ``offers_complements`` complements of the context's products (the cart endpoint's
ranking by expected margin, :func:`bundlewise.serve.recommend.cart_recommendations`), the same
rules applied to the complement.

The policy (:mod:`bundlewise.offers`) chooses one offer and says with which probability. With
``k > 1`` offers are chosen **without replacement**: slot ``j`` is a fresh choice among the offers
not chosen in slots ``< j``, so the propensity logged for slot ``j`` is exactly
``P(offer at slot j | context, offers of the earlier slots)``; choosing ``none`` ends the list.
Each slot is one decision (one ``decision_id``, one row of ``offer_decisions``). Propensities are
exact for ``epsilon-greedy`` and ``softmax``; ``thompson`` and ``linear-thompson`` log the policy's
Monte-Carlo estimate (256 independent posterior draws, clipped at 1e-3), as :mod:`bundlewise.offers`
documents.

Offer ids: ``bundle:<bundle_id>@<discount, 2 decimals>``, ``complement:<product_id>``, ``none``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bundlewise.serve import recommend as rec
from bundlewise.serve.artefacts import Artefacts
from bundlewise.serve.settings import ServeSettings

log = logging.getLogger(__name__)

# the settings' names -> bundlewise.offers.make_policy's
POLICY_NAMES = {"epsilon-greedy": "epsilon_greedy", "softmax": "softmax", "thompson": "thompson",
                "linear-thompson": "linear_thompson"}
_ELIGIBLE_CACHE = 4096  # distinct carts whose eligible lists are kept (per artefact version)


@dataclass(frozen=True)
class Offer:
    """One arm: what the shopper is shown."""

    offer_id: str
    kind: str                       # bundle | complement | none
    bundle_id: str | None = None
    product_id: str | None = None   # the complement
    products: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    discount: float | None = None   # share off (bundles)
    regular_price: float | None = None
    price: float | None = None      # what the shopper pays for the offered items
    unit_margin: float | None = None  # price - cost of the offered items (cost unknown: assumed rate)

    def describe(self) -> str:
        if self.kind == "none":
            return "no offer"
        name = " + ".join(self.titles) or " + ".join(self.products)
        if self.kind == "bundle":
            money = "" if self.price is None or self.regular_price is None else \
                f": {self.price:,.2f} instead of {self.regular_price:,.2f}"
            return f"{self.discount:.0%} off {name}{money}"
        return f"complement {name}" + ("" if self.price is None else f" at {self.price:,.2f}")


NONE = Offer("none", "none")


def bundle_offer_id(bundle_id: str, discount: float) -> str:
    """The contract's id of a bundle at a discount level.

    Examples
    --------
    >>> bundle_offer_id("pegs+tent", 0.1)
    'bundle:pegs+tent@0.10'
    """
    return f"bundle:{bundle_id}@{discount:.2f}"


def make_policy(settings: ServeSettings) -> Any:
    """The configured policy of :mod:`bundlewise.offers`."""
    from bundlewise.offers import make_policy as make

    name = POLICY_NAMES[settings.offers_policy]
    params: dict[str, Any] = {"exploration_cap": settings.exploration_caps(), "random_state": settings.offers_seed}
    if name == "epsilon_greedy":
        params["epsilon"] = settings.offers_epsilon
    elif name == "softmax":
        params["temperature"] = settings.offers_temperature
    return make(name, **params)


def policy_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """What the policy sees of a request's context (the same function of the stored JSON on replay).

    Examples
    --------
    >>> policy_context({"placement": "cart", "items": ["tent", "pegs"], "product_id": "tent", "segment": "vip"})
    {'placement': 'cart', 'segment': 'vip', 'cart_items': ('tent', 'pegs')}
    """
    items = list(context.get("items") or ())
    if context.get("product_id"):
        items.append(context["product_id"])
    return {"placement": context.get("placement"), "segment": context.get("segment"),
            "cart_items": tuple(dict.fromkeys(items))}


class Catalog:
    """The offers of one artefact version: the plan's bundle offers the rules keep, and the rules."""

    def __init__(self, art: Artefacts, settings: ServeSettings):
        from bundlewise.bundles.business_rules import BundleRules

        self.version = art.version
        self.settings = settings
        self.rules = BundleRules.from_file(settings.offers_rules) if settings.offers_rules else BundleRules()
        self.bundles: dict[str, Offer] = {}
        self.rejected: dict[str, str] = {}
        self._by_product: dict[str, list[str]] = {}
        self._cache: dict[tuple[str, ...], tuple[Offer, ...]] = {}
        self._build(art)

    def _build(self, art: Artefacts) -> None:
        import pandas as pd

        offers = []
        for b in art.bundles.values():
            prices = [art.products[p].price if p in art.products else None for p in b.products]
            costs = [art.products[p].cost if p in art.products else None for p in b.products]
            regular = b.numbers.get("regular_price")
            if regular is None and all(p is not None for p in prices):
                regular = float(sum(prices))  # type: ignore[arg-type]
            levels = set(self.settings.offers_discounts)
            if b.numbers.get("discount") is not None:
                levels.add(round(float(b.numbers["discount"]), 2))  # type: ignore[arg-type]
            for d in sorted(levels):
                price = None if regular is None else round(regular * (1.0 - d), 2)
                cost = float(sum(costs)) if all(c is not None for c in costs) else \
                    (None if regular is None else regular * (1.0 - rec.ASSUMED_MARGIN_RATE))  # type: ignore[arg-type]
                offers.append(Offer(bundle_offer_id(b.bundle_id, d), "bundle", b.bundle_id, None, b.products,
                                    b.titles, d, regular, price,
                                    None if price is None or cost is None else price - cost))
        if not offers:
            return
        catalog = pd.DataFrame([{"product_id": p.product_id, "category_path": p.category, "price": p.price,
                                 "cost": p.cost, "stock": p.stock} for p in art.products.values()])
        candidates = pd.DataFrame({"offer_id": [o.offer_id for o in offers], "products": [o.products for o in offers],
                                   "bundle_price": [o.price for o in offers], "discount": [o.discount for o in offers]})
        kept, rejected = self.rules.apply(candidates, catalog)
        self.rejected = dict(zip(rejected["offer_id"], rejected["reason"], strict=True))
        keep = set(kept["offer_id"])
        for o in offers:
            if o.offer_id in keep:
                self.bundles[o.offer_id] = o
                for p in o.products:
                    self._by_product.setdefault(p, []).append(o.offer_id)
        log.info("offers: %d bundle offers eligible, %d refused by the business rules", len(self.bundles),
                 len(self.rejected))

    def _complement_ok(self, art: Artefacts, pid: str, items: Sequence[str]) -> bool:
        r = self.rules
        p = art.products.get(pid)
        if p is None or pid in r.exclude_products or (r.exclude_out_of_stock and p.stock is not None and p.stock <= 0):
            return False
        never = {frozenset(x) for x in r.never_together}
        if any(frozenset((pid, i)) in never for i in items):
            return False
        if r.min_margin_rate is not None and p.price and p.cost is not None:
            return (p.price - p.cost) / p.price >= r.min_margin_rate - 1e-9
        return True

    def eligible(self, art: Artefacts, items: Sequence[str]) -> tuple[Offer, ...]:
        """``none``, the bundle offers, the complements of ``items`` (known products, deduplicated)."""
        key = tuple(items)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        related = sorted({o for i in items for o in self._by_product.get(i, ())})
        out = [NONE] + [self.bundles[o] for o in (related or sorted(self.bundles))]
        n = self.settings.offers_complements
        if items and n:
            try:
                recs = rec.cart_recommendations(art, items, n + 10)["recommendations"]
            except rec.NoArtefactError:
                recs = []
            added = 0
            for r in recs:
                if added >= n:
                    break
                pid = r["product_id"]
                if self._complement_ok(art, pid, items):
                    added += 1
                    p = art.products[pid]
                    out.append(Offer(f"complement:{pid}", "complement", None, pid, (pid,), (p.title,), None,
                                     p.price, p.price, r["unit_margin"]))
        result = tuple(out)
        if len(self._cache) >= _ELIGIBLE_CACHE:
            self._cache.clear()
        self._cache[key] = result
        return result


def now_utc() -> datetime:
    """The decision clock: naive UTC, as the warehouse stores every timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


def choose(policy: Any, catalog: Catalog, art: Artefacts, context: dict[str, Any], k: int, policy_name: str,
           estimate: Any, ts: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    """Up to ``k`` offers for ``context`` (the request's context as received, JSON-ready).

    Returns ``(answers, rows, decisions)``: the offers as the API answers them, the
    ``offer_decisions`` rows to commit, and the policy's :class:`~bundlewise.offers.Decision` objects.
    ``estimate(offer_id, pctx)`` gives the policy's current mean margin and its count of rewards.
    """
    pctx = policy_context(context)
    items = [p for p in pctx["cart_items"] if p in art.products]
    remaining = list(catalog.eligible(art, items))
    answers, rows, decisions = [], [], []
    for slot in range(k):
        if not remaining:
            break
        ids = [o.offer_id for o in remaining]
        d = policy.select(pctx, ids)
        chosen = next(o for o in remaining if o.offer_id == d.offer_id)
        probs = [float(d.probabilities[i]) for i in ids]
        mean, n_obs = estimate(d.offer_id, pctx)
        decision_id = uuid.uuid4().hex
        why = d.explanation.split(";")[0]
        text = (f"{chosen.describe()}; {why} with P = {d.propensity:.3f} among {len(ids)} eligible offers"
                + (f" (slot {slot}, given the earlier slots)" if slot else "")
                + f"; estimated margin {mean:.2f} per impression from {n_obs} closed decisions")
        if chosen.unit_margin is not None and chosen.kind != "none":
            text += f"; margin {chosen.unit_margin:,.2f} if bought"
        answers.append({"decision_id": decision_id, "slot": slot, "offer_id": chosen.offer_id, "kind": chosen.kind,
                        "bundle_id": chosen.bundle_id, "product_id": chosen.product_id,
                        "products": list(chosen.products), "titles": list(chosen.titles),
                        "discount": chosen.discount, "regular_price": chosen.regular_price, "price": chosen.price,
                        "propensity": d.propensity, "policy": policy_name, "policy_version": d.policy_version,
                        "expected_margin": mean, "explanation": text})
        rows.append({"decision_id": decision_id, "ts": ts, "placement": context["placement"],
                     "session_id": context.get("session_id"), "customer_id": context.get("customer_id"),
                     "context": context, "offer_id": chosen.offer_id, "offer_kind": chosen.kind,
                     "bundle_id": chosen.bundle_id, "product_id": chosen.product_id, "discount": chosen.discount,
                     "propensity": float(d.propensity), "eligible": ids, "probabilities": probs,
                     "policy": policy_name, "policy_version": d.policy_version, "slot": slot,
                     "expected_margin": mean})
        decisions.append(d)
        if chosen.kind == "none":
            break
        remaining = [o for o in remaining if o.offer_id != chosen.offer_id]
    return answers, rows, decisions
