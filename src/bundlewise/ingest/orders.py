"""Order lines: normalisation, order-level checks and the writes into orders,
order_lines, returns, products (derived) and product_titles.

Routing of every accepted line (nothing is dropped):

* cancellation orders (id starts with the cancel prefix) and negative quantities
  -> ``returns``;
* everything else -> ``order_lines`` (zero-price lines, zero quantities and
  non-product codes included; the ``basket_items`` view keeps them out of baskets).

An order id the warehouse holds is a duplicate key, except for the fixed lines of an order whose
own export quarantined some of its lines (the fix-and-reingest loop): see :func:`_stage_joins`.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from bundlewise.ingest.sqlexpr import Binder, Check, glob_condition, ident, lit
from bundlewise.ingest.suspicious import Suspicion, timestamp_outliers

NORM = "_bw_norm"


def _cancel_condition(binder: Binder, expr: str) -> str:
    prefix = binder.resolved.cancel_prefix
    return f"starts_with({expr}, {lit(prefix)})" if prefix else "FALSE"


def row_checks(b: Binder) -> list[Check]:
    checks: list[Check] = []
    for col in b.columns("quantity"):
        checks.append(Check(col, b.col_text(col), b.col_missing(col),
                            "missing value; quantity must be a number (drop the column to count every line "
                            "as one unit)"))
    non_product = glob_condition(b.id("product_id"), b.resolved.non_product_codes)
    # Returns carry negative amounts in many exports (a refund): only sales must be >= 0.
    is_return = f"({_cancel_condition(b, b.id('order_id'))} OR coalesce({b.number('quantity')}, 1) < 0)"
    for name in ("unit_price", "line_total"):
        if b.has(name) and len(b.columns(name)) == 1:
            col = b.columns(name)[0]
            checks.append(Check(col, b.col_text(col),
                                f"({b.number(name)}) < 0 AND NOT {non_product} AND NOT {is_return}",
                                f"{name} must be >= 0 for products (fees and adjustments may be negative "
                                "only when their code is a non-product code: --non-product CODE)"))
    if b.has("discount"):
        checks.append(Check(b.label("discount"), f"CAST(({b.number('discount')}) AS VARCHAR)",
                            f"({b.number('discount')}) < 0",
                            "discount must be >= 0 (an amount taken off the line)"))
    return checks


def normalize_select(b: Binder) -> str:
    quantity = f"coalesce({b.number('quantity')}, 1.0)" if b.has("quantity") else "1.0"
    if b.has("unit_price"):
        price = b.number("unit_price")
    elif b.has("line_total"):
        price = f"({b.number('line_total')}) / nullif({quantity}, 0)"
    else:
        price = "CAST(NULL AS DOUBLE)"
    order_id = b.id("order_id")
    product_id = b.id("product_id")
    return f"""
        _rec,
        {order_id} AS order_id,
        {product_id} AS product_id,
        {quantity} AS quantity,
        {price} AS unit_price,
        {b.number('discount')} AS discount,
        {b.timestamp('ordered_at')} AS ordered_at,
        {b.id('customer_id')} AS customer_id,
        {b.id('store_id')} AS store_id,
        {b.text('segment')} AS segment,
        {b.text('title')} AS title,
        {b.text('category_path')} AS category_path,
        {_cancel_condition(b, order_id)} AS is_cancel,
        {_cancel_condition(b, order_id)} OR {quantity} < 0 AS is_return,
        {glob_condition(product_id, b.resolved.non_product_codes)} AS is_non_product"""


def warnings(con: duckdb.DuckDBPyConnection, b: Binder, same_command: Sequence[int]) -> list[Suspicion]:
    """Order times far outside the file's range (see ingest.suspicious)."""
    return timestamp_outliers(con, "ordered_at", b.label("ordered_at")) if b.has("ordered_at") else []


def line_hash() -> str:
    """A 64-bit hash of a normalised line, for counting exact duplicates cheaply."""
    return "hash(" + ", ".join(ident(c) for c in _LINE_COLUMNS) + ")"


RECORD_KEY = "order_id"  # stored with each quarantined line (rejected_rows.record_key)
JOIN, OPEN = "_bw_join", "_bw_open"
_DUPLICATE = "duplicate key: order "
# A line joining an order the warehouse holds must carry the order's time give or take this much
# (lines of one export rarely differ by more than minutes; a reused id is usually months apart).
JOIN_TIME_TOLERANCE = "INTERVAL 1 DAY"


def _stage_joins(con: duckdb.DuckDBPyConnection) -> None:
    """Decide, per order of this file, whether it is new, joins an order we hold, or is a duplicate key.

    ``_bw_open`` lists the quarantined records a line of this file may resolve: not yet resolved, not
    themselves refused as a duplicate key, and, for an order the warehouse holds, quarantined by an
    ingest that wrote lines of that order (the same export), so the lines of a *different* order that
    reuses the id never count. ``_bw_join`` holds each held order with its lines in this file
    (``n_lines``) and open records (``n_open``); its lines join when ``n_lines <= n_open``.
    """
    for table in (JOIN, OPEN):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"""
        CREATE TEMP TABLE {OPEN} AS
        WITH keys AS (SELECT DISTINCT order_id FROM {NORM}),
        records AS (
            SELECT record_key AS order_id, ingest_id, row_number FROM rejected_rows
            WHERE kind = 'orders' AND resolved_by_ingest IS NULL AND record_key IN (SELECT order_id FROM keys)
            GROUP BY ALL HAVING NOT bool_or(starts_with(reason, {lit(_DUPLICATE)}))),
        contributed AS (  -- (order, ingest) pairs where that ingest wrote lines of the order
            SELECT order_id, ingest_id FROM orders WHERE order_id IN (SELECT order_id FROM records)
            UNION SELECT order_id, ingest_id FROM order_lines WHERE order_id IN (SELECT order_id FROM records)
            UNION SELECT order_id, ingest_id FROM returns WHERE order_id IN (SELECT order_id FROM records))
        SELECT r.* FROM records r
        WHERE r.order_id NOT IN (SELECT order_id FROM orders)
           OR (r.order_id, r.ingest_id) IN (SELECT (order_id, ingest_id) FROM contributed)""")
    con.execute(f"""
        CREATE TEMP TABLE {JOIN} AS
        SELECT n.order_id, count(*) AS n_lines, coalesce(any_value(p.n_open), 0) AS n_open,
               count(*) <= coalesce(any_value(p.n_open), 0) AS joins
        FROM {NORM} n JOIN orders o USING (order_id)
        LEFT JOIN (SELECT order_id, count(*) AS n_open FROM {OPEN} GROUP BY 1) p USING (order_id)
        GROUP BY n.order_id""")


def group_rejects(con: duckdb.DuckDBPyConnection, b: Binder) -> str:
    """SQL yielding (_rec, column_name, value, reason) for order-level problems."""
    _stage_joins(con)
    order_col = lit(b.label("order_id"))
    parts = [
        # An order belongs to one customer; lines that disagree cannot be reconciled.
        f"""SELECT n._rec, {lit(b.label('customer_id'))}, n.customer_id,
               'order ' || n.order_id || ' has lines for ' || c.n || ' different customers (' || c.ids ||
               '); one order must belong to one customer'
            FROM {NORM} n JOIN (
                SELECT order_id, count(DISTINCT customer_id) AS n,
                       string_agg(DISTINCT customer_id, ', ' ORDER BY customer_id) AS ids
                FROM {NORM} GROUP BY order_id HAVING count(DISTINCT customer_id) > 1
            ) c USING (order_id)""",
        # Duplicate key: the order was loaded before; loading it again double-counts. Only the fixed
        # lines of an order whose own ingest quarantined some of its lines may join it (see _stage_joins).
        f"""SELECT n._rec, {order_col}, n.order_id,
               {lit(_DUPLICATE)} || n.order_id || ' is already in the warehouse (ingest #' ||
               o.ingest_id || ' from ' || coalesce(l.source, '?') || ')' ||
               CASE WHEN j.n_open > 0 THEN '; it has ' || j.n_open || ' quarantined line(s) not yet fixed but '
                    || 'this file has ' || j.n_lines || ' lines of it: to complete the order, ingest only the '
                    || 'fixed lines (bundlewise rejects --raw --ingest ' || o.ingest_id || ' --output fix.csv)'
                    ELSE '; remove the order from this file or load only new orders' END
            FROM {NORM} n JOIN {JOIN} j USING (order_id) JOIN orders o USING (order_id)
            LEFT JOIN ingest_log l ON l.ingest_id = o.ingest_id
            WHERE NOT j.joins""",
    ]
    # A fixed line joins its order only if it agrees with the order's header.
    for name, differs, shown in (
        ("customer_id", "n.customer_id <> o.customer_id", "o.customer_id"),
        ("store_id", "n.store_id <> o.store_id", "o.store_id"),
        ("ordered_at", f"(n.ordered_at < o.ordered_at - {JOIN_TIME_TOLERANCE} OR "
                       f"n.ordered_at > o.ordered_at + {JOIN_TIME_TOLERANCE})", "CAST(o.ordered_at AS VARCHAR)"),
    ):
        if not b.has(name):
            continue
        extra = ", within a day" if name == "ordered_at" else ""
        parts.append(f"""
            SELECT n._rec, {lit(b.label(name))}, CAST(n.{name} AS VARCHAR),
                   'order ' || n.order_id || ' is in the warehouse (ingest #' || o.ingest_id || ') with {name} '
                   || {shown} || '; a line joining it must agree{extra} (if this is another order, give it '
                   || 'a new order id)'
            FROM {NORM} n JOIN {JOIN} j USING (order_id) JOIN orders o USING (order_id)
            WHERE j.joins AND {differs}""")
    return "\nUNION ALL\n".join(parts)


_LINE_COLUMNS = ("order_id", "product_id", "quantity", "unit_price", "discount", "ordered_at", "customer_id",
                 "store_id", "segment", "title", "category_path")


def duplicates(con: duckdb.DuckDBPyConnection, drop: bool) -> int:
    """Count (and optionally drop) lines that repeat an earlier line of the file exactly.

    Counting compares 64-bit hashes of the lines (a collision among half a million lines has a
    probability near 1e-8 and would only lower this informational count by one); dropping compares
    the lines themselves.
    """
    n = int(con.execute(f"SELECT count(*) - count(DISTINCT {line_hash()}) FROM {NORM}").fetchall()[0][0])
    if n and drop:
        cols = ", ".join(ident(c) for c in _LINE_COLUMNS)
        con.execute(f"""DELETE FROM {NORM} WHERE _rec IN (
            SELECT _rec FROM (SELECT _rec, row_number() OVER (PARTITION BY {cols} ORDER BY _rec) AS k
                              FROM {NORM} WHERE {line_hash()} IN (
                                  SELECT {line_hash()} FROM {NORM} GROUP BY ALL HAVING count(*) > 1))
            WHERE k > 1)""")
    return n


def write(con: duckdb.DuckDBPyConnection, ingest_id: int, b: Binder) -> dict[str, int]:
    """Write accepted lines; return the counts a user checks first."""
    sale = "NOT is_return AND quantity > 0 AND (unit_price IS NULL OR unit_price > 0)"
    con.execute(f"""
        CREATE TEMP TABLE _bw_orders AS
        SELECT order_id, max(customer_id) AS customer_id, min(ordered_at) AS ordered_at, min(store_id) AS store_id,
               min(segment) AS segment, CASE WHEN bool_or(is_cancel) THEN 'cancellation' ELSE 'sale' END AS kind,
               bool_or({sale}) AS has_sale, bool_or({sale} AND NOT is_non_product) AS has_basket
        FROM {NORM} GROUP BY order_id""")
    # Orders the warehouse holds already take the fixed lines that passed _stage_joins; their header
    # fills in what it lacked and its time is the earliest line's, as for a new order.
    n_joined, lines_joined = con.execute(f"""
        SELECT count(DISTINCT order_id), count(*) FROM {NORM} WHERE order_id IN (SELECT order_id FROM orders)
    """).fetchall()[0]
    con.execute("""
        UPDATE orders AS o SET customer_id = coalesce(o.customer_id, j.customer_id),
                               ordered_at = least(o.ordered_at, j.ordered_at),
                               store_id = coalesce(o.store_id, j.store_id), segment = coalesce(o.segment, j.segment)
        FROM _bw_orders j WHERE o.order_id = j.order_id""")
    con.execute(f"INSERT INTO orders SELECT order_id, customer_id, ordered_at, store_id, segment, kind, {ingest_id} "
                "FROM _bw_orders ANTI JOIN orders USING (order_id)")
    _resolve(con, ingest_id)
    con.execute(f"""
        INSERT INTO order_lines
        SELECT order_id, product_id, quantity, unit_price, discount, {ingest_id}, _rec + 1
        FROM {NORM} WHERE NOT is_return""")
    con.execute(f"""
        INSERT INTO returns
        SELECT order_id, product_id, abs(quantity), unit_price, ordered_at, customer_id,
               CASE WHEN is_cancel THEN 'cancellation' ELSE 'negative_quantity' END, {ingest_id}, _rec + 1
        FROM {NORM} WHERE is_return""")
    products_new, products_updated = _merge_products(con, ingest_id)
    _merge_titles(con)
    row = con.execute(f"""
        SELECT count(*),
               (SELECT count(*) FROM _bw_orders),
               (SELECT count(*) FROM _bw_orders WHERE has_sale),
               (SELECT count(*) FROM _bw_orders WHERE has_basket),
               count(*) FILTER (WHERE {sale}),
               count(*) FILTER (WHERE is_return),
               count(*) FILTER (WHERE is_return AND is_cancel),
               count(*) FILTER (WHERE is_return AND NOT is_cancel),
               count(*) FILTER (WHERE NOT is_return AND (quantity = 0 OR unit_price <= 0)),
               count(*) FILTER (WHERE {sale} AND is_non_product),
               count(*) FILTER (WHERE customer_id IS NULL)
        FROM {NORM}""").fetchall()[0]
    for table in ("_bw_orders", JOIN, OPEN):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    keys = ("lines", "orders", "sale_orders", "basket_orders", "sale_lines", "return_lines", "cancellation_lines",
            "negative_quantity_lines", "zero_price_or_quantity_lines", "non_product_lines", "lines_without_customer")
    details = {k: int(v) for k, v in zip(keys, row, strict=True)}
    details["orders"] -= int(n_joined)
    details["orders_joined"] = int(n_joined)
    details["lines_joined"] = int(lines_joined)
    details["products"] = products_new + products_updated
    details["products_new"] = products_new
    details["products_updated"] = products_updated
    return details


def _resolve(con: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
    """Mark as fixed the quarantined records that this file's lines replace, oldest first, one per line."""
    con.execute(f"""
        UPDATE rejected_rows AS r SET resolved_by_ingest = {ingest_id}
        FROM (
            SELECT ingest_id, row_number FROM (
                SELECT p.*, row_number() OVER (PARTITION BY p.order_id ORDER BY p.ingest_id, p.row_number) AS k
                FROM {OPEN} p) x
            JOIN (SELECT order_id, count(*) AS n FROM {NORM} GROUP BY 1) c USING (order_id)
            WHERE x.k <= c.n
        ) f
        WHERE r.kind = 'orders' AND r.ingest_id = f.ingest_id AND r.row_number = f.row_number""")


def _merge_products(con: duckdb.DuckDBPyConnection, ingest_id: int) -> tuple[int, int]:
    """Derive products from the lines: latest description and latest positive price per product.

    Catalog products keep their catalog fields; derived ones take the newest values.
    """
    con.execute(f"""
        CREATE TEMP TABLE _bw_derived AS
        SELECT product_id,
               last(title ORDER BY ordered_at NULLS FIRST, _rec) FILTER (WHERE title IS NOT NULL) AS title,
               last(category_path ORDER BY ordered_at NULLS FIRST, _rec)
                   FILTER (WHERE category_path IS NOT NULL) AS category_path,
               last(unit_price ORDER BY ordered_at NULLS FIRST, _rec)
                   FILTER (WHERE unit_price > 0 AND NOT is_return) AS price,
               bool_or(is_non_product) AS is_non_product,
               min(ordered_at) AS first_seen_at, max(ordered_at) AS last_seen_at
        FROM {NORM} GROUP BY product_id""")
    n_new = con.execute("SELECT count(*) FROM _bw_derived ANTI JOIN products USING (product_id)").fetchall()[0][0]
    n_old = con.execute("SELECT count(*) FROM _bw_derived SEMI JOIN products USING (product_id)").fetchall()[0][0]
    con.execute(f"""
        INSERT INTO products (product_id, title, category_path, price, is_product, origin, first_seen_at,
                              last_seen_at, ingest_id)
        SELECT product_id, title, category_path, price, NOT is_non_product, 'derived', first_seen_at,
               last_seen_at, {ingest_id}
        FROM _bw_derived ANTI JOIN products USING (product_id)
        ON CONFLICT DO NOTHING""")
    # Existing products: derived ones take newer values; every product's seen-range widens.
    con.execute("""
        UPDATE products AS p SET
            title = CASE WHEN p.origin = 'derived' AND (p.last_seen_at IS NULL OR d.last_seen_at >= p.last_seen_at)
                         THEN coalesce(d.title, p.title) ELSE coalesce(p.title, d.title) END,
            category_path = CASE WHEN p.origin = 'derived' AND (p.last_seen_at IS NULL OR
                                      d.last_seen_at >= p.last_seen_at)
                         THEN coalesce(d.category_path, p.category_path)
                         ELSE coalesce(p.category_path, d.category_path) END,
            price = CASE WHEN p.origin = 'derived' AND (p.last_seen_at IS NULL OR d.last_seen_at >= p.last_seen_at)
                         THEN coalesce(d.price, p.price) ELSE coalesce(p.price, d.price) END,
            is_product = p.is_product AND NOT d.is_non_product,
            first_seen_at = least(p.first_seen_at, d.first_seen_at),
            last_seen_at = greatest(p.last_seen_at, d.last_seen_at)
        FROM _bw_derived d
        WHERE p.product_id = d.product_id AND p.ingest_id IS DISTINCT FROM """ + str(ingest_id))
    con.execute("DROP TABLE _bw_derived")
    return int(n_new), int(n_old)


def _merge_titles(con: duckdb.DuckDBPyConnection) -> None:
    """Keep every description a product was sold under (they change over time)."""
    con.execute(f"""
        INSERT INTO product_titles
        SELECT product_id, title, count(*), min(ordered_at), max(ordered_at)
        FROM {NORM} WHERE title IS NOT NULL GROUP BY product_id, title
        ON CONFLICT (product_id, title) DO UPDATE SET
            n_lines = product_titles.n_lines + excluded.n_lines,
            first_seen_at = least(product_titles.first_seen_at, excluded.first_seen_at),
            last_seen_at = greatest(product_titles.last_seen_at, excluded.last_seen_at)""")
