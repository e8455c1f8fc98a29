from __future__ import annotations

import numpy as np
import pytest

from bundlewise.ingest import Warehouse
from bundlewise.ingest.catalog import load_catalog
from bundlewise.text import ProductEncoder, embed_catalog, embed_texts, product_texts

TITLES = {"p1": "hot dog buns", "p2": "hamburger buns", "p3": "ketchup 500 ml", "p4": "mustard", "p5": "mustard"}


def _fill(wh: Warehouse, titles: dict[str, str] = TITLES) -> None:
    wh.con.executemany("INSERT INTO products (product_id, title, origin) VALUES (?, ?, 'catalog')",
                       [[k, v] for k, v in titles.items()])


def test_second_run_is_all_cached(wh: Warehouse, minilm: ProductEncoder) -> None:
    _fill(wh)
    first = embed_catalog(wh, minilm)
    assert (first.n_embedded, first.n_cached) == (4, 0)  # p4 and p5 share one text
    assert list(first.product_ids) == ["p1", "p2", "p3", "p4", "p5"] and first.vectors.shape == (5, 384)
    again = embed_catalog(wh, minilm)
    assert (again.n_embedded, again.n_cached) == (0, 4)
    assert np.array_equal(first.vectors, again.vectors)
    direct = minilm.encode(product_texts(load_catalog(wh)))
    np.testing.assert_allclose(again.vectors, direct, atol=1e-5)
    assert wh.con.execute("SELECT count(*), min(dim) FROM text_embeddings").fetchall() == [(4, 384)]


def test_changed_title_reembeds_exactly_one(wh: Warehouse, minilm: ProductEncoder) -> None:
    _fill(wh)
    before = embed_catalog(wh, minilm)
    wh.con.execute("UPDATE products SET title = 'tomato ketchup 1 l' WHERE product_id = 'p3'")
    after = embed_catalog(wh, minilm)
    assert (after.n_embedded, after.n_cached) == (1, 3)
    assert not np.allclose(before.vectors[2], after.vectors[2])
    np.testing.assert_array_equal(np.delete(before.vectors, 2, 0), np.delete(after.vectors, 2, 0))


def test_new_model_id_reembeds_all(wh: Warehouse, minilm: ProductEncoder) -> None:
    _fill(wh)
    embed_catalog(wh, minilm)
    short = ProductEncoder(model="minilm", max_length=16, device="cpu")  # unfitted: fitted on the catalogue
    r = embed_catalog(wh, short)
    assert (r.n_embedded, r.n_cached) == (4, 0) and r.model_id != minilm.model_id_
    assert wh.con.execute("SELECT count(DISTINCT model_id) FROM text_embeddings").fetchall() == [(2,)]


def test_cache_survives_reopening(tmp_path, minilm: ProductEncoder) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        _fill(wh)
        embed_catalog(wh, minilm)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert embed_catalog(wh, minilm).n_embedded == 0


def test_failed_encode_writes_nothing(wh: Warehouse) -> None:
    class Broken:
        model_id_, dim_ = "broken", 3

        def encode(self, texts, progress=None):
            raise RuntimeError("boom")

    _fill(wh)
    with pytest.raises(RuntimeError):
        embed_catalog(wh, Broken())
    assert wh.con.execute("SELECT count(*) FROM text_embeddings").fetchall() == [(0,)]


def test_embed_texts_passthrough(minilm: ProductEncoder) -> None:
    v = embed_texts(minilm, ["brand new product", ""])
    assert v.shape == (2, 384)
    np.testing.assert_allclose(v, minilm.encode(["brand new product", ""]), atol=1e-6)
