"""The routes: a few lines each, calling :mod:`bundlewise.serve.recommend` on the current artefacts."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from bundlewise.serve import recommend as rec
from bundlewise.serve.events import QueueFullError, WriterStoppedError
from bundlewise.serve.schemas import (
    MAX_K,
    BundleOut,
    BundlesOut,
    CartIn,
    CartOut,
    ComplementsOut,
    ErrorOut,
    EventBatchIn,
    EventsBody,
    EventsOut,
    OffersIn,
    OffersOut,
    OfferStatsOut,
    ProductOut,
    ProductsOut,
    ReadyOut,
    StatsOut,
    TextComplementsIn,
)

log = logging.getLogger(__name__)
ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorOut} for c in (401, 404, 409, 413, 422, 503)}
ProductId = Annotated[str, Path(min_length=1, max_length=200, description="A product id of the warehouse")]


def _problem(loc: tuple[str | int, ...], reason: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": reason, "type": "value_error"}])


def service_router(service: Any) -> APIRouter:
    r = APIRouter(tags=["service"])

    @r.get("/health", summary="Alive (the process answers)")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    @r.get("/ready", response_model=ReadyOut, summary="Artefacts loaded, with their versions",
           responses={503: {"model": ErrorOut}})
    async def ready() -> dict[str, Any]:
        art = service.current()
        return {"ready": True, "versions": {**art.versions(), "events_writer": service.writer is not None}}

    return r


def api_router(service: Any) -> APIRouter:
    s = service.settings

    async def reads(request: Request) -> None:
        if s.keyed_reads:
            from bundlewise.serve.auth import check_key

            check_key(request, s)

    async def writes(request: Request) -> None:
        from bundlewise.serve.auth import check_key

        check_key(request, s)

    r = APIRouter(prefix="/v1", responses=ERRORS)
    ro = APIRouter(dependencies=[Depends(reads)])

    @ro.get("/products/{product_id}/complements", response_model=ComplementsOut, tags=["complements"],
            summary="Best partners of a product, with their evidence")
    async def complements(product_id: ProductId, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
                          exclude: Annotated[list[str], Query(max_length=MAX_K, description="Partners to leave "
                                                                  "out (repeat, or comma-separated)")] = [],  # noqa: B006
                          explain: Annotated[bool, Query(description="Model attributions (slower)")] = False,
                          ) -> dict[str, Any]:
        art = service.current()
        drop = [x.strip() for e in exclude for x in e.split(",") if x.strip()]
        if explain and art.model is not None:  # integrated gradients: off the event loop
            source, partners, note = await asyncio.to_thread(rec.product_complements, art, product_id, k, drop, True)
        else:
            source, partners, note = rec.product_complements(art, product_id, k, drop)
        return {"product": product_id, "title": art.titles.get(product_id, ""), "source": source, "k": k,
                "partners": [_with_price(art, c.to_dict()) for c in partners], "note": note,
                "artefacts_version": art.version}

    @ro.post("/complements", response_model=ComplementsOut, tags=["complements"],
             summary="Cold start: partners of a product that exists only as text")
    async def text_complements(body: TextComplementsIn) -> dict[str, Any]:
        art = service.current()
        name = rec.encoder_name(art)
        if name is None:
            rec.text_complements(art, body.text, body.k, None)  # raises the clear 409
        encoder = await service.encoder(name)
        source, partners = await asyncio.to_thread(rec.text_complements, art, body.text, body.k, encoder)
        return {"product": None, "title": body.text, "source": source, "k": body.k,
                "partners": [_with_price(art, c.to_dict()) for c in partners], "note": None,
                "artefacts_version": art.version}

    @ro.post("/cart/recommendations", response_model=CartOut, tags=["cart"],
             summary="What completes this basket: partners by expected margin, and the bundle offers that apply")
    async def cart(body: CartIn) -> dict[str, Any]:
        if len(body.items) > s.max_items:
            raise _problem(("body", "items"), f"{len(body.items)} items; at most {s.max_items} per request")
        return rec.cart_recommendations(service.current(), body.items, body.k)

    @ro.get("/bundles", response_model=BundlesOut, tags=["bundles"], summary="The current priced bundle plan")
    async def bundles() -> dict[str, Any]:
        art = service.current()
        note = None if art.plan_info else ("no bundle plan loaded: write one with 'bundlewise bundles --output "
                                           "plan.json' and serve --plan plan.json")
        return {"bundles": [rec.bundle_out(art, b) for b in art.bundles.values()], "plan": art.plan_info,
                "note": note}

    @ro.get("/bundles/{bundle_id}", response_model=BundleOut, tags=["bundles"], summary="One bundle of the plan")
    async def bundle(bundle_id: Annotated[str, Path(min_length=1, max_length=700)]) -> dict[str, Any]:
        art = service.current()
        b = art.bundles.get(bundle_id)
        if b is None:
            raise HTTPException(404, f"bundle {bundle_id!r} is not in the plan ({len(art.bundles)} bundles); "
                                     "GET /v1/bundles lists them")
        return rec.bundle_out(art, b)

    @ro.get("/products", response_model=ProductsOut, tags=["products"], summary="Find products by id or title")
    async def search(q: Annotated[str, Query(min_length=1, max_length=200)],
                     limit: Annotated[int, Query(ge=1, le=MAX_K)] = 20) -> dict[str, Any]:
        art = service.current()
        return {"query": q, "products": [rec.product_out(art, p.product_id) for p in art.search(q, limit)]}

    @ro.get("/products/{product_id}", response_model=ProductOut, tags=["products"], summary="One product")
    async def product(product_id: ProductId) -> dict[str, Any]:
        return rec.product_out(service.current(), product_id)

    @ro.get("/stats", response_model=StatsOut, tags=["service"], summary="Counts for the console")
    async def stats() -> dict[str, Any]:
        art = service.current()
        w = service.writer
        counts = dict(w.stats.counts) if w is not None else {(d, t): n for d, t, n in art.event_counts}
        by_type: dict[str, int] = {}
        for (_, t), n in counts.items():
            by_type[t] = by_type.get(t, 0) + n
        writer = {"enabled": w is not None}
        if w is not None:
            st = w.stats
            writer.update({"queued": w.queue.qsize(), "queue_size": w.queue.maxsize, "batches": st.batches,
                           "inserted": st.inserted, "duplicates": st.duplicates, "refused_full": st.refused_full,
                           "failed_batches": st.failed_batches, "decisions": st.decisions,
                           "last_commit": st.last_commit,
                           "last_batch_ms": st.last_batch_ms})
        return {"artefacts_version": art.version, "products": len(art.products),
                "real_products": sum(p.is_product for p in art.products.values()),
                "pairs": 0 if art.pairs is None else art.pairs.n_pairs, "bundles": len(art.bundles),
                "events_total": sum(counts.values()), "events_by_type": dict(sorted(by_type.items())),
                "events_by_day": [{"day": d, "event_type": t, "n": n} for (d, t), n in sorted(counts.items())],
                "writer": writer}

    r.include_router(ro)

    @r.post("/events", response_model=EventsOut, tags=["events"], dependencies=[Depends(writes)],
            status_code=201, summary="Store one event or a batch; answered once committed",
            responses={200: {"model": EventsOut, "description": "Every event was already stored (no-op)"},
                       503: {"model": ErrorOut, "description": "Queue full (Retry-After) or read-only server"}})
    async def events(body: Annotated[EventsBody, Body()], response: Response) -> dict[str, Any]:
        items = body.events if isinstance(body, EventBatchIn) else [body]
        if len(items) > s.max_events:
            raise _problem(("body", "events"), f"{len(items)} events; at most {s.max_events} per request")
        art = service.current()
        for i, e in enumerate(items):
            if e.product_id is not None and e.product_id not in art.products:
                where: tuple[str | int, ...] = ("body", "events", i) if isinstance(body, EventBatchIn) else ("body",)
                raise _problem((*where, "product_id"),
                               f"unknown product {e.product_id!r}: not in the warehouse's products")
        if service.writer is None:
            raise HTTPException(503, "this server is read-only (--no-events): send events to the server that "
                                     "holds the warehouse for writing")
        rows = []
        for e in items:
            row = e.model_dump(exclude={"properties"})  # decision_id: its column (schema v5)
            props = dict(e.properties or {})
            if e.decision_id is not None:
                props["decision_id"] = e.decision_id  # and in properties, as before v5
            row["properties"] = props or None
            rows.append(row)
        try:
            result = await service.writer.submit(rows)
        except QueueFullError as exc:
            raise HTTPException(503, f"{exc}; retry after a second", headers={"Retry-After": "1"}) from None
        except WriterStoppedError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "2"}) from None
        response.status_code = 201 if result.inserted else 200
        return {"received": result.received, "inserted": result.inserted, "duplicates": result.duplicates,
                "durable": True}

    return r


def offers_router(service: Any) -> APIRouter:
    """``POST /v1/offers/select`` and ``GET /v1/offers/stats``.

    Auth: like the other reads (open unless ``keyed_reads``). A shop calls select from its pages,
    where no secret can live; what it writes is bounded by the validated context (one decision row
    per slot, server-made ids and propensities). The click and purchase events that teach the policy
    go through ``POST /v1/events``, which needs the key: an anonymous caller can add impressions but
    cannot fake rewards.
    """
    s = service.settings

    async def reads(request: Request) -> None:
        if s.keyed_reads:
            from bundlewise.serve.auth import check_key

            check_key(request, s)

    r = APIRouter(prefix="/v1/offers", responses=ERRORS, dependencies=[Depends(reads)], tags=["offers"])

    def learner() -> Any:
        if service.offers is None:
            raise HTTPException(503, "offers need the events writer (their decisions are logged): this server is "
                                     "read-only (--no-events); ask the server that holds the warehouse for writing")
        return service.offers

    @r.post("/select", response_model=OffersOut, summary="The offers to show, each with its decision id and the "
                                                          "exact propensity of the choice (logged before the answer)")
    async def select(body: OffersIn) -> dict[str, Any]:
        art = service.current()
        ctx = body.context
        if len(ctx.items) > s.max_items:
            raise _problem(("body", "context", "items"), f"{len(ctx.items)} items; at most {s.max_items} per request")
        lrn = learner()
        context = ctx.model_dump(mode="json", exclude_none=True)
        if not context.get("items"):
            context.pop("items", None)
        answers, rows = lrn.decide(art, context, body.k)
        try:
            written = service.writer.submit(rows, "decisions")
            if s.offers_durable:
                await written
            else:  # answered once queued (see ServeSettings.offers_durable); a failed batch is logged
                written.add_done_callback(lambda f: _lost(f, lrn, rows))
        except QueueFullError as exc:
            lrn.forget(rows)
            raise HTTPException(503, f"{exc}; retry after a second", headers={"Retry-After": "1"}) from None
        except WriterStoppedError as exc:
            lrn.forget(rows)
            raise HTTPException(503, str(exc), headers={"Retry-After": "2"}) from None
        unknown = [p for p in (*ctx.items, *([ctx.product_id] if ctx.product_id else [])) if p not in art.products]
        first = rows[0]["eligible"] if rows else []
        return {"offers": answers, "eligible": len(first), "unknown_items": list(dict.fromkeys(unknown)),
                "durable": s.offers_durable, "artefacts_version": art.version}

    @r.get("/stats", response_model=OfferStatsOut, summary="Per offer: impressions, clicks, purchases, CTR, "
                                                           "conversion, margin per impression, shares")
    async def stats() -> dict[str, Any]:
        return learner().stats_out()

    return r


def _lost(future: Any, learner: Any, rows: list[dict[str, Any]]) -> None:
    if not future.cancelled() and future.exception() is not None:
        learner.forget(rows)  # never stored: the policy must not learn from them either
        log.error("offers: %d decision(s) answered but not stored: %s", len(rows), future.exception())


def _with_price(art: Any, d: dict[str, Any]) -> dict[str, Any]:
    p = art.products.get(d["product_id"])
    d["price"] = None if p is None else p.price
    return d


def admin_router(service: Any) -> APIRouter:
    async def keyed(request: Request) -> None:
        from bundlewise.serve.auth import check_key

        check_key(request, service.settings)

    r = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(keyed)], responses=ERRORS)

    @r.post("/reload", summary="Load the artefacts again and swap atomically (requests never see a mix)")
    async def reload() -> dict[str, Any]:
        before = service.current().version
        art = await service.reload()
        return {"reloaded": True, "previous_version": before, "versions": art.versions()}

    return r
