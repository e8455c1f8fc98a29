"""The app factory: settings in, a FastAPI app out; nothing happens at import.

:func:`create_app` wires the lifespan (open the warehouse, load the artefacts once, start the
event writer; on shutdown drain it), the middleware (body limit, access log), the error handlers
(every user mistake a 4xx naming the field; anything else a JSON 500 without a trace) and the
routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bundlewise.errors import BundlewiseError, ConfigError, UnknownProductError, WarehouseError
from bundlewise.serve.artefacts import Artefacts, load_artefacts
from bundlewise.serve.events import EventWriter
from bundlewise.serve.recommend import NoArtefactError
from bundlewise.serve.settings import ServeSettings

log = logging.getLogger(__name__)
access_log = logging.getLogger("bundlewise.serve.access")


# how the service opens its warehouse: (settings, read_only) -> Warehouse
Opener = Callable[[ServeSettings, bool], Any]


def default_opener(settings: ServeSettings, read_only: bool) -> Any:
    """An existing bundlewise warehouse, never created nor adopted (the CLI passes its own opener for --adopt)."""
    from bundlewise.ingest.warehouse import Warehouse

    return Warehouse(settings.db, read_only=read_only, create=False)


class Service:
    """What the routes share: settings, the current artefacts, the writer, the encoder."""

    def __init__(self, settings: ServeSettings, opener: Opener | None = None):
        self.settings = settings
        self.opener: Opener = opener or default_opener
        self.artefacts: Artefacts | None = None
        self.writer: EventWriter | None = None
        self.offers: Any = None  # the OfferLearner (with the events writer: decisions must be logged)
        self._learning: asyncio.Task[None] | None = None
        self._wh: Any = None
        self._encoders: dict[str, Any] = {}
        self._encoder_lock = asyncio.Lock()
        self._reload_lock = asyncio.Lock()
        self.started = time.time()

    async def start(self) -> None:
        s = self.settings
        if s.events:
            # the only write connection: events go through it; the warehouse stays locked while we serve
            self._wh = self.opener(s, False)
            self.artefacts = await asyncio.to_thread(_load_with, self._wh.con.cursor(), s, 1)
            journal = None
            if s.offers_journal:
                from bundlewise.ingest.journal import DecisionJournal, journal_path

                path = journal_path(self._wh.path)
                journal = None if path is None else DecisionJournal(path)  # replayed when the warehouse opened
            self.writer = EventWriter(self._wh.con, f"http://{s.host}:{s.port}/v1/events", s.queue_size,
                                      s.writer_batch, journal=journal,
                                      journal_flush_s=s.offers_journal_flush_s)
            await self._start_offers()
            self.writer.start()
        else:
            self.artefacts = await asyncio.to_thread(self._load_read_only, 1)
        _freeze_heap()

    async def _start_offers(self) -> None:
        """The offer learner, its state replayed from the warehouse, fed by the writer, learning every interval."""
        from bundlewise.serve.offers_learn import OfferLearner, learn_forever

        learner = OfferLearner(self.settings)
        cursor = self._wh.con.cursor()
        try:
            await asyncio.to_thread(learner.restore, cursor)
        finally:
            cursor.close()
        await asyncio.to_thread(learner.catalog_for, self.current())  # the rules' pass: not on a first request
        assert self.writer is not None
        self.writer.listeners.append(lambda rows: learner.on_events(rows, self.artefacts))
        self.offers = learner
        self._learning = asyncio.get_running_loop().create_task(
            learn_forever(learner, self.settings.offers_learn_interval_s), name="bundlewise-offers-learner")

    def _load_read_only(self, version: int) -> Artefacts:
        # opened only while loading, so 'bundlewise mine' can update the file between reloads
        with self.opener(self.settings, True) as wh:
            return load_artefacts(wh.con, self.settings, version)

    async def stop(self) -> None:
        if self._learning is not None:
            self._learning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._learning
        if self.writer is not None:
            await self.writer.stop()
        if self._wh is not None:
            self._wh.close()
            self._wh = None

    async def reload(self) -> Artefacts:
        """Build the next artefact version beside the current one, then swap (one assignment)."""
        async with self._reload_lock:
            current = self.current()
            if self.writer is not None:
                cursor = await self.writer.run_on_writer(self._wh.con.cursor)
                new = await asyncio.to_thread(_load_with, cursor, self.settings, current.version + 1)
            else:
                new = await asyncio.to_thread(self._load_read_only, current.version + 1)
            if self.offers is not None:
                await asyncio.to_thread(self.offers.catalog_for, new)  # the offers of a new plan, before the swap
            self.artefacts = new
            del current
            gc.unfreeze()  # the previous version becomes collectable (cycles included), then freeze the new one
            _freeze_heap()
            return new

    def current(self) -> Artefacts:
        if self.artefacts is None:
            raise HTTPException(503, "the service is starting: artefacts are not loaded yet")
        return self.artefacts

    async def encoder(self, name: str) -> Any:
        """The text encoder, loaded on first use (seconds), then kept."""
        async with self._encoder_lock:
            if name not in self._encoders:
                from bundlewise.text import ProductEncoder

                self._encoders[name] = await asyncio.to_thread(lambda: ProductEncoder(model=name).fit())
            return self._encoders[name]


def _freeze_heap() -> None:
    """Move the loaded artefacts out of the garbage collector's sight (``gc.freeze``).

    They live as long as the process (or the version), yet every full collection would walk them
    again: 13-19 ms each on Online Retail's artefacts (70k tracked objects), a pause every request then
    in flight waits for, above the 10 ms p99 goal of the complements endpoint. Frozen, a full
    collection only walks what requests allocate.
    """
    gc.collect()
    gc.freeze()


def _load_with(cursor: Any, settings: ServeSettings, version: int) -> Artefacts:
    """Load through a cursor of the write connection (its own connection: usable on this thread), then close it."""
    try:
        return load_artefacts(cursor, settings, version)
    finally:
        cursor.close()


# -- middleware -----------------------------------------------------------------------------------

class GuardMiddleware:
    """Body limit (buffered before the app sees it: 413 beyond) and one JSON access-log line per request."""

    def __init__(self, app: Any, max_body_bytes: int, log_requests: bool):
        self.app, self.limit, self.log_requests = app, max_body_bytes, log_requests

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 0}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = declared is not None and declared.isdigit() and int(declared) > self.limit
        body_receive = receive
        if not too_big and scope.get("method") in ("POST", "PUT", "PATCH"):
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    too_big = True
                    break
                chunks.append(chunk)
                more = message.get("more_body", False)
            if not too_big:
                body = b"".join(chunks)
                sent = {"done": False}

                async def body_receive() -> dict[str, Any]:
                    if not sent["done"]:
                        sent["done"] = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()
        if too_big:
            response = JSONResponse({"error": f"request body is larger than {self.limit:,} bytes; send fewer "
                                              "events per request", "problems": [
                                     {"field": "body", "reason": f"larger than {self.limit:,} bytes"}]},
                                    status_code=413)
            await response(scope, receive, send_wrapper)
        else:
            await self.app(scope, body_receive, send_wrapper)
        if self.log_requests:
            client = scope.get("client")
            access_log.info(json.dumps({
                "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": scope.get("method"),
                "path": scope.get("path"), "status": status["code"], "ms": round((time.perf_counter() - t0) * 1000, 3),
                "client": client[0] if client else None}))


# -- errors ----------------------------------------------------------------------------------------

def _field(loc: Any) -> str:
    out = ""
    for part in loc:
        if part in ("batch", "single", "tagged-union[EventBatchIn,EventIn]"):
            continue  # the union's tag: not a field the client sent
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [{"field": _field(e.get("loc", ())), "reason": str(e.get("msg", "invalid"))} for e in exc.errors()]
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5])
    return JSONResponse({"error": f"invalid request: {summary}", "problems": problems}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return JSONResponse({"error": detail, "problems": []}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


_STATUS = ((UnknownProductError, 404), (NoArtefactError, 409), (ConfigError, 422), (WarehouseError, 503))


async def _library_error(request: Request, exc: BundlewiseError) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    return JSONResponse({"error": str(exc), "problems": []}, status_code=status)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": f"internal error (reference {ref}); this is a bug in bundlewise: the server log "
                                  "has the details", "problems": []}, status_code=500)


# -- security ----------------------------------------------------------------------------------------

# -- the factory --------------------------------------------------------------------------------------

def create_app(settings: ServeSettings | None = None, opener: Opener | None = None) -> FastAPI:
    """A FastAPI app over ``settings.db``; artefacts load when it starts (its lifespan), not here.

    ``opener(settings, read_only)`` opens the warehouse (default :func:`default_opener`);
    ``bundlewise serve`` passes the CLI's, so ``--adopt`` and the CLI's migration apply.

    Examples
    --------
    >>> app = create_app(ServeSettings(db="shop.duckdb", events=False))
    >>> {"/v1/bundles", "/v1/events", "/ready"} <= set(app.openapi()["paths"])
    True
    """
    from bundlewise._version import __version__
    from bundlewise.serve import dashboard, routes

    settings = settings or ServeSettings()
    service = Service(settings, opener)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="bundlewise", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Complements, cart completion and bundle offers from a bundlewise warehouse; events "
                              "acknowledged only once committed. Errors: {error, problems: [{field, reason}]}.")
    app.state.service = service
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes, log_requests=settings.access_log)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["content-type", "x-api-key", "authorization"])
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(BundlewiseError, _library_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(routes.service_router(service))
    app.include_router(routes.api_router(service))
    app.include_router(routes.offers_router(service))
    app.include_router(routes.admin_router(service))
    app.include_router(dashboard.router(service))
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn's factory for ``--workers N``: each worker reads the settings the CLI put in the environment."""
    import os

    from bundlewise.serve.settings import SETTINGS_ENV

    text = os.environ.get(SETTINGS_ENV)
    return create_app(ServeSettings.from_json(text) if text else ServeSettings.from_env(os.environ))
