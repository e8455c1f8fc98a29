"""Honest training (issue 15): held-out baskets newer than and disjoint from the training ones, early
stopping and the time budget that can trigger, a cost that follows the distinct pairs, hard negatives
that need exposure, calibrated probabilities, rows sorted by the score shown, explanations that add up,
and a text query that is never its own partner. Pre-embedded vectors: no encoder, seconds per fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.mining import Baskets, CoPurchaseStats
from bundlewise.pairmodel.complements import merchandiser_why, model_complements, same_text
from bundlewise.pairmodel.features import PAIR_FEATURES, PairTable
from bundlewise.pairmodel.model import PairModel
from bundlewise.pairmodel.sampling import sample_examples, split_in_time
from tests.shop import THEMES, shop_rows

FAST = {"hidden": 16, "n_candidates": 20, "n_threads": 1}


def _baskets(rows: list[list[object]]) -> Baskets:
    orders = np.array([r[0] for r in rows], dtype=object)
    ts = np.array([r[4] for r in rows], dtype="datetime64[us]")
    return Baskets.from_long(orders, [r[1] for r in rows], ts)


@pytest.fixture(scope="module")
def themed() -> tuple[Baskets, pd.DataFrame]:
    """The themed shop with 'texts' already embedded: one direction per theme plus a small wobble."""
    rows = shop_rows(0)
    names = [p for ps in THEMES.values() for p in ps]
    rng = np.random.default_rng(0)
    vecs = []
    for name in names:
        v = np.zeros(6, dtype=np.float32)
        v[[t for t, ps in enumerate(THEMES.values()) if name in ps][0]] = 1.0
        v[4:] = rng.normal(scale=0.2, size=2)
        vecs.append(v)
    catalog = pd.DataFrame({"product_id": [f"P{i:03d}" for i in range(len(names))], "title": names,
                            "embedding": vecs})
    return _baskets(rows), catalog


@pytest.fixture(scope="module")
def fitted(themed) -> PairModel:
    baskets, catalog = themed
    return PairModel(epochs=6, **FAST).fit(baskets, catalog)


def test_held_out_baskets_are_newer_than_every_training_basket(themed, fitted) -> None:
    baskets, _ = themed
    evidence, labels = split_in_time(baskets, 0.25)
    train, held = split_in_time(labels, 0.2)
    assert train.n_baskets + held.n_baskets == labels.n_baskets and held.n_baskets > 0
    assert train.timestamps.max() <= held.timestamps.min()
    assert evidence.timestamps.max() <= train.timestamps.min()
    assert set(train.basket_ids).isdisjoint(held.basket_ids)
    assert fitted.examples_["baskets"] == {"evidence": evidence.n_baskets, "train_labels": train.n_baskets,
                                           "held_out_labels": held.n_baskets}


def test_positives_follow_the_distinct_pairs(themed, fitted) -> None:
    baskets, _ = themed
    _, labels = split_in_time(baskets, 0.25)
    train, _ = split_in_time(labels, 0.2)
    distinct = {(a, b) for basket in train.to_lists() for a in basket for b in basket if a != b}
    assert fitted.examples_["train"]["positive"] == int(np.ceil(2.0 * len(distinct)))  # positives_per_pair 2
    assert fitted.examples_["train"]["distinct_positive_pairs"] <= len(distinct)
    capped = PairModel(epochs=1, max_positives=50, **FAST).fit(*themed)
    assert capped.examples_["train"]["positive"] == 50


def test_early_stopping_can_trigger() -> None:
    """Baskets of random products: nothing to learn, so the held-out loss stops improving early."""
    rng = np.random.default_rng(1)
    ids = [f"x{i:02d}" for i in range(30)]
    lists = [list(rng.choice(ids, size=int(rng.integers(2, 5)), replace=False)) for _ in range(1500)]
    rows = [[f"o{n}", p, p, 1, str(np.datetime64("2024-01-01T00:00") + np.timedelta64(n, "h"))]
            for n, basket in enumerate(lists) for p in basket]
    catalog = pd.DataFrame({"product_id": ids, "embedding": list(rng.normal(size=(30, 4)).astype(np.float32))})
    m = PairModel(epochs=40, patience=2, lr=1e-2, **FAST).fit(_baskets(rows), catalog)
    assert m.stopped_by_ == "held-out loss"
    assert len(m.history_) < 40 and m.best_epoch_ == len(m.history_) - 2
    losses = [h["held_out_bce"] for h in m.history_]
    assert min(losses) == pytest.approx(m.best_loss_) and losses[m.best_epoch_ - 1] == pytest.approx(m.best_loss_)


def test_time_budget_stops_after_the_epoch_it_runs_out_in(themed) -> None:
    m = PairModel(epochs=20, max_seconds=1e-3, **FAST).fit(*themed)
    assert m.stopped_by_ == "time budget" and len(m.history_) == 1


def test_hard_negatives_need_exposure() -> None:
    """u reads most like a but never sold in the evidence: no evidence against the pair; c sold 50 times,
    expected with a 17 times under independence, never seen with it: a real negative."""
    ev = Baskets.from_lists([["a", "b"]] * 50 + [["c", "d"]] * 50 + [["b", "d"]] * 50 + [["u"]] * 0)
    ids = np.array(["a", "b", "c", "d", "u"], dtype=object)
    ev = ev.with_vocabulary(ids)
    labels = Baskets.from_lists([["a", "b"]] * 20).with_vocabulary(ids)
    table = PairTable.from_stats(CoPurchaseStats(min_count=1).fit(ev))
    vectors = np.array([[1, 0], [0, 1], [0.9, 0.3], [0.1, 1], [0.99, 0.1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    common = dict(item_counts=np.array([70, 100, 50, 100, 1]), ev_stats=CoPurchaseStats(min_count=1).fit(ev),
                  ev_table=table, full_table=table, vectors=vectors, has_text=np.ones(5, bool), n_negatives=4,
                  hard_share=1.0, candidate_share=0.0)
    picked = {}
    for exposure in (0.0, 1.0):
        ex = sample_examples(labels, 400, hard_exposure=exposure, rng=np.random.default_rng(0), **common)
        picked[exposure] = {ids[j] for j in ex.j[(ex.kind == 2) & (ex.i == 0)]}
    assert "u" in picked[0.0] and "c" in picked[0.0]  # any near text never bought with a
    assert "u" not in picked[1.0] and "c" in picked[1.0]  # only those that had the chance


def test_calibrated_probability_follows_the_score_and_rows_are_sorted(fitted) -> None:
    cal = fitted.calibration_
    assert cal is not None and cal.n_events > 0 and 0 <= cal.ece <= 1 and cal.a > 0
    rows = model_complements(fitted, "P000", 8)
    scores = [r.score for r in rows]
    assert scores == sorted(scores, reverse=True)
    probs = [r.probability for r in rows]
    assert probs == sorted(probs, reverse=True)  # the probability shown is a monotone map of the score
    np.testing.assert_allclose(probs, cal.probability(np.array(scores)))
    # the score is the ranking score, not the network's logit alone
    np.testing.assert_allclose(scores, fitted.ranking_scores(["P000"] * len(rows), [r.product_id for r in rows]))


def test_explanations_add_up_to_the_score(fitted) -> None:
    import torch

    rows = model_complements(fitted, "P000", 3, explain=True)
    net = fitted.net_
    with torch.inference_mode():
        u = net.tower(torch.zeros(1, fitted.vectors_.shape[1] + 1 + net.category.embedding_dim))
        zero = float(net.score(u, u, torch.zeros(1, len(PAIR_FEATURES))))
    for r in rows:
        assert {"popularity bonus", "co-purchase bonus"} <= set(r.attribution)
        assert sum(r.attribution.values()) == pytest.approx(r.score - zero, abs=0.05)
        if r.n_together > 0:
            assert r.why.startswith(f"bought together in {r.n_together:,.0f} baskets, ") and "× chance" in r.why


def test_a_text_query_is_never_its_own_partner(fitted) -> None:
    code = int(fitted._codes(["P003"])[0])
    top, _ = fitted._rank(np.array([-1]), 5, query_vectors=fitted.vectors_[[code]])
    assert code not in top[0].tolist() and (top[0] >= 0).all()
    assert same_text("Green tea.", "green  TEA") and not same_text("green tea", "green tea pot")


def test_why_in_a_merchandisers_words() -> None:
    assert merchandiser_why(135, 4.8) == "bought together in 135 baskets, 4.8× chance"
    assert merchandiser_why(0, None, witness=("Tea pot", "Tea cups")) == "reads like Tea pot, which sells with Tea cups"
    assert merchandiser_why(0, None, text_similarity=0.5).startswith("never bought together yet")


def test_two_fits_are_bit_identical(themed) -> None:
    a = PairModel(epochs=2, **FAST).fit(*themed)
    b = PairModel(epochs=2, **FAST).fit(*themed)
    assert a.history_[-1]["held_out_bce"] == b.history_[-1]["held_out_bce"]
    ia, sa = a.recommend(["P000", "P010"], k=6)
    ib, sb = b.recommend(["P000", "P010"], k=6)
    assert np.array_equal(ia, ib) and np.array_equal(sa, sb)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("held_out_share", 1.0, "held_out_share is 1.0; it must be in (0, 1)"),
    ("positives_per_pair", 0, "positives_per_pair is 0; it must be > 0"),
    ("hard_negative_exposure", -1.0, "hard_negative_exposure is -1.0; it must be >= 0"),
    ("max_seconds", 0, "max_seconds is 0; it must be > 0 seconds"),
])
def test_new_parameters_are_checked(key: str, value: object, message: str) -> None:
    from bundlewise.config import PairModelConfig
    from bundlewise.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PairModelConfig(**{key: value})
