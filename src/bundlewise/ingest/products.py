"""Catalog files: normalisation, duplicate product ids and the upsert into ``products``.

A catalog row overrides derived values; a column the file does not carry keeps the
value already stored (so a price-only file updates prices and nothing else).
"""

from __future__ import annotations

import duckdb

from bundlewise.ingest.sqlexpr import Binder, Check, lit

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
        {b.boolean('is_product')} AS is_product,
        {b.attributes_json()} AS attributes"""


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


def duplicates(con: duckdb.DuckDBPyConnection, drop: bool) -> int:
    """Identical rows for one product are harmless: keep the first, count the rest."""
    n = con.execute(f"SELECT count(*) - count(DISTINCT product_id) FROM {NORM}").fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM {NORM} WHERE _rec NOT IN (SELECT min(_rec) FROM {NORM} GROUP BY product_id)")
    return int(n)


def write(con: duckdb.DuckDBPyConnection, ingest_id: int, b: Binder) -> dict[str, int]:
    n_new = con.execute(f"SELECT count(*) FROM {NORM} ANTI JOIN products USING (product_id)").fetchall()[0][0]
    n_rows = con.execute(f"SELECT count(*) FROM {NORM}").fetchall()[0][0]
    updates = ",\n".join(
        f"{c} = coalesce(excluded.{c}, products.{c})" for c in _VALUE_COLUMNS if c != "is_product"
    )
    con.execute(f"""
        INSERT INTO products (product_id, title, description, category_path, brand, price, cost, stock,
                              is_product, origin, attributes, ingest_id)
        SELECT product_id, title, description, category_path, brand, price, cost, stock,
               coalesce(is_product, TRUE), 'catalog', attributes, {ingest_id}
        FROM {NORM} ORDER BY _rec
        ON CONFLICT (product_id) DO UPDATE SET
            {updates},
            is_product = coalesce({'excluded.is_product' if b.has('is_product') else 'NULL'},
                                  products.is_product),
            attributes = coalesce(excluded.attributes, products.attributes),
            origin = 'catalog',
            ingest_id = excluded.ingest_id""")
    return {"products": int(n_rows), "products_new": int(n_new), "products_updated": int(n_rows - n_new)}
