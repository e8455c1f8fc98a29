"""Configs are frozen, typed, and reject unknown keys and bad values with the allowed ones listed."""

from __future__ import annotations

import dataclasses

import pytest

from bundlewise.config import IngestConfig, MiningConfig, RulesConfig, parse_mapping
from bundlewise.errors import BundlewiseError, ConfigError


def test_unknown_keys_are_errors_not_silence() -> None:
    with pytest.raises(ConfigError, match="unknown ingest key\\(s\\) 'on_eror'; allowed keys are"):
        IngestConfig.from_dict({"kind": "orders", "on_eror": "skip"})
    with pytest.raises(ConfigError, match="unknown mining key"):
        MiningConfig.from_dict({"min_cnt": 3})
    assert RulesConfig.from_dict({"min_support": 0.01}).min_support == 0.01


def test_frozen() -> None:
    cfg = IngestConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.kind = "events"  # type: ignore[misc]
    assert cfg.replace(kind="events").kind == "events" and cfg.kind == "orders"


def test_bad_values_list_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="kind is 'sales'; allowed values are 'orders', 'products', 'events'"):
        IngestConfig(kind="sales")
    with pytest.raises(ConfigError, match="delimiter is ';;'"):
        IngestConfig(delimiter=";;")
    with pytest.raises(ConfigError, match="max_len is 1; mining stores pairs at least"):
        MiningConfig(max_len=1)


def test_errors_are_also_builtin_errors() -> None:
    err = ConfigError("x")
    assert isinstance(err, BundlewiseError) and isinstance(err, ValueError)


def test_parse_mapping() -> None:
    assert parse_mapping(["order_id=InvoiceNo, product_id = StockCode", "discount=a+b"]) == {
        "order_id": "InvoiceNo", "product_id": "StockCode", "discount": "a+b"}
    with pytest.raises(ConfigError, match="is not FIELD=COLUMN"):
        parse_mapping("order_id")
