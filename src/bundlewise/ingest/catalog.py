"""The product catalogue as one table: what the text, pair and bundle stages read.

Examples
--------
>>> from bundlewise.ingest import Warehouse
>>> with Warehouse(":memory:") as wh:
...     load_catalog(wh).columns.tolist()[:4]
['product_id', 'title', 'description', 'category_path']
"""

from __future__ import annotations

import pandas as pd

from bundlewise.ingest.warehouse import Warehouse

CATALOG_COLUMNS = ("product_id", "title", "description", "category_path", "brand", "price", "cost", "stock",
                   "n_orders")


def load_catalog(wh: Warehouse, *, products_only: bool = True) -> pd.DataFrame:
    """Every product of the warehouse, sorted by id, with the number of baskets it is in.

    Parameters
    ----------
    wh : Warehouse
    products_only : bool
        Leave out fees, postage, fuel and coupons (``is_product`` false).

    Returns
    -------
    DataFrame
        Columns ``product_id, title, description, category_path, brand, price, cost, stock,
        n_orders``; text columns are empty strings where unknown, numbers NaN.
    """
    where = "WHERE p.is_product" if products_only else ""
    df = wh.con.sql(
        f"""SELECT p.product_id, coalesce(p.title, '') AS title, coalesce(p.description, '') AS description,
                   coalesce(p.category_path, '') AS category_path, coalesce(p.brand, '') AS brand,
                   p.price, p.cost, p.stock, coalesce(n.n_orders, 0) AS n_orders
            FROM products p
            LEFT JOIN (SELECT product_id, count(*) AS n_orders FROM basket_items GROUP BY 1) n USING (product_id)
            {where}
            ORDER BY p.product_id""").df()
    for col in ("price", "cost", "stock"):
        df[col] = df[col].astype("float64")
    df["n_orders"] = df["n_orders"].astype("int64")
    return df.reset_index(drop=True)
