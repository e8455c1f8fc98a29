"""The API key check of the admin and write endpoints."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from bundlewise.serve.settings import ServeSettings


def check_key(request: Request, settings: ServeSettings) -> None:
    """401 unless the request carries the API key (X-API-Key or Authorization: Bearer), compared in constant time."""
    if settings.api_key is None:
        raise HTTPException(401, "this endpoint needs an API key and the server has none: start it with --api-key "
                                 "or BUNDLEWISE_API_KEY", headers={"WWW-Authenticate": "Bearer"})
    sent = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if sent is None and auth[:7].lower() == "bearer ":
        sent = auth[7:].strip()
    if sent is None or not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"),
                                               settings.api_key.encode("utf-8")):
        raise HTTPException(401, "missing or wrong API key: send it as 'X-API-Key: KEY' or "
                                 "'Authorization: Bearer KEY'", headers={"WWW-Authenticate": "Bearer"})
