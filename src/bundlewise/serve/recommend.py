"""The answers of the API, computed from one :class:`~bundlewise.serve.artefacts.Artefacts` version.

Plain functions over in-memory objects (no framework, no database): the routes call them, and the
benchmark calls them directly to show what the framework costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bundlewise.errors import BundlewiseError, UnknownProductError
from bundlewise.pairmodel import complements as cmp
from bundlewise.serve.artefacts import Artefacts, Bundle

# the pricing stage's assumption for products without a catalogue cost (PricingConstraints' default)
ASSUMED_MARGIN_RATE = 0.3


class NoArtefactError(BundlewiseError, LookupError):
    """The answer needs an artefact the server has not loaded (HTTP 409: build it, then reload)."""


def _product(art: Artefacts, product_id: str) -> Any:
    p = art.products.get(product_id)
    if p is None:
        raise UnknownProductError(f"product {product_id!r} is not in the warehouse's catalogue of "
                                  f"{len(art.products):,} products; GET /v1/products?q=... finds ids by title")
    return p


def product_complements(art: Artefacts, product_id: str, k: int, exclude: Sequence[str] = (),
                        explain: bool = False) -> tuple[str, list[cmp.Complement], str | None]:
    """(source, partners, note) for a catalogue product, from the model or else the stored statistics."""
    _product(art, product_id)
    titles = art.titles
    model = art.model
    if model is not None and product_id in art.model_ids:
        return cmp.SOURCES[0], cmp.model_complements(model, product_id, k, exclude=exclude, titles=titles,
                                                     explain=explain), None
    if art.pairs is None:
        raise NoArtefactError("neither a pair model nor co-purchase statistics are loaded: run 'bundlewise mine' "
                              "(or 'bundlewise train' and serve --model DIR), then POST /admin/reload")
    if product_id not in art.pairs:
        return cmp.SOURCES[1], [], (f"no stored pair of {product_id!r} reaches the mining run's min_count "
                                    f"({art.pairs.params.get('min_count', '?')})")
    return cmp.SOURCES[1], cmp.stored_complements(art.pairs, product_id, k, exclude=exclude, titles=titles), None


def text_complements(art: Artefacts, text: str, k: int, encoder: Any) -> tuple[str, list[cmp.Complement]]:
    """Cold start for a product that exists only as text (the encoder must match the artefact)."""
    titles = art.titles
    if art.model is not None:
        return cmp.SOURCES[0], cmp.model_text_complements(art.model, text, k, encoder=encoder, titles=titles)
    if art.text_vectors is None:
        raise NoArtefactError("a product known only by its text needs a pair model (serve --model DIR) or the "
                              "catalogue's cached embeddings ('bundlewise embed'); neither is loaded")
    from bundlewise.text import embed_texts

    ids, vectors, _ = art.text_vectors
    return cmp.SOURCES[2], cmp.text_cosine_complements(embed_texts(encoder, [text])[0], ids, vectors, k, titles)


def encoder_name(art: Artefacts) -> str | None:
    """Which ProductEncoder cold start needs: the model's, else that of the cached vectors."""
    model_id = (art.model_info or {}).get("encoder_id") if art.model is not None else \
        (art.text_vectors[2] if art.text_vectors is not None else None)
    if art.model is None and model_id is None:
        return None
    return "multilingual-e5-small" if "e5" in str(model_id or "").lower() else "minilm"


def unit_margin(product: Any) -> tuple[float | None, str]:
    if product.price is None:
        return None, "unknown"
    if product.cost is not None:
        return product.price - product.cost, "cost"
    return product.price * ASSUMED_MARGIN_RATE, "assumed"


def cart_recommendations(art: Artefacts, items: Sequence[str], k: int, per_item: int = 20) -> dict[str, Any]:
    """What completes this basket: partners ranked by expected margin, and the plan's offers that apply.

    A partner's probability of joining the cart is 1 - prod(1 - P(partner | item)) over the cart's
    items that suggest it (each item's model probability or stored confidence); its expected margin
    is that probability times its unit margin (price - cost, or the assumed margin rate).
    """
    cart = list(dict.fromkeys(items))
    known = [p for p in cart if p in art.products]
    unknown = [p for p in cart if p not in art.products]
    in_cart = set(cart)
    miss: dict[str, float] = {}      # partner -> prod(1 - p)
    because: dict[str, list[str]] = {}
    source: dict[str, str] = {}
    for item in known:
        try:
            src, partners, _ = product_complements(art, item, per_item, exclude=cart)
        except NoArtefactError:
            if art.bundles:
                break  # offers can still be answered
            raise
        for c in partners:
            prob = min(max(float(c.probability or 0.0), 0.0), 1.0)
            miss[c.product_id] = miss.get(c.product_id, 1.0) * (1.0 - prob)
            because.setdefault(c.product_id, []).append(item)
            source[c.product_id] = src
    rows = []
    for pid, m in miss.items():
        p = art.products.get(pid)
        if p is None or pid in in_cart:
            continue
        margin, margin_source = unit_margin(p)
        prob = 1.0 - m
        rows.append({"product_id": pid, "title": p.title, "price": p.price, "unit_margin": margin,
                     "margin_source": margin_source, "probability": prob,
                     "expected_margin": None if margin is None else prob * margin, "because_of": because[pid],
                     "source": source[pid]})
    rows.sort(key=lambda r: (-(r["expected_margin"] if r["expected_margin"] is not None else -1e300),
                             -r["probability"], r["product_id"]))
    for rank, r in enumerate(rows[:k], start=1):
        r["rank"] = rank
    offers = [offer(art, b, in_cart) for b in art.bundles.values() if in_cart & set(b.products)]
    offers.sort(key=lambda o: (len(o["missing"]) == 0, -(o["_profit"] or 0.0), o["bundle_id"]))
    for o in offers:
        del o["_profit"]
    return {"items": cart, "unknown_items": unknown, "recommendations": rows[:k], "offers": offers,
            "artefacts_version": art.version}


def offer(art: Artefacts, b: Bundle, in_cart: set[str]) -> dict[str, Any]:
    regular, price = b.numbers.get("regular_price"), b.numbers.get("bundle_price")
    return {"bundle_id": b.bundle_id, "products": list(b.products), "titles": list(b.titles),
            "in_cart": [p for p in b.products if p in in_cart], "missing": [p for p in b.products if p not in in_cart],
            "regular_price": regular, "bundle_price": price, "discount": b.numbers.get("discount"),
            "saving": None if regular is None or price is None else round(regular - price, 2),
            "explanation": b.explanation, "_profit": b.numbers.get("incremental_profit")}


def bundle_out(art: Artefacts, b: Bundle) -> dict[str, Any]:
    return {"bundle_id": b.bundle_id, "products": list(b.products), "titles": list(b.titles),
            "prices": [art.products[p].price if p in art.products else None for p in b.products],
            **{k: b.numbers.get(k) for k in ("regular_price", "bundle_price", "discount", "attach_rate_without",
                                             "attach_rate_with", "incremental_profit", "profit_low", "profit_high",
                                             "n_ab", "lift", "q_value", "model_score")},
            "margin_source": b.margin_source, "explanation": b.explanation}


def product_out(art: Artefacts, product_id: str) -> dict[str, Any]:
    p = _product(art, product_id)
    return {"product_id": p.product_id, "title": p.title, "category": p.category, "brand": p.brand,
            "price": p.price, "cost": p.cost, "is_product": p.is_product, "n_orders": p.n_orders,
            "bundles": [b.bundle_id for b in art.bundles.values() if p.product_id in b.products]}
