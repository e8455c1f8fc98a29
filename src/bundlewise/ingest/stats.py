"""What a user checks first: table sizes, date range, basket sizes, top products, rejects.

Examples
--------
>>> from bundlewise.ingest import Warehouse
>>> from bundlewise.ingest.stats import warehouse_stats
>>> with Warehouse(":memory:") as wh:
...     warehouse_stats(wh).counts["orders"]
0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bundlewise.ingest.warehouse import Warehouse

# Upper bounds of the basket-size histogram buckets (inclusive); the last bucket is open.
SIZE_BUCKETS = (1, 2, 3, 4, 5, 10, 20, 50, 100)


@dataclass
class IngestSummary:
    ingest_id: int
    kind: str
    source: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_duplicate: int
    finished_at: datetime | None

    @property
    def rejected_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


@dataclass
class WarehouseStats:
    path: str
    schema_version: int
    counts: dict[str, int]
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    n_customers: int = 0
    n_baskets: int = 0
    n_basket_items: int = 0
    n_basket_products: int = 0
    n_non_products: int = 0
    basket_size_quantiles: dict[str, float] = field(default_factory=dict)
    basket_size_histogram: list[tuple[str, int]] = field(default_factory=list)
    top_products: list[tuple[str, str | None, int, float]] = field(default_factory=list)
    ingests: list[IngestSummary] = field(default_factory=list)
    quarantined_rows: int = 0

    @property
    def rejected_share(self) -> float:
        read = sum(i.rows_read for i in self.ingests)
        return sum(i.rows_rejected for i in self.ingests) / read if read else 0.0


def warehouse_stats(wh: Warehouse, top: int = 10) -> WarehouseStats:
    """Collect the first-look statistics of a warehouse."""
    con = wh.con
    stats = WarehouseStats(wh.path, wh.schema_version(), wh.counts())
    stats.first_order_at, stats.last_order_at, stats.n_customers = con.execute(
        "SELECT min(ordered_at), max(ordered_at), count(DISTINCT customer_id) FROM orders").fetchall()[0]
    stats.n_non_products = int(con.execute("SELECT count(*) FROM products WHERE NOT is_product").fetchall()[0][0])
    con.execute("CREATE OR REPLACE TEMP TABLE _bw_sizes AS "
                "SELECT order_id, count(*) AS n FROM basket_items GROUP BY order_id")
    row = con.execute("""
        SELECT count(*), coalesce(sum(n), 0), avg(n), quantile_cont(n, 0.1), quantile_cont(n, 0.25),
               median(n), quantile_cont(n, 0.75), quantile_cont(n, 0.9), quantile_cont(n, 0.99), max(n)
        FROM _bw_sizes""").fetchall()[0]
    stats.n_baskets, stats.n_basket_items = int(row[0]), int(row[1])
    if stats.n_baskets:
        names = ("mean", "p10", "p25", "p50", "p75", "p90", "p99", "max")
        stats.basket_size_quantiles = {k: float(v) for k, v in zip(names, row[2:], strict=True)}
        lower = 1
        for upper in SIZE_BUCKETS:
            n = con.execute("SELECT count(*) FROM _bw_sizes WHERE n BETWEEN ? AND ?", [lower, upper]).fetchall()[0][0]
            stats.basket_size_histogram.append((str(upper) if upper == lower else f"{lower}-{upper}", int(n)))
            lower = upper + 1
        n = con.execute("SELECT count(*) FROM _bw_sizes WHERE n >= ?", [lower]).fetchall()[0][0]
        stats.basket_size_histogram.append((f"{lower}+", int(n)))
    con.execute("DROP TABLE _bw_sizes")
    stats.n_basket_products = int(con.execute("SELECT count(DISTINCT product_id) FROM basket_items").fetchall()[0][0])
    stats.top_products = [
        (str(pid), title, int(n), int(n) / stats.n_baskets)
        for pid, title, n in con.execute("""
            SELECT b.product_id, p.title, count(*) AS n FROM basket_items b JOIN products p USING (product_id)
            GROUP BY ALL ORDER BY n DESC, b.product_id LIMIT ?""", [top]).fetchall()
    ]
    stats.ingests = [
        IngestSummary(*r) for r in con.execute("""
            SELECT ingest_id, kind, source, rows_read, rows_accepted, rows_rejected, rows_duplicate, finished_at
            FROM ingest_log ORDER BY ingest_id""").fetchall()
    ]
    stats.quarantined_rows = stats.counts["rejected_rows"]
    return stats
