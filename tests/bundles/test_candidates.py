"""Candidate bundles: top partners, evidence columns, triples, a second scorer, any recommender."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.bundles.candidates import CANDIDATE_COLUMNS, generate_candidates
from bundlewise.bundles.jobs import BundlePlanConfig, _candidates
from bundlewise.errors import ConfigError
from bundlewise.mining import Baskets, CoPurchaseStats
from bundlewise.progress import NULL_PROGRESS

# camping: tent, pegs, lamp go together; breakfast: milk, cereal; soap alone
LISTS = ([["tent", "pegs", "lamp"]] * 6 + [["tent", "pegs"]] * 4 + [["lamp"]] * 2 + [["milk", "cereal"]] * 8
         + [["milk"]] * 5 + [["soap"]] * 5 + [["soap", "milk"]] * 1)
BASKETS = Baskets.from_lists(LISTS)
STATS = CoPurchaseStats(min_count=1, metric="shrunk_lift").fit(BASKETS)
CATALOG = pd.DataFrame({"product_id": sorted({p for b in LISTS for p in b})})


class FixedScorer:
    """A recommender with hand-set partner scores (the house contract: recommend(ids, k))."""

    def __init__(self, table: dict[str, list[tuple[str, float]]]):
        self.table = table

    def recommend(self, ids, k):  # type: ignore[no-untyped-def]
        out_ids = np.full((len(ids), k), None, dtype=object)
        out_scores = np.full((len(ids), k), np.nan)
        for r, q in enumerate(ids):
            for c, (p, s) in enumerate(self.table.get(q, [])[:k]):
                out_ids[r, c], out_scores[r, c] = p, s
        return out_ids, out_scores


def test_pairs_and_triples_with_exact_evidence() -> None:
    ps = STATS.pair_stats()
    cands = generate_candidates(STATS, CATALOG, pair_stats=ps, top_k=2, baskets=BASKETS)
    assert cands.columns.tolist() == list(CANDIDATE_COLUMNS)
    ids = cands["bundle_id"].tolist()
    assert {"pegs+tent", "lamp+pegs", "lamp+tent", "cereal+milk", "lamp+pegs+tent"} <= set(ids)
    row = cands.set_index("bundle_id").loc["pegs+tent"]
    assert row["products"] == ("pegs", "tent") and row["n_ab"] == 10
    ref = ps[(ps["item_a"] == "pegs") & (ps["item_b"] == "tent")].iloc[0]
    assert row["lift"] == pytest.approx(ref["lift"]) and row["q_value"] == pytest.approx(ref["q_value"])
    triple = cands.set_index("bundle_id").loc["lamp+pegs+tent"]
    # 6 of the 31 baskets hold all three; tent and pegs are in 10, lamp in 8
    assert triple["n_ab"] == 6
    assert triple["lift"] == pytest.approx(6 * 31**2 / (10 * 10 * 8))
    # pairs first, each part best score first
    sizes = [len(p) for p in cands["products"]]
    assert sizes == sorted(sizes)
    pair_scores = cands.loc[[s == 2 for s in sizes], "score"].to_numpy()
    assert (np.diff(pair_scores) <= 1e-12).all()
    assert cands["model_score"].isna().all()


def test_min_count_max_size_and_cap() -> None:
    ps = STATS.pair_stats()
    cands = generate_candidates(STATS, CATALOG, pair_stats=ps, top_k=5, min_count=7, baskets=BASKETS)
    assert set(cands["bundle_id"]) == {"cereal+milk", "pegs+tent"}
    assert (cands["n_ab"] >= 7).all()
    pairs_only = generate_candidates(STATS, CATALOG, pair_stats=ps, max_size=2)
    assert all(len(p) == 2 for p in pairs_only["products"])
    capped = generate_candidates(STATS, CATALOG, pair_stats=ps, max_candidates=2)
    assert len(capped) == 2
    assert capped["score"].min() >= generate_candidates(STATS, CATALOG, pair_stats=ps)["score"].nlargest(2).min()


def test_any_recommender_plugs_in_and_a_second_scorer_fills_model_score() -> None:
    scorer = FixedScorer({"tent": [("pegs", 0.9), ("lamp", 0.5)], "pegs": [("lamp", 0.4)], "milk": [("soap", 0.2)]})
    model = FixedScorer({"pegs": [("tent", 0.77)], "lamp": [("pegs", 0.33)]})
    cands = generate_candidates(scorer, CATALOG, model_scorer=model, top_k=3)
    got = dict(zip(cands["bundle_id"], cands["score"], strict=True))
    assert got == pytest.approx({"pegs+tent": 0.9, "lamp+tent": 0.5, "lamp+pegs": 0.4, "milk+soap": 0.2,
                                 "lamp+pegs+tent": 0.4})
    model_scores = dict(zip(cands["bundle_id"], cands["model_score"], strict=True))
    assert model_scores["pegs+tent"] == pytest.approx(0.77)
    assert model_scores["lamp+pegs"] == pytest.approx(0.33)
    assert np.isnan(model_scores["milk+soap"])
    assert (cands["n_ab"] == 0).all()  # no pair statistics given
    # a triple's n_ab without baskets is the smallest pair count (an upper bound)
    with_stats = generate_candidates(scorer, CATALOG, pair_stats=STATS.pair_stats())
    assert with_stats.set_index("bundle_id").at["lamp+pegs+tent", "n_ab"] == 6


def test_only_catalog_products_and_errors() -> None:
    small = CATALOG[CATALOG["product_id"] != "pegs"]
    cands = generate_candidates(STATS, small, pair_stats=STATS.pair_stats())
    assert not any("pegs" in p for p in cands["products"])
    with pytest.raises(ConfigError, match="max_size is 4"):
        generate_candidates(STATS, CATALOG, max_size=4)
    with pytest.raises(ConfigError, match="min_count needs pair_stats"):
        generate_candidates(STATS, CATALOG, min_count=3)
    with pytest.raises(ConfigError, match="no recommend"):
        generate_candidates(object(), CATALOG)
    empty = generate_candidates(STATS, CATALOG.iloc[:0])
    assert empty.empty and empty.columns.tolist() == list(CANDIDATE_COLUMNS)


def test_a_share_of_the_candidates_comes_from_the_pairs_bought_together_most_often() -> None:
    """Milk and bread are in most baskets, together about as often as chance; two rare pairs are strongly
    associated. A lift ranking alone never proposes milk + bread, the volume share does."""
    rng = np.random.default_rng(0)
    lists = []
    for i in range(3000):
        b = [p for p, share in (("milk", 0.6), ("bread", 0.5)) if rng.random() < share]
        if i % 40 == 0:
            b += ["tent", "pegs"]
        if i % 45 == 1:
            b += ["jam", "scones"]
        lists.append(b or ["water"])
    baskets = Baskets.from_lists(lists)
    stats = CoPurchaseStats(min_count=20, metric="shrunk_lift").fit(baskets)
    catalog = pd.DataFrame({"product_id": ["bread", "jam", "milk", "pegs", "scones", "tent", "water"]})
    frequent = catalog["product_id"]

    def bundle_ids(share: float) -> set[str]:
        cfg = BundlePlanConfig(max_candidates=2, max_size=2, volume_share=share)
        return set(_candidates(stats, catalog, stats.pair_stats(), baskets, frequent, cfg, None,
                               NULL_PROGRESS)["bundle_id"])

    assert bundle_ids(0.0) == {"pegs+tent", "jam+scones"}
    assert "bread+milk" in bundle_ids(0.5) and "pegs+tent" in bundle_ids(0.5)
    with pytest.raises(ConfigError, match="volume_share"):
        BundlePlanConfig(volume_share=1.5)
