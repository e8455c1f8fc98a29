"""One contract for every recommender and baseline: fit → self, recommend → (ids, scores) of shape
(n, k), best first, padded at the end, unknown products rejected, deterministic, and on a
"checkerboard" (even products only ever bought with even ones, odd with odd) never a cross pair
among the partners a model is sure of.

Kinds: ``pairs`` models answer only with products seen together (the 7 same-group partners, then
padding); ``dense`` models rank the whole catalogue (the first 7 must be the same group);
``global`` models (random, popularity) ignore the query, so only the shape rules apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import NotFittedError, UnknownProductError
from bundlewise.evaluation import ALSItemSimilarity, CoOccurrence, Item2Vec, Popularity, RandomRanker, TextCosine
from bundlewise.mining import AssociationRules, Baskets, CoPurchaseStats
from bundlewise.pairmodel.model import PairModel

EVEN = [f"e{i}" for i in range(8)]
ODD = [f"o{i}" for i in range(8)]


def checkerboard(seed: int = 0, n: int = 400) -> Baskets:
    rng = np.random.default_rng(seed)
    baskets = []
    for i in range(n):
        group = EVEN if i % 2 else ODD
        size = int(rng.integers(2, 5))
        baskets.append(list(rng.choice(group, size=size, replace=False)))
    return Baskets.from_lists(baskets)


def checkerboard_catalog() -> pd.DataFrame:
    """Product 'texts' already embedded: the group is one direction, the index a small wobble."""
    ids = sorted(EVEN + ODD)
    vecs = [np.array([1.0 if p[0] == "e" else 0.0, 1.0 if p[0] == "o" else 0.0, 0.05 * int(p[1:])]) for p in ids]
    return pd.DataFrame({"product_id": ids, "title": ids, "embedding": vecs})


# name -> (factory, recommend keyword arguments, kind)
RECOMMENDERS: dict[str, tuple[Callable[[], Any], dict[str, Any], str]] = {
    **{f"copurchase-{m}": (lambda: CoPurchaseStats(min_count=1), {"metric": m}, "pairs")
       for m in ("lift", "shrunk_lift", "confidence", "npmi", "jaccard", "cosine", "leverage", "count")},
    "association-rules": (lambda: AssociationRules(min_support=0.005, min_confidence=0.05, max_len=2), {}, "pairs"),
    **{f"cooccurrence-{m}": (lambda m=m: CoOccurrence(metric=m, backfill=False), {}, "pairs")
       for m in ("confidence", "lift", "jaccard")},
    "cooccurrence-backfill": (lambda: CoOccurrence(metric="lift", backfill=True), {}, "dense"),
    "random": (lambda: RandomRanker(random_state=3), {}, "global"),
    "popularity": (Popularity, {}, "global"),
    "item2vec": (lambda: Item2Vec(vector_size=8, epochs=5, window=5), {}, "dense"),
    "als": (lambda: ALSItemSimilarity(factors=4, iterations=10, regularization=0.1), {}, "dense"),
    "text-cosine": (TextCosine, {}, "dense"),
    "pair-model": (lambda: PairModel(epochs=4, hidden=16, max_positives=3000, n_candidates=16), {}, "dense"),
}


@pytest.fixture(scope="module")
def data() -> Baskets:
    return checkerboard()


def _fit(model: Any, data: Baskets) -> Any:
    if isinstance(model, (CoPurchaseStats, AssociationRules)):
        return model.fit(data)
    return model.fit(data, catalog=checkerboard_catalog())


@pytest.mark.parametrize("name", sorted(RECOMMENDERS))
def test_contract(name: str, data: Baskets) -> None:
    factory, kwargs, kind = RECOMMENDERS[name]
    model = factory()
    with pytest.raises(NotFittedError):
        model.recommend(["e0"], k=3, **kwargs)
    assert _fit(model, data) is model
    queries = ["e0", "o3", "e5"]
    k = 10  # more than the 7 possible partners: the tail must be padding (pairs) or other-group (dense)
    ids, scores = model.recommend(queries, k=k, **kwargs)
    assert ids.shape == scores.shape == (len(queries), k)
    assert ids.dtype == object and scores.dtype == np.float64
    for q, row_ids, row_scores in zip(queries, ids, scores, strict=True):
        real = [i for i in row_ids if i is not None]
        n_real = len(real)
        assert n_real > 0, f"{name}: no partners for {q}"
        assert all(i is None for i in row_ids[n_real:]) and np.isnan(row_scores[n_real:]).all()
        assert q not in real and len(set(real)) == n_real
        if kind == "pairs":
            assert all(i[0] == q[0] for i in real), f"{name}: cross-group partner for {q}: {real}"
        elif kind == "dense":
            assert n_real == k
            assert all(i[0] == q[0] for i in real[:7]), f"{name}: cross-group partner in the top 7 of {q}: {real}"
        assert np.all(np.diff(row_scores[:n_real]) <= 1e-12), f"{name}: scores not best-first"
    again_ids, again_scores = _fit(factory(), data).recommend(queries, k=k, **kwargs)
    assert np.array_equal(again_ids, ids) and np.array_equal(again_scores, scores, equal_nan=True)
    with pytest.raises(UnknownProductError):
        model.recommend(["not-a-product"], k=3, **kwargs)
    one_ids, _ = model.recommend("e0", k=2, **kwargs)
    assert one_ids.shape == (1, 2)
