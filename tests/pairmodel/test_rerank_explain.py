"""The ranker's explanations: group contributions add up to the score it ranks by, and the evidence
quoted is the baskets' own count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import UnknownProductError
from bundlewise.mining import Baskets
from bundlewise.pairmodel.rerank import FEATURE_GROUPS, Reranker
from bundlewise.pairmodel.rerank_explain import explain_reranked


def _shop(seed: int = 0, n: int = 1200) -> tuple[list[list[str]], Baskets, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    groups = [[f"g{g}p{p}" for p in range(5)] for g in range(4)]
    lists = [list(rng.choice(groups[int(rng.integers(4))], 2, replace=False)) for _ in range(n)]
    days = np.arange(n).astype("datetime64[D]").astype("datetime64[us]")
    b = Baskets.from_long(np.repeat(np.arange(n), 2).astype(str), np.concatenate(lists), np.repeat(days, 2))
    ids = sorted(p for g in groups for p in g)
    vecs = [np.eye(4)[int(p[1])] + 0.01 * rng.normal(size=4) for p in ids]
    return lists, b, pd.DataFrame({"product_id": ids, "embedding": vecs})


def test_contributions_sum_to_the_recommended_score_and_quote_the_basket_count() -> None:
    lists, b, cat = _shop()
    m = Reranker(n_estimators=30, min_data_in_leaf=5, n_candidates=10).fit(b, cat)
    ids, scores = m.recommend(["g0p0"], k=4)
    exp = explain_reranked(m, "g0p0", k=4)
    assert [e.partner_id for e in exp] == list(ids[0]) and [e.rank for e in exp] == [1, 2, 3, 4]
    for e, s in zip(exp, scores[0], strict=True):
        assert e.source == "warm ranker"
        assert e.score == pytest.approx(s, abs=1e-9)
        assert e.base + sum(e.contributions.values()) == pytest.approx(e.score, abs=1e-6)
        assert set(e.contributions) <= set(FEATURE_GROUPS)
        by_hand = sum(1 for basket in lists if "g0p0" in basket and e.partner_id in basket)
        assert e.n_together == by_hand and e.why.startswith(f"bought together in {by_hand:,} baskets")
        assert "mostly " in e.why


def test_a_partner_outside_the_candidates_and_unknown_ids() -> None:
    _, b, cat = _shop(seed=2)
    m = Reranker(n_estimators=30, min_data_in_leaf=5, n_candidates=3).fit(b, cat)
    rows = m._rows(m._codes(["g0p0"]), np.array([True]))
    outside = sorted(set(m.item_ids_.astype(str)) - set(m.item_ids_[rows.j].astype(str)) - {"g0p0"})
    assert outside, "the test needs a product the ranker never scores for g0p0"
    e = explain_reranked(m, "g0p0", [outside[0]])[0]
    assert e.source == "best sellers" and e.contributions == {} and e.base == e.score
    assert "no ranker score" in e.why
    with pytest.raises(UnknownProductError, match="not products of this ranker"):
        explain_reranked(m, "g0p0", ["nope"])
    with pytest.raises(UnknownProductError):
        explain_reranked(m, "nope")
