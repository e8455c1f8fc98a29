"""Ingest benchmark: Online Retail into a DuckDB file, bundlewise vs pandas + DuckDB.

Run: ``python -m bench.bench_ingest`` (from the repository root). Contenders, each in
a fresh process, each writing a new DuckDB file:

* ``bundlewise``   — ``ingest_files`` with the online-retail preset: parse, validate every
  field, route cancellations/negatives to returns, flag fee codes, derive products and
  titles, write 6 tables in one transaction.
* ``pandas_bare``  — the usual peer: ``pandas.read_csv`` + ``CREATE TABLE AS SELECT * FROM df``.
  No validation, no cleaning; one raw table.
* ``pandas_clean`` — the same peer doing the same job as bundlewise (same cleaning rules,
  orders/lines/returns/products tables), written the way a pandas user would.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

from bench._harness import SHARED, child_main, measure

FILE = SHARED / "online_retail" / "online_retail.csv.gz"
FEES = ["POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"]


def _db() -> str:
    path = Path(tempfile.mkdtemp()) / "bench.duckdb"
    return str(path)


def bundlewise(clock, path: str = str(FILE)) -> dict:  # type: ignore[no-untyped-def]
    from bundlewise.config import IngestConfig
    from bundlewise.ingest import Warehouse, ingest_files

    db = _db()
    clock.start()
    with Warehouse(db) as wh:
        [r] = ingest_files(wh, [path], IngestConfig(kind="orders", preset="online-retail"))
    clock.stop()
    return {"sale_lines": r.details["sale_lines"], "sale_orders": r.details["sale_orders"]}


def pandas_bare(clock, path: str = str(FILE)) -> dict:  # type: ignore[no-untyped-def]
    import duckdb
    import pandas as pd

    db = _db()
    clock.start()
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str},
                     parse_dates=["InvoiceDate"])
    con = duckdb.connect(db)
    con.execute("CREATE TABLE lines AS SELECT * FROM df")
    con.close()
    clock.stop()
    return {"rows": len(df)}


def pandas_clean(clock, path: str = str(FILE)) -> dict:  # type: ignore[no-untyped-def]
    import duckdb
    import pandas as pd

    db = _db()
    clock.start()
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str},
                     parse_dates=["InvoiceDate"])
    df["CustomerID"] = df["CustomerID"].str.replace(r"\.0$", "", regex=True)
    is_cancel = df["InvoiceNo"].str.startswith("C")
    is_return = is_cancel | (df["Quantity"] < 0)
    is_fee = df["StockCode"].isin(FEES) | df["StockCode"].str.startswith("gift_0001_")
    orders = (df.groupby("InvoiceNo", sort=False)
              .agg(customer_id=("CustomerID", "max"), ordered_at=("InvoiceDate", "min"),
                   segment=("Country", "min"))
              .reset_index())
    orders["kind"] = orders["InvoiceNo"].str.startswith("C").map({True: "cancellation", False: "sale"})
    lines = df[~is_return].copy()
    lines["line_no"] = lines.groupby("InvoiceNo").cumcount() + 1
    returns = df[is_return].copy()
    returns["reason"] = is_cancel[is_return].map({True: "cancellation", False: "negative_quantity"})
    returns["Quantity"] = returns["Quantity"].abs()
    latest = df.sort_values("InvoiceDate", kind="stable")
    products = latest.dropna(subset=["Description"]).groupby("StockCode").agg(title=("Description", "last"))
    prices = latest[(latest["UnitPrice"] > 0) & ~is_return].groupby("StockCode").agg(price=("UnitPrice", "last"))
    products = products.join(prices, how="outer").reset_index()
    products["is_product"] = ~(products["StockCode"].isin(FEES) | products["StockCode"].str.startswith("gift_0001_"))
    sale = (~is_return) & (df["Quantity"] > 0) & (df["UnitPrice"] > 0)
    con = duckdb.connect(db)
    con.execute("BEGIN")
    for name, frame in (("orders", orders), ("order_lines", lines), ("returns", returns), ("products", products)):
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.execute("COMMIT")
    con.close()
    clock.stop()
    return {"sale_lines": int(sale.sum()), "sale_orders": int(df.loc[sale, "InvoiceNo"].nunique()),
            "fee_lines": int((sale & is_fee).sum())}


CONTENDERS = {"bundlewise": bundlewise, "pandas_bare": pandas_bare, "pandas_clean": pandas_clean}


def main() -> None:
    if not FILE.exists():
        raise SystemExit(f"{FILE} is missing (the shared datasets folder); nothing to benchmark")
    with gzip.open(FILE, "rb") as fh:
        uncompressed_mb = len(fh.read()) / 2**20
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    results = {name: measure("bench_ingest", name, repeats=repeats) for name in CONTENDERS}
    ours = results["bundlewise"]
    print(f"Online Retail: {FILE.name}, {uncompressed_mb:.1f} MiB uncompressed; median of {repeats} fresh processes")
    print(f"{'contender':<14}{'seconds':>9}{'runs':>28}{'peak MiB':>10}{'Δ MiB':>8}{'× ours (time)':>15}"
          f"{'× ours (Δ mem)':>16}")
    for name, r in results.items():
        print(f"{name:<14}{r['seconds']:>9.3f}{str(r['seconds_all']):>28}{r['peak_mb']:>10.0f}{r['delta_mb']:>8.0f}"
              f"{r['seconds'] / ours['seconds']:>15.2f}{r['delta_mb'] / ours['delta_mb']:>16.2f}")
    print(f"bundlewise peak memory above baseline: {ours['delta_mb']:.0f} MiB = "
          f"{ours['delta_mb'] / uncompressed_mb:.2f}× the uncompressed file (goal ≤ 2×)")
    same = (ours["sale_lines"], ours["sale_orders"]) == (results["pandas_clean"]["sale_lines"],
                                                          results["pandas_clean"]["sale_orders"])
    print(f"same sale lines/orders as the pandas peer: {same} ({ours['sale_lines']:,} / {ours['sale_orders']:,})")


if __name__ == "__main__":
    import sys

    if "--contender" in sys.argv:
        child_main(CONTENDERS, preload=("duckdb", "pyarrow", "pyarrow.csv", "pandas", "numpy", "bundlewise.ingest"))
    else:
        main()
