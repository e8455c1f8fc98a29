"""Catalog files: normalisation, duplicate product ids and the upsert into ``products``.

A catalog row overrides derived values; a column the file does not carry keeps the
value already stored (so a price-only file updates prices and nothing else).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from bundlewise.ingest.sqlexpr import Binder, Check, glob_condition, lit
from bundlewise.ingest.suspicious import Suspicion, find, ingest_list

NORM = "_bw_norm"
_VALUE_COLUMNS = ("title", "description", "category_path", "brand", "price", "cost", "stock", "is_product")


def row_checks(b: Binder) -> list[Check]:
    checks = []
    for name in ("price", "cost"):
        for col in b.columns(name):
            checks.append(Check(col, b.col_text(col), f"({b.col_number(col)}) < 0",
                                f"{name} must be >= 0"))
    return checks


def normalize_select(b: Binder) -> str:
    return f"""
        _rec,
        {b.id('product_id')} AS product_id,
        {b.text('title')} AS title,
        {b.text('description')} AS description,
        {b.text('category_path')} AS category_path,
        {b.text('brand')} AS brand,
        {b.number('price')} AS price,
        {b.number('cost')} AS cost,
        {b.number('stock')} AS stock,
        {_is_product(b)} AS is_product,
        {b.attributes_json()} AS attributes"""


def _is_product(b: Binder) -> str:
    """Explicit flag first; else not a product when the id is a non-product code or the category matches."""
    excluded = f"{glob_condition(b.id('product_id'), b.resolved.non_product_codes)} OR " \
               f"coalesce({glob_condition(b.text('category_path'), b.resolved.non_product_categories)}, FALSE)"
    if not (b.resolved.non_product_codes or b.resolved.non_product_categories):
        return b.boolean("is_product")
    return f"coalesce({b.boolean('is_product')}, NOT ({excluded}))"


def group_rejects(con: duckdb.DuckDBPyConnection, b: Binder) -> str:
    # Two rows for one product that disagree: we cannot know which is right, so both are rejected.
    values = ", ".join(_VALUE_COLUMNS) + ", CAST(attributes AS VARCHAR)"
    return f"""
        SELECT n._rec, {lit(b.label('product_id'))}, n.product_id,
               'duplicate key: product ' || n.product_id || ' appears ' || d.n ||
               ' times in this file with different values; keep one row per product'
        FROM {NORM} n JOIN (
            SELECT product_id, count(*) AS n FROM {NORM} GROUP BY product_id
            HAVING count(DISTINCT ({values})) > 1
        ) d USING (product_id)"""


def warnings(con: duckdb.DuckDBPyConnection, b: Binder, same_command: Sequence[int]) -> list[Suspicion]:
    """Negative stock, cost above price, and products an earlier file of this command described otherwise."""
    found: list[Suspicion] = []
    if b.has("stock"):
        found += find(con, f"SELECT _rec, stock AS value FROM {NORM} WHERE stock < 0", b.label("stock"),
                      "is negative; loaded as is (a back-order count or a sign error? check the export)")
    if b.has("cost") or b.has("price"):
        # The values the product will hold: a price-only file is checked against the stored cost too.
        found += find(con, f"""
            SELECT n._rec, 'cost ' || coalesce(n.cost, p.cost) || ' > price ' || coalesce(n.price, p.price) AS value
            FROM {NORM} n LEFT JOIN products p USING (product_id)
            WHERE coalesce(n.cost, p.cost) > coalesce(n.price, p.price)""",
                      b.label("cost") if b.has("cost") else b.label("price"),
                      "is above the price: every sale loses money; loaded as is (are cost and price swapped?)")
    if same_command:
        for name in ("title", "price", "category_path"):
            if b.has(name):
                found += find(con, f"""
                    SELECT n._rec, n.{name} || ' vs ' || p.{name} || ' in ' ||
                                   regexp_extract(l.source, '[^/\\\\]+$') AS value
                    FROM {NORM} n JOIN products p USING (product_id) JOIN ingest_log l ON l.ingest_id = p.ingest_id
                    WHERE p.ingest_id IN ({ingest_list(same_command)}) AND n.{name} <> p.{name}""",
                              b.label(name), "differs from an earlier file of this command (the later file wins); "
                                             "loaded as is, check which one is right")
    return found


def duplicates(con: duckdb.DuckDBPyConnection, drop: bool) -> int:
    """Identical rows for one product are harmless: keep the first, count the rest."""
    n = con.execute(f"SELECT count(*) - count(DISTINCT product_id) FROM {NORM}").fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM {NORM} WHERE _rec NOT IN (SELECT min(_rec) FROM {NORM} GROUP BY product_id)")
    return int(n)


def write(con: duckdb.DuckDBPyConnection, ingest_id: int, b: Binder) -> dict[str, int]:
    n_new = con.execute(f"SELECT count(*) FROM {NORM} ANTI JOIN products USING (product_id)").fetchall()[0][0]
    n_rows = con.execute(f"SELECT count(*) FROM {NORM}").fetchall()[0][0]
    con.execute(f"""
        INSERT INTO products (product_id, title, description, category_path, brand, price, cost, stock,
                              is_product, origin, attributes, ingest_id)
        SELECT product_id, title, description, category_path, brand, price, cost, stock,
               coalesce(is_product, TRUE), 'catalog', attributes, {ingest_id}
        FROM {NORM} ANTI JOIN products USING (product_id) ORDER BY _rec""")
    # Existing products: a value the file carries replaces the stored one; a missing value keeps it.
    updates = ",\n".join(f"{c} = coalesce(n.{c}, p.{c})" for c in (*_VALUE_COLUMNS, "attributes"))
    con.execute(f"""
        UPDATE products AS p SET {updates}, origin = 'catalog', ingest_id = {ingest_id}
        FROM {NORM} n WHERE p.product_id = n.product_id AND p.ingest_id IS DISTINCT FROM {ingest_id}""")
    return {"products": int(n_rows), "products_new": int(n_new), "products_updated": int(n_rows - n_new)}
