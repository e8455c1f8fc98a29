"""Baskets as Spark DataFrames: Parquet in (one row per basket and product), filters, size cap, decay weights.

The long layout is the warehouse's ``basket_items`` joined with ``orders``: ``basket_id``,
``item_id`` and optionally ``ordered_at``, ``segment``, ``store_id``, ``customer_id``.
:func:`export_baskets` writes it from a warehouse (DuckDB, on the driver machine), so a cluster job
only reads Parquet. :func:`prepare` turns it into what counting needs: de-duplicated
``(basket, code, weight)`` rows, item codes indexing a sorted vocabulary (the same codes
:class:`~bundlewise.mining.Baskets` gives), the basket count and the total weight — the numbers the
embedded engine computes, by the same formulas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.mining.source import BasketQuery

if TYPE_CHECKING:
    from bundlewise.ingest.warehouse import Warehouse
    from bundlewise.mining.baskets import Baskets

log = logging.getLogger(__name__)

LINE_COLUMNS = ("basket_id", "item_id", "ordered_at", "segment", "store_id", "customer_id")
_US_PER_DAY = 86_400e6


def export_baskets(wh: Warehouse, path: str | Path) -> Path:
    """Write the warehouse's basket lines (every sale of a real product, with its order's time and
    segment) to one Parquet file for Spark; filters are applied by the Spark job (:func:`prepare`)."""
    path = Path(path)
    sql = ("SELECT b.order_id AS basket_id, b.product_id AS item_id, o.ordered_at, o.segment, o.store_id, "
           "o.customer_id FROM basket_items b JOIN orders o USING (order_id) ORDER BY basket_id, item_id")
    target = str(path).replace("'", "''")
    wh.con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet)")
    return path


def baskets_to_spark(spark: Any, baskets: Baskets) -> Any:
    """A driver-side :class:`~bundlewise.mining.Baskets` as a long Spark DataFrame (for tests and files
    read on the driver, e.g. ``rules --baskets``)."""
    import pyarrow as pa

    sizes = baskets.sizes()
    ids = baskets.basket_ids if baskets.basket_ids is not None else np.arange(baskets.n_baskets).astype(str)
    columns = {"basket_id": pa.array(np.repeat(np.asarray(ids, dtype=object), sizes).tolist(), pa.string()),
               "item_id": pa.array(baskets.item_ids[baskets.indices].tolist(), pa.string())}
    if baskets.timestamps is not None:
        columns["ordered_at"] = pa.array(np.repeat(baskets.timestamps, sizes), pa.timestamp("us"))
    return spark.createDataFrame(pa.table(columns).to_pandas())


def read_lines(spark: Any, path: str | Path) -> Any:
    """Basket lines from Parquet (a file or a folder of parts); ``basket_id`` and ``item_id`` are required."""
    df = spark.read.parquet(str(path))
    missing = [c for c in ("basket_id", "item_id") if c not in df.columns]
    if missing:
        raise ConfigError(f"{path} has no column(s) {', '.join(missing)} (it has {', '.join(df.columns)}); basket "
                          "lines need basket_id and item_id (bundlewise.spark.export_baskets writes them)")
    return df


@dataclass
class Prepared:
    """Baskets ready to count: ``baskets`` (``basket_id``, ``items`` sorted distinct codes, ``w`` weight), filtered,
    capped, weighted; ``item_ids`` the sorted vocabulary the codes index."""

    baskets: Any
    item_ids: np.ndarray
    n_baskets: int
    n_dropped: int
    total_weight: float
    reference_time: np.datetime64 | None


def filter_lines(lines: Any, query: BasketQuery) -> Any:
    """The lines of the baskets ``query`` selects (segments, stores, customers, ``[since, until)``)."""
    from pyspark.sql import functions as F

    for column, values in (("segment", query.segments), ("store_id", query.stores),
                           ("customer_id", query.customers)):
        if values:
            if column not in lines.columns:
                raise ConfigError(f"filtering by {column} needs a {column} column; these basket lines have "
                                  f"{', '.join(lines.columns)}")
            lines = lines.where(F.col(column).isin(list(values)))
    for bound, op in ((query.since, "ge"), (query.until, "lt")):
        if bound:
            if "ordered_at" not in lines.columns:
                raise ConfigError("a date filter (since/until) needs an ordered_at column in the basket lines")
            limit = F.lit(bound.strip()).cast("timestamp")
            lines = lines.where(F.col("ordered_at") >= limit if op == "ge" else F.col("ordered_at") < limit)
    return lines


def prepare(spark: Any, lines: Any, *, query: BasketQuery | None = None, max_basket_size: int | None = None,
            half_life_days: float | None = None, reference_time: Any = None) -> Prepared:
    """Filter, de-duplicate, cap and weigh basket lines as :class:`~bundlewise.mining.CoPurchaseStats` does.

    The vocabulary (distinct products, a small table) is collected and sorted on the driver exactly as
    :class:`~bundlewise.mining.Baskets` sorts it, then broadcast back as codes.
    """
    from pyspark.sql import functions as F

    query = query or BasketQuery()
    lines = filter_lines(lines, query)
    keep = ["basket_id", "item_id"] + (["ordered_at"] if half_life_days is not None else [])
    if half_life_days is not None and "ordered_at" not in lines.columns:
        raise ConfigError("time decay (half_life_days) needs basket timestamps; these basket lines have no "
                          "ordered_at column")
    lines = lines.select(*keep).where(F.col("basket_id").isNotNull() & F.col("item_id").isNotNull())
    items = np.asarray([r[0] for r in lines.select("item_id").distinct().collect()], dtype=object)
    if not len(items):
        raise ConfigError(f"no baskets match ({query.describe()}); widen the filters or check the input")
    item_ids = items[np.argsort(items.astype(str), kind="stable")]
    import pandas as pd

    vocab = spark.createDataFrame(pd.DataFrame({"item_id": item_ids.astype(str), "code": np.arange(len(item_ids),
                                                                                                   dtype=np.int32)}))
    coded = lines.join(F.broadcast(vocab), "item_id")  # map side: the vocabulary is small
    # the one shuffle of the lines: each basket's distinct codes, sorted (and its time, for decay)
    per_basket = coded.groupBy("basket_id").agg(
        F.array_sort(F.collect_set("code")).alias("items"),
        *([F.min("ordered_at").alias("ordered_at")] if half_life_days is not None else []))
    if max_basket_size is not None:
        per_basket = per_basket.withColumn("kept", F.size("items") <= max_basket_size)
    else:
        per_basket = per_basket.withColumn("kept", F.lit(True))
    per_basket = per_basket.cache()
    # one pass over the baskets for every number the driver needs (kept, dropped, missing times, newest)
    aggs = [F.sum(F.col("kept").cast("long")).alias("kept"), F.sum((~F.col("kept")).cast("long")).alias("dropped")]
    if half_life_days is not None:
        kept_ts = F.when(F.col("kept"), F.col("ordered_at").cast("timestamp"))
        aggs += [F.sum((F.col("kept") & F.col("ordered_at").isNull()).cast("long")).alias("missing"),
                 F.max(F.unix_micros(kept_ts)).alias("newest")]
    summary = per_basket.agg(*aggs).collect()[0]
    n_kept, n_dropped = int(summary["kept"] or 0), int(summary["dropped"] or 0)
    per_basket = per_basket.where("kept")
    reference = None
    if half_life_days is not None:
        if half_life_days <= 0:
            raise ConfigError(f"half_life_days is {half_life_days}; it must be > 0 (or None for no decay)")
        if summary["missing"]:
            raise ConfigError(f"time decay needs a timestamp for every basket; {summary['missing']:,} baskets have "
                              "none (load orders with ordered_at, or drop --half-life-days)")
        if reference_time is None:
            reference = np.datetime64(int(summary["newest"]), "us")
        else:
            reference = np.datetime64(reference_time, "us")
        ref_us = int(reference.astype("datetime64[us]").astype(np.int64))
        # the embedded formula, operation for operation: 0.5 ** (((ref - ts) in us / 86_400e6) / half_life)
        age = (F.lit(ref_us) - F.unix_micros(F.col("ordered_at").cast("timestamp"))).cast("double") / _US_PER_DAY
        per_basket = per_basket.withColumn("w", F.pow(F.lit(0.5), age / F.lit(float(half_life_days))))
    else:
        per_basket = per_basket.withColumn("w", F.lit(1.0))
    per_basket = per_basket.select("basket_id", "items", "w")
    total_weight = (float(n_kept) if half_life_days is None
                    else float(per_basket.agg(F.sum(F.col("w").cast("decimal(38,28)")).cast("double"))
                               .collect()[0][0] or 0.0))
    return Prepared(per_basket, item_ids, int(n_kept), int(n_dropped), total_weight, reference)
