"""The pair-model path of a real server: a tiny PairModel trained on the themed shop (tests/shop.py) with the real
minilm encoder, served with ``--model``; a product known only by its text gets partners of its own theme."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bundlewise.config import IngestConfig
from bundlewise.ingest import Warehouse, ingest_files
from tests.shop import THEMES, write_shop

pytestmark = pytest.mark.slow
SMALL = {"epochs": 4, "hidden": 32, "max_positives": 6000, "n_candidates": 30}  # as tests/pairmodel
THEME_OF = {name: theme for theme, names in THEMES.items() for name in names}


@pytest.fixture(scope="module")
def model_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(pristine warehouse, checkpoint folder) of the themed shop."""
    from bundlewise.pairmodel.jobs import train_pair_model
    from bundlewise.text import ProductEncoder

    folder = tmp_path_factory.mktemp("cold_start")
    db = folder / "shop.duckdb"
    encoder = ProductEncoder(model="minilm", batch_size=32, device="cpu").fit()
    with Warehouse(db) as wh:
        ingest_files(wh, [write_shop(folder / "shop.csv")], IngestConfig(kind="orders"))
        run = train_pair_model(wh, folder / "pm", params=SMALL, encoder=encoder)
    return db, run.path


@pytest.fixture(scope="module")
def server(model_shop: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    from tests.serve.conftest import LiveServer

    db, ckpt = model_shop
    s = LiveServer(db, "--model", str(ckpt), "--no-events", "--no-access-log",
                   log=tmp_path_factory.mktemp("cold_start_log") / "server.log")
    try:
        yield s.start(timeout=120)
    finally:
        s.stop()


@pytest.mark.parametrize(("text", "theme"), [("herbal tea bags", "tea"), ("seed tray for the garden", "garden"),
                                             ("silicone muffin tray for the oven", "baking")])
def test_text_only_product_gets_partners_of_its_theme(server, text: str, theme: str) -> None:
    r = httpx.post(server.url + "/v1/complements", json={"text": text, "k": 3}, timeout=60.0)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["product"] is None and body["title"] == text and body["source"] == "pair model"
    partners = body["partners"]
    assert [p["rank"] for p in partners] == [1, 2, 3]
    themes = [THEME_OF[p["title"]] for p in partners]
    assert themes.count(theme) >= 2, (text, [p["title"] for p in partners])
    scores = [p["score"] for p in partners]
    assert scores == sorted(scores, reverse=True)


def test_ready_names_the_model_and_catalogue_products_use_it(server, model_shop: tuple[Path, Path]) -> None:
    v = httpx.get(server.url + "/ready", timeout=5.0).json()["versions"]
    assert v["pair_model"]["path"] == str(model_shop[1]) and "minilm" in v["pair_model"]["encoder_id"].lower()
    assert v["events_writer"] is False
    # P000 is "green tea" (tests/shop.py): a product the model knows answers from the model, inside its theme
    r = httpx.get(server.url + "/v1/products/P000/complements", params={"k": 3}, timeout=30.0)
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "pair model"
    assert [THEME_OF[p["title"]] for p in r.json()["partners"]].count("tea") >= 2


@pytest.mark.parametrize(("body", "field"), [({"text": ""}, "body.text"), ({"text": "tea", "k": 0}, "body.k"),
                                             ({"text": "tea", "k": 101}, "body.k"), ({"k": 3}, "body.text"),
                                             ({"text": "x" * 2001}, "body.text"),
                                             ({"text": "tea", "colour": "red"}, "body.colour")])
def test_bad_text_requests_are_422_naming_the_field(server, body: dict, field: str) -> None:
    r = httpx.post(server.url + "/v1/complements", json=body, timeout=10.0)
    assert r.status_code == 422, r.text
    assert field in [p["field"] for p in r.json()["problems"]], r.json()
