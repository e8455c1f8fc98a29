"""Spark pair statistics equal the embedded engine's (counts exact, floats within 1e-9) and the hand-worked table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bundlewise.mining import Baskets, CoPurchaseStats
from bundlewise.mining.source import BasketQuery
from bundlewise.spark import SparkCoPurchaseStats, baskets_to_spark
from tests.golden.five_baskets import BASKETS, EXPECTED

FLOATS = ["support", "confidence_ab", "confidence_ba", "lift", "leverage", "conviction_ab", "conviction_ba",
          "jaccard", "cosine", "npmi", "shrunk_lift", "p_value", "neg_log10_p", "q_value"]


def assert_same_stats(ours: pd.DataFrame, embedded: pd.DataFrame, tol: float = 1e-9) -> None:
    """Same pairs in the same order, exact counts, every float within ``tol`` (relative above 1, else absolute)."""
    assert len(ours) == len(embedded) > 0
    assert ours["item_a"].astype(str).tolist() == embedded["item_a"].astype(str).tolist()
    assert ours["item_b"].astype(str).tolist() == embedded["item_b"].astype(str).tolist()
    for c in ("n_ab", "n_a", "n_b"):
        assert np.array_equal(ours[c].to_numpy(np.int64), embedded[c].to_numpy(np.int64)), c
    for c in FLOATS:
        x, y = ours[c].to_numpy(np.float64), embedded[c].to_numpy(np.float64)
        assert np.array_equal(np.isinf(x), np.isinf(y)), c
        fin = np.isfinite(y)
        err = np.abs(x[fin] - y[fin]) / np.maximum(1.0, np.abs(y[fin]))
        assert err.max(initial=0.0) <= tol, (c, float(err.max()))


def _lines(spark, rows: list[tuple]) -> object:
    df = pd.DataFrame(rows, columns=["basket_id", "item_id", "ordered_at", "segment"])
    df["ordered_at"] = pd.to_datetime(df["ordered_at"])
    return spark.createDataFrame(df)


def _random_rows(seed: int, n_baskets: int = 400, n_items: int = 30) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(n_baskets):
        size = 1 + rng.poisson(2.5) + (25 if b % 97 == 0 else 0)  # a few wholesale baskets for the size cap
        day = np.datetime64("2024-01-01") + int(rng.integers(0, 120))
        seg = "uk" if b % 3 else "fr"
        for item in rng.zipf(1.3, size) % n_items:  # duplicates inside a basket collapse
            rows.append((f"o{b:04d}", f"p{int(item):02d}", str(day) + " 10:30:00", seg))
    return rows


def _embedded(rows: list[tuple], query: BasketQuery | None = None, **params) -> pd.DataFrame:
    query = query or BasketQuery()
    df = pd.DataFrame(rows, columns=["basket_id", "item_id", "ordered_at", "segment"])
    if query.segments:
        df = df[df["segment"].isin(query.segments)]
    if query.since:
        df = df[pd.to_datetime(df["ordered_at"]) >= pd.Timestamp(query.since)]
    if query.until:
        df = df[pd.to_datetime(df["ordered_at"]) < pd.Timestamp(query.until)]
    baskets = Baskets.from_long(df["basket_id"].to_numpy(object), df["item_id"].to_numpy(object),
                                pd.to_datetime(df["ordered_at"]).to_numpy("datetime64[us]"))
    return CoPurchaseStats(**params).fit(baskets).pair_stats()


def test_hand_worked_five_baskets(spark) -> None:
    lines = baskets_to_spark(spark, Baskets.from_lists(BASKETS))
    got = SparkCoPurchaseStats(min_count=1).fit(lines).to_pandas()
    by_pair = {(r["item_a"], r["item_b"]): r for r in got.to_dict("records")}
    assert set(by_pair) == set(EXPECTED)  # c, d never together: no row
    for pair, expected in EXPECTED.items():
        for column, value in expected.items():
            if isinstance(value, float) and math.isinf(value):
                assert math.isinf(by_pair[pair][column])
            else:
                assert by_pair[pair][column] == pytest.approx(value, rel=1e-12, abs=1e-12), (pair, column)


@pytest.mark.parametrize(("params", "query"), [
    ({"min_count": 1}, BasketQuery()),
    ({"min_count": 3, "half_life_days": 30.0, "max_basket_size": 10}, BasketQuery()),
    ({"min_count": 2, "half_life_days": 14.0, "max_basket_size": 8, "prior": 2.0},
     BasketQuery(segments=("uk",), since="2024-02-01", until="2024-04-01")),
])
def test_equal_to_embedded_engine(spark, params: dict, query: BasketQuery) -> None:
    rows = _random_rows(seed=len(params) + len(query.segments))
    ours = SparkCoPurchaseStats(query=query, **params).fit(_lines(spark, rows))
    embedded = _embedded(rows, query, **params)
    assert_same_stats(ours.to_pandas(), embedded)
    if "max_basket_size" in params and not query.segments:
        assert ours.n_dropped_baskets_ >= 1  # the wholesale baskets were left out, as the embedded engine does


def test_time_decay_needs_timestamps(spark) -> None:
    from bundlewise.errors import ConfigError

    lines = baskets_to_spark(spark, Baskets.from_lists(BASKETS))
    with pytest.raises(ConfigError, match="ordered_at"):
        SparkCoPurchaseStats(half_life_days=7.0).fit(lines)


def test_parquet_round_trip(spark, tmp_path) -> None:
    rows = _random_rows(seed=7, n_baskets=120)
    src = tmp_path / "lines.parquet"
    pd.DataFrame(rows, columns=["basket_id", "item_id", "ordered_at", "segment"]).to_parquet(src)
    from bundlewise.spark import read_lines

    stats = SparkCoPurchaseStats(min_count=2).fit(read_lines(spark, src))
    stats.write_parquet(tmp_path / "pairs")
    written = pd.read_parquet(tmp_path / "pairs")
    assert_same_stats(written, _embedded(rows, min_count=2))
