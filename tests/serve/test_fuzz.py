"""Hypothesis over the API's inputs (path ids, query values, JSON bodies of any shape): never a server error."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundlewise.serve import ServeSettings, create_app
from tests.serve.conftest import API_KEY, Shop

NUMBER = st.floats(allow_nan=False, allow_infinity=False)  # what a JSON client can send
JSON = st.recursive(st.none() | st.booleans() | st.integers() | NUMBER | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                      children, max_size=4),
                    max_leaves=12)
FIELDS = st.fixed_dictionaries({}, optional={
    "event_id": JSON | st.text(max_size=30), "ts": JSON | st.sampled_from(["2024-01-01T00:00:00", "2024-13-01"]),
    "event_type": JSON | st.sampled_from(["click", "purchase", "teleport"]), "product_id": JSON | st.just("tent"),
    "value": JSON, "items": JSON | st.lists(st.sampled_from(["tent", "pegs", "x"]), max_size=5), "k": JSON,
    "text": JSON, "events": JSON})
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


def test_no_input_makes_a_server_error(shop: Shop, tmp_path: Path) -> None:
    db = shop.copy(tmp_path)
    app = create_app(ServeSettings(db=str(db), plan=str(shop.plan), api_key=API_KEY, access_log=False))
    with TestClient(app, raise_server_exceptions=False) as client:

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(kind=st.sampled_from(["complements", "product", "bundle", "search", "cart", "text", "events"]),
               raw=TEXT, k=st.one_of(st.integers(-5, 500), TEXT), body=FIELDS | JSON)
        def probe(kind: str, raw: str, k: object, body: object) -> None:
            ident = quote(raw, safe="")  # any text, sent as a valid URL
            if kind == "complements":
                r = client.get(f"/v1/products/{ident}/complements", params={"k": k, "exclude": raw})
            elif kind == "product":
                r = client.get(f"/v1/products/{ident}")
            elif kind == "bundle":
                r = client.get(f"/v1/bundles/{ident}")
            elif kind == "search":
                r = client.get("/v1/products", params={"q": raw, "limit": k})
            elif kind == "cart":
                r = client.post("/v1/cart/recommendations", json=body)
            elif kind == "text":
                r = client.post("/v1/complements", json=body)
            else:
                r = client.post("/v1/events", json=body, headers={"X-API-Key": API_KEY})
            assert r.status_code < 500 or r.status_code == 503, (kind, ident, k, body, r.status_code, r.text)
            assert "Traceback" not in r.text
            if r.status_code >= 400:
                assert "error" in r.json()

        probe()
