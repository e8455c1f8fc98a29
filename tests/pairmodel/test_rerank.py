"""The second-stage ranker: its config, what it learns on synthetic shops, and its warm/cold gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import ConfigError
from bundlewise.mining import Baskets
from bundlewise.pairmodel.rerank import FEATURE_GROUPS, FEATURES, Reranker, RerankerConfig

SMALL = dict(n_estimators=30, min_data_in_leaf=5, n_candidates=10)


def _timed(lists: list[list[str]]) -> Baskets:
    days = np.arange(len(lists)).astype("datetime64[D]").astype("datetime64[us]")
    ids = np.repeat(np.arange(len(lists)), [len(x) for x in lists]).astype(str)
    ts = np.repeat(days, [len(x) for x in lists])
    return Baskets.from_long(ids, np.concatenate(lists), ts)


def _themed(seed: int = 0, n: int = 1200, n_groups: int = 4, per_group: int = 5) -> tuple[Baskets, pd.DataFrame]:
    """Baskets of two products from one theme; the embedding points in the theme's direction."""
    rng = np.random.default_rng(seed)
    groups = [[f"g{g}p{p}" for p in range(per_group)] for g in range(n_groups)]
    lists = [list(rng.choice(groups[int(rng.integers(n_groups))], 2, replace=False)) for _ in range(n)]
    ids = sorted(p for g in groups for p in g)
    vecs = [np.eye(n_groups)[int(p[1])] + 0.01 * rng.normal(size=n_groups) for p in ids]
    return _timed(lists), pd.DataFrame({"product_id": ids, "embedding": vecs})


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="unknown reranker key"):
        RerankerConfig.from_dict({"gates": "off"})
    with pytest.raises(ConfigError, match="gate"):
        RerankerConfig(gate="maybe")
    with pytest.raises(ConfigError, match="feature group"):
        RerankerConfig(drop_groups=("nope",))
    with pytest.raises(ConfigError, match="label_share"):
        Reranker(label_share=1.5).fit(_themed()[0])


def test_feature_groups_partition_the_features() -> None:
    names = [n for group in FEATURE_GROUPS.values() for n in group]
    assert sorted(names) == sorted(FEATURES) and len(set(names)) == len(names)


def test_warm_partners_come_from_the_theme() -> None:
    b, cat = _themed()
    m = Reranker(**SMALL).fit(b, cat)
    ids, scores = m.recommend(["g0p0", "g2p3"], k=4)
    assert all(p.startswith("g0") for p in ids[0]) and all(p.startswith("g2") for p in ids[1])
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_cold_query_gets_its_theme_through_text_when_that_beats_best_sellers() -> None:
    b, cat = _themed(seed=1)
    cold = "g1p4"
    keep = np.asarray(b.item_ids)[b.indices] != cold  # the product never sold: known by its text only
    sold = Baskets.from_long(np.repeat(np.arange(b.n_baskets), b.sizes())[keep].astype(str),
                             np.asarray(b.item_ids)[b.indices][keep], np.repeat(b.timestamps, b.sizes())[keep])
    m = Reranker(**SMALL).fit(sold, cat)
    assert not m.cold_backoff_
    ids, _ = m.recommend([cold], k=3)
    assert all(p.startswith("g1") for p in ids[0])


def test_gate_backs_off_to_best_sellers_where_they_win() -> None:
    """Every basket holds the staple; texts are noise: for a cold query the best seller is the answer."""
    rng = np.random.default_rng(2)
    others = [f"x{i}" for i in range(200)]
    b = _timed([["staple", str(rng.choice(others))] for _ in range(1500)])
    ids = sorted(["staple", *others])
    cat = pd.DataFrame({"product_id": ids, "embedding": [rng.normal(size=8) for _ in ids]})
    auto = Reranker(**SMALL).fit(b, cat)
    assert auto.cold_backoff_
    # half the held-out events are "x → staple" (best sellers hit them all), half "staple → a random x"
    assert 0.45 < auto.held_recall_["cold_popularity"] < 0.6
    forced = Reranker(gate="ranker", **SMALL).fit(b, cat)
    assert not forced.cold_backoff_


def test_dropping_a_group_removes_its_columns_and_the_gate_off_uses_one_model() -> None:
    b, cat = _themed(seed=3)
    m = Reranker(drop_groups=("text", "price"), gate="off", **SMALL).fit(b, cat)
    used = {FEATURES[c] for c in m.columns_}
    assert not used & set(FEATURE_GROUPS["text"] + FEATURE_GROUPS["price"])
    assert "conf_ij" in used and m.models_["warm"] is m.models_["cold"]



def test_the_network_logit_is_a_feature_trained_on_the_evidence_only() -> None:
    b, cat = _themed(seed=2)
    with pytest.raises(ConfigError, match="embedding"):
        Reranker(network_epochs=1, **SMALL).fit(b, cat.drop(columns="embedding"))
    m = Reranker(network_epochs=1, network_max_positives=2000, **SMALL).fit(b, cat)
    assert FEATURES.index("pair_logit") in m.columns_
    # the network saw only the evidence baskets, and serves from all of them afterwards
    assert m.network_.examples_["baskets"]["evidence"] < b.n_baskets
    assert m.network_.item_counts_.sum() == b.item_counts().sum()
    i, j = np.array([0, 0]), np.array([1, 6])  # g0p0 → g0p1 (same theme) and → g1p1
    warm, cold = m.network_.logits(i, j), m.network_.logits(i, j, hide_evidence=np.array([True, True]))
    assert warm[0] > warm[1] and not np.allclose(warm, cold)
    ids, _ = m.recommend(["g3p0"], k=4)
    assert all(p.startswith("g3") for p in ids[0])
    assert FEATURES.index("pair_logit") not in Reranker(**SMALL).fit(b, cat).columns_


def test_label_windows_roll_back_in_time_with_the_evidence_before_each() -> None:
    from bundlewise.pairmodel.rerank_rows import label_windows as _label_windows

    b = _timed([["a", "b"]] * 100)
    windows = _label_windows(b, 0.1, 3)
    assert [lab.n_baskets for _, lab in windows] == [10, 10, 10]
    assert [ev.n_baskets for ev, _ in windows] == [90, 80, 70]
    for ev, lab in windows:
        assert ev.timestamps.max() < lab.timestamps.min()
    newest = [lab.timestamps.min() for _, lab in windows]
    assert newest == sorted(newest, reverse=True)
    with pytest.raises(ConfigError, match="label_windows"):
        RerankerConfig(label_share=0.3, label_windows=4)


def test_id_embeddings_are_an_opt_in_group_that_is_zero_for_cold_rows() -> None:
    b, cat = _themed(seed=4)
    assert FEATURES.index("id_cos") not in Reranker(**SMALL).fit(b, cat).columns_  # off by default
    m = Reranker(id_dim=4, **SMALL).fit(b, cat)
    assert {FEATURES.index("id_cos"), FEATURES.index("id_rank")} <= set(m.columns_)
    f = m.evidence_.factors
    ids = list(m.item_ids_)
    # same theme, never compared by a count: closer ID vectors than across themes
    assert f[ids.index("g0p0")] @ f[ids.index("g0p3")] > f[ids.index("g0p0")] @ f[ids.index("g2p3")]
    q = np.array([ids.index("g0p0")])
    warm_rows, cold_rows = m._rows(q, np.array([True])), m._rows(q, np.array([False]))
    col = FEATURES.index("id_cos")
    assert np.abs(warm_rows.x[:, col]).max() > 0 and np.all(cold_rows.x[:, col] == 0)
    assert np.all(cold_rows.x[:, FEATURES.index("id_rank")] == m.n_candidates)  # no ID neighbours when cold
    with pytest.raises(ConfigError, match="id_dim"):
        RerankerConfig(id_dim=-1)


def test_ranking_in_chunks_of_queries_gives_the_same_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    import bundlewise.pairmodel.rerank as rr

    b, cat = _themed(seed=5)
    m = Reranker(**SMALL).fit(b, cat)
    whole = m.recommend(list(m.item_ids_), k=5)
    monkeypatch.setattr(rr, "_QUERY_CHUNK", 3)
    chunked = m.recommend(list(m.item_ids_), k=5)
    assert (whole[0] == chunked[0]).all() and np.allclose(whole[1], chunked[1])
