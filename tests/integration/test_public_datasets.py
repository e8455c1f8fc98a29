"""Real public datasets: the published counts, through the real CLI and the Python API."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bundlewise.cli.app import app
from bundlewise.ingest import Warehouse
from bundlewise.ingest.datasets import load_dataset
from tests.conftest import shared_path

runner = CliRunner()
pytestmark = pytest.mark.shared  # each test skips by itself when ../shared is absent


@pytest.mark.slow
def test_online_retail_published_counts(tmp_path: Path) -> None:
    path = shared_path("online_retail", "online_retail.csv.gz")
    db = str(tmp_path / "w.duckdb")
    result = runner.invoke(app, ["--db", db, "-q", "ingest", "orders", str(path), "--preset", "online-retail"])
    assert result.exit_code == 0, result.output
    out = result.output
    # UCI Online Retail: 541,909 lines, 25,900 invoices, 4,070 stock codes; without cancellations and
    # non-positive quantity or price: 530,104 lines in 19,960 invoices.
    assert "read 541,909 · accepted 541,909 · rejected 0" in out
    assert "orders 25,900 · products 4,070" in out
    assert "sale lines 530,104 in 19,960 orders" in out
    with Warehouse(db, read_only=True) as wh:
        q = wh.con.execute
        assert q("SELECT count(*) FROM order_lines").fetchall()[0][0] + \
            q("SELECT count(*) FROM returns").fetchall()[0][0] == 541_909
        assert q("SELECT count(*) FROM order_lines WHERE unit_price > 0 AND quantity > 0").fetchall()[0][0] == 530_104
        assert q("SELECT count(*) FROM orders WHERE kind = 'cancellation'").fetchall()[0][0] == 3_836
        # the UCI describe(): 406,829 lines carry a customer id
        n_customer = q("SELECT count(*) FROM (SELECT order_id FROM order_lines UNION ALL SELECT order_id FROM returns)"
                       " JOIN orders USING (order_id) WHERE customer_id IS NOT NULL").fetchall()[0][0]
        assert n_customer == 406_829
        # stock codes whose description changed over time keep every description
        assert q("SELECT count(*) FROM (SELECT product_id FROM product_titles GROUP BY 1 HAVING count(*) > 1)"
                 ).fetchall()[0][0] > 100


def test_groceries_counts(tmp_path: Path) -> None:
    path = shared_path("groceries", "groceries.csv")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load_dataset(wh, "groceries", path)
        q = wh.con.execute
        assert q("SELECT count(DISTINCT order_id), count(DISTINCT product_id), count(*) FROM basket_items"
                 ).fetchall() == [(9_835, 169, 43_367)]
        # the item hierarchy beside the baskets became the catalog (level1 > level2)
        assert q("SELECT category_path FROM products WHERE product_id = 'whole milk'").fetchall() == [
            ("fresh products > dairy produce",)]


def test_instacart_sample_counts(tmp_path: Path) -> None:
    folder = shared_path("instacart_sample")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load_dataset(wh, "instacart-sample", folder)
        q = wh.con.execute
        assert q("SELECT count(DISTINCT order_id), count(*) FROM basket_items").fetchall() == [(15_183, 150_000)]
        assert q("SELECT title, category_path FROM products WHERE product_id = '196'").fetchall() == [
            ("Soda", "beverages > soft drinks")]
        # no dates in Instacart: each customer's orders end on one relative calendar day, in sequence
        assert q("SELECT count(*) FROM orders WHERE ordered_at IS NULL").fetchall() == [(0,)]
        assert q("""SELECT count(DISTINCT customer_id), count(*) FROM (
                       SELECT customer_id, max(ordered_at) AS last FROM orders GROUP BY 1)
                     WHERE CAST(last AS DATE) = DATE '2017-12-31'""").fetchall() == [(593, 593)]
        # user 1: 10 orders in the sample; the first (order_number 1) was placed at 08:00, the last ends
        # the calendar
        rows = q("SELECT ordered_at FROM orders WHERE customer_id = '1' ORDER BY ordered_at").fetchall()
        assert len(rows) == 10 and rows[0][0].hour == 8 and str(rows[-1][0].date()) == "2017-12-31"
