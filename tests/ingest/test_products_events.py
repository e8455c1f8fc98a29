"""Catalog and event files: upserts, duplicate keys, unknown products, event types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundlewise.config import IngestConfig
from bundlewise.errors import DataValidationError
from bundlewise.ingest import Warehouse, ingest_files

PRODUCTS = IngestConfig(kind="products")
EVENTS = IngestConfig(kind="events")


def _q(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def test_catalog_overrides_derived_and_keeps_unmapped_columns(wh: Warehouse, write_csv) -> None:
    ingest_files(wh, [write_csv("o.csv", ["order_id", "product_id", "title", "unit_price"],
                                [["1", "a", "Old name", "2.0"]])], IngestConfig(kind="orders"))
    cat = write_csv("cat.csv", ["product_id", "title", "price", "cost", "colour"],
                    [["a", "Apple juice 1L", "2.5", "1.0", "yellow"], ["b", "果汁 1L", "3", "", "red"]])
    [r] = ingest_files(wh, [cat], PRODUCTS)
    assert r.details == {"products": 2, "products_new": 1, "products_updated": 1}
    rows = _q(wh, "SELECT product_id, title, price, cost, origin, attributes->>'$.colour' FROM products ORDER BY 1")
    assert rows == [("a", "Apple juice 1L", 2.5, 1.0, "catalog", "yellow"),
                    ("b", "果汁 1L", 3.0, None, "catalog", "red")]
    # a price-only file changes prices and keeps titles
    prices = write_csv("prices.csv", ["product_id", "price"], [["a", "2.75"]])
    ingest_files(wh, [prices], PRODUCTS)
    assert _q(wh, "SELECT title, price FROM products WHERE product_id = 'a'") == [("Apple juice 1L", 2.75)]


def test_duplicate_product_ids(wh: Warehouse, write_csv) -> None:
    same = write_csv("same.csv", ["product_id", "title"], [["a", "x"], ["a", "x"], ["b", "y"]])
    [r] = ingest_files(wh, [same], PRODUCTS)
    assert (r.rows_duplicate, wh.counts()["products"]) == (1, 2)
    differ = write_csv("differ.csv", ["product_id", "title"], [["c", "x"], ["c", "z"]])
    with pytest.raises(DataValidationError, match="duplicate key: product c appears 2 times"):
        ingest_files(wh, [differ], PRODUCTS)


def test_negative_price_and_bad_flag(wh: Warehouse, write_csv) -> None:
    path = write_csv("p.csv", ["product_id", "price", "is_product"], [["a", "-1", "yes"], ["b", "1", "maybe"]])
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], PRODUCTS)
    assert [(p.row_number, p.column) for p in exc.value.problems] == [(2, "price"), (3, "is_product")]


def test_events_validation(wh: Warehouse, write_csv, tmp_path: Path) -> None:
    ingest_files(wh, [write_csv("cat.csv", ["product_id"], [["a"], ["b"]])], PRODUCTS)
    path = tmp_path / "events.jsonl"
    lines = [
        {"ts": "2024-01-01T10:00:00Z", "event_type": "view", "product_id": "a", "session_id": "s1"},
        {"ts": "2024-01-01T10:01:00Z", "event_type": "offer_accept", "offer_id": "o1", "value": 9.5, "device": "ios"},
        {"ts": "2024-01-01T10:02:00Z", "event_type": "teleport", "product_id": "a"},
        {"ts": "2024-01-01T10:03:00Z", "event_type": "view", "product_id": "zzz"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(DataValidationError) as exc:
        ingest_files(wh, [path], EVENTS)
    msgs = [p.describe() for p in exc.value.problems]
    assert "events.jsonl row 3: column 'event_type' is 'teleport'; event_type must be one of view, click" in msgs[0]
    assert "events.jsonl row 4: column 'product_id' is 'zzz'; unknown product zzz" in msgs[1]
    [r] = ingest_files(wh, [path], EVENTS.replace(on_error="skip"))
    # no event_id column: both ids are generated from the rows (and said so)
    assert r.details == {"events": 2, "events_offer_accept": 1, "events_view": 1, "generated_event_ids": 2}
    assert _q(wh, "SELECT properties->>'$.device', value FROM events WHERE event_type = 'offer_accept'") == [
        ("ios", 9.5)]


def test_event_ids_unique(wh: Warehouse, write_csv) -> None:
    path = write_csv("e.csv", ["event_id", "ts", "event_type"],
                     [["e1", "2024-01-01", "view"], ["e1", "2024-01-01", "view"], ["e2", "2024-01-01", "click"]])
    [r] = ingest_files(wh, [path], EVENTS)
    assert (r.rows_duplicate, wh.counts()["events"]) == (1, 2)
    clash = write_csv("e2.csv", ["event_id", "ts", "event_type"], [["e2", "2024-02-01", "view"]])
    with pytest.raises(DataValidationError, match="duplicate key: event e2 is already in the warehouse"):
        ingest_files(wh, [clash], EVENTS)
