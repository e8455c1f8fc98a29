"""Event files (views, clicks, offer impressions and responses): checks and writes.

Events name products that must already be in the warehouse, so offers learned later
never point at unknown products.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from bundlewise.ingest.fields import EVENT_TYPES
from bundlewise.ingest.sqlexpr import Binder, Check, lit
from bundlewise.ingest.suspicious import Suspicion, timestamp_outliers

NORM = "_bw_norm"
_CONTENT = ("ts", "event_type", "session_id", "customer_id", "product_id", "offer_id", "bundle_id", "value")


def row_checks(b: Binder) -> list[Check]:
    allowed = ", ".join(lit(t) for t in EVENT_TYPES)
    etype = f"lower({b.text('event_type')})"
    return [Check(b.label("event_type"), b.text("event_type"),
                  f"{b.text('event_type')} IS NOT NULL AND {etype} NOT IN ({allowed})",
                  "event_type must be one of " + ", ".join(EVENT_TYPES))]


def normalize_select(b: Binder) -> str:
    content = [f"coalesce(CAST(({b.typed(c)}) AS VARCHAR), '')" for c in _CONTENT]
    content.append(f"coalesce(CAST(({b.attributes_json()}) AS VARCHAR), '')")
    # An event without an id (no event_id column, or an empty value in it) gets a hash of its content
    # as its id: the same row sent again is then a duplicate, and two different rows never share an id.
    generated = f"md5(concat_ws('|', {', '.join(content)}))"
    given = b.id("event_id") if b.has("event_id") else "CAST(NULL AS VARCHAR)"
    return f"""
        _rec,
        coalesce({given}, {generated}) AS event_id,
        ({given}) IS NULL AS id_generated,
        {b.timestamp('ts')} AS ts,
        lower({b.text('event_type')}) AS event_type,
        {b.id('session_id')} AS session_id,
        {b.id('customer_id')} AS customer_id,
        {b.id('product_id')} AS product_id,
        {b.id('offer_id')} AS offer_id,
        {b.id('bundle_id')} AS bundle_id,
        {b.number('value')} AS value,
        {b.attributes_json()} AS properties"""


def group_rejects(con: duckdb.DuckDBPyConnection, b: Binder) -> str:
    content = ", ".join(_CONTENT)
    id_col = lit(b.label("event_id"))
    return f"""
        SELECT n._rec, {lit(b.label('product_id'))}, n.product_id,
               'unknown product ' || n.product_id || ': not in the warehouse''s products; ingest the catalog '
               || '(bundlewise ingest products) or the orders that sell it first'
        FROM {NORM} n WHERE n.product_id IS NOT NULL AND n.product_id NOT IN (SELECT product_id FROM products)
        UNION ALL
        SELECT n._rec, {id_col}, n.event_id,
               'duplicate key: event ' || n.event_id || ' is already in the warehouse (ingest #' || e.ingest_id ||
               '); event ids must be unique'
        FROM {NORM} n JOIN events e USING (event_id)
        UNION ALL
        SELECT n._rec, {id_col}, n.event_id,
               'duplicate key: event ' || n.event_id || ' appears ' || d.n ||
               ' times in this file with different content; event ids must be unique'
        FROM {NORM} n JOIN (
            SELECT event_id, count(*) AS n FROM {NORM} GROUP BY event_id
            HAVING count(DISTINCT ({content}, CAST(properties AS VARCHAR))) > 1
        ) d USING (event_id)"""


def warnings(con: duckdb.DuckDBPyConnection, b: Binder, same_command: Sequence[int]) -> list[Suspicion]:
    """Event times far outside the file's range (see ingest.suspicious)."""
    return timestamp_outliers(con, "ts", b.label("ts"))


def duplicates(con: duckdb.DuckDBPyConnection, drop: bool) -> int:
    """The same event sent twice (same id, same content): keep one."""
    n = con.execute(f"SELECT count(*) - count(DISTINCT event_id) FROM {NORM}").fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM {NORM} WHERE _rec NOT IN (SELECT min(_rec) FROM {NORM} GROUP BY event_id)")
    return int(n)


def write(con: duckdb.DuckDBPyConnection, ingest_id: int, b: Binder) -> dict[str, int]:
    con.execute(f"""
        INSERT INTO events (event_id, ts, event_type, session_id, customer_id, product_id, offer_id, bundle_id,
                            value, properties, ingest_id)
        SELECT event_id, ts, event_type, session_id, customer_id, product_id, offer_id, bundle_id, value,
               properties, {ingest_id}
        FROM {NORM} ORDER BY _rec""")
    rows = con.execute(f"SELECT event_type, count(*) FROM {NORM} GROUP BY 1 ORDER BY 1").fetchall()
    details = {"events": sum(int(n) for _, n in rows)}
    details.update({f"events_{t}": int(n) for t, n in rows})
    details["generated_event_ids"] = int(con.execute(f"SELECT count(*) FROM {NORM} WHERE id_generated")
                                         .fetchall()[0][0])
    return details
