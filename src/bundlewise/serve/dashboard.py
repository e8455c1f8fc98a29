"""The console at ``/``: server-rendered HTML (plan and counts), a little vanilla JS, local assets only.

Everything the page loads comes from this server (``/static/...``): no CDN, no fonts from elsewhere,
so it works offline and inside a shop's network. ``/docs`` is a local page over ``/openapi.json``
for the same reason (FastAPI's Swagger UI would load its scripts from a CDN).
"""

from __future__ import annotations

import hmac
from html import escape
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bundlewise.serve import recommend as rec

STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css", "docs.js": "text/javascript"}


def _asset(name: str) -> bytes:
    return resources.files("bundlewise.serve").joinpath("static", name).read_bytes()


def _money(x: float | None) -> str:
    return "" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.0%}"


def plan_rows(art: Any) -> str:
    rows = []
    for b in art.bundles.values():
        o = rec.bundle_out(art, b)
        n = o["n_ab"]
        rows.append(
            f'<tr class="bundle" data-bundle="{escape(b.bundle_id)}" data-product="{escape(b.products[0])}">'
            f"<td>{escape(' + '.join(b.titles) or ' + '.join(b.products))}<br><small>{escape(b.bundle_id)}</small></td>"
            f"<td class=num>{_money(o['regular_price'])}</td><td class=num>{_money(o['bundle_price'])}</td>"
            f"<td class=num>{_pct(o['discount'])}</td><td class=num>{_money(o['incremental_profit'])}</td>"
            f"<td class=num>{'' if n is None else f'{n:,.0f}'}</td>"
            f"<td class=num>{'' if o['lift'] is None else format(o['lift'], '.1f')}</td>"
            f"<td>{escape(b.explanation)}</td></tr>")
    return "\n".join(rows) or '<tr><td colspan=8 class="empty">no bundle plan loaded (serve --plan plan.json)</td></tr>'


def offers_panel(service: Any) -> str:
    """The learning offers (filled from /v1/offers/stats by the script); absent on a read-only server."""
    if getattr(service, "offers", None) is None:
        return ""
    s = service.settings
    return (f'<section id="offers"><h2>Offers that learn</h2>'
            f'<p class="hint">Policy <b>{escape(s.offers_policy)}</b>, reward window {s.reward_window_s:g} s; '
            f'<span id="offers-summary"></span></p><div id="offers-table"></div></section>')


def page(service: Any) -> str:
    art = service.current()
    s = service.settings
    pairs = 0 if art.pairs is None else art.pairs.n_pairs
    cold = "pair model" if art.model is not None else ("text similarity" if art.text_vectors is not None else "none")
    key_box = ('<label>API key <input id="apikey" type="password" autocomplete="off"></label>'
               if s.keyed_reads else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bundlewise console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css"></head>
<body>
<header><h1>bundlewise</h1>
<span id="counts">{len(art.products):,} products · {pairs:,} pairs · {len(art.bundles)} bundles ·
artefacts v{art.version} ({escape(art.loaded_at)})</span> {key_box}
<a href="/docs">API</a></header>
<main>
<section id="plan"><h2>Bundle plan</h2>
<table><thead><tr><th>bundle</th><th>regular</th><th>bundle price</th><th>off</th><th>margin /1k shoppers</th>
<th>baskets together</th><th>lift</th><th>why</th></tr></thead>
<tbody>{plan_rows(art)}</tbody></table></section>
<section id="search"><h2>Product → complements</h2>
<form id="search-form"><input id="q" name="q" placeholder="product id or title" required maxlength="200">
<button type="submit">Search</button></form>
<ul id="results"></ul>
<div id="complements"></div></section>
<section id="newproduct"><h2>A product that does not exist yet</h2>
<p class="hint">Cold start through: <b id="cold-source">{escape(cold)}</b></p>
<form id="text-form"><textarea id="text" rows="2" maxlength="2000" placeholder="title and description"></textarea>
<button type="submit">Find partners</button></form>
<div id="text-result"></div></section>
{offers_panel(service)}
<section id="events"><h2>Events and offers over time</h2>
<div id="events-plot"></div><p id="events-total" class="hint"></p></section>
</main>
<script src="/static/dashboard.js"></script>
</body></html>"""


def router(service: Any) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        if service.settings.keyed_reads:
            from bundlewise.serve.auth import check_key

            # the page itself shows only the plan; with keyed reads it needs the key too (as ?key= or a header)
            key = request.query_params.get("key")
            if key is None:
                check_key(request, service.settings)
            elif not hmac.compare_digest(key.encode(), (service.settings.api_key or "").encode()):
                raise HTTPException(401, "wrong API key")
        return HTMLResponse(page(service))

    @r.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"no static file {name!r}")
        return Response(_asset(name), media_type=STATIC[name], headers={"Cache-Control": "max-age=300"})

    @r.get("/docs", response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        return HTMLResponse("""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bundlewise API</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/dashboard.css"></head>
<body><header><h1>bundlewise API</h1><a href="/openapi.json">openapi.json</a> <a href="/">console</a></header>
<main id="docs"></main><script src="/static/docs.js"></script></body></html>""")

    return r
