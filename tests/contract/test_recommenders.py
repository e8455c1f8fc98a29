"""One contract for every recommender and baseline: fit → self, recommend → (ids, scores) of shape
(n, k), best first, padded at the end, unknown products rejected, deterministic, and on a
"checkerboard" (even products only ever bought with even ones, odd with odd) never a cross pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bundlewise.errors import NotFittedError, UnknownProductError
from bundlewise.mining import AssociationRules, Baskets, CoPurchaseStats

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


# name -> (factory, recommend keyword arguments)
RECOMMENDERS: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
    **{f"copurchase-{m}": (lambda: CoPurchaseStats(min_count=1), {"metric": m})
       for m in ("lift", "shrunk_lift", "confidence", "npmi", "jaccard", "cosine", "leverage", "count")},
    "association-rules": (lambda: AssociationRules(min_support=0.005, min_confidence=0.05, max_len=2), {}),
}


@pytest.fixture(scope="module")
def data() -> Baskets:
    return checkerboard()


@pytest.mark.parametrize("name", sorted(RECOMMENDERS))
def test_contract(name: str, data: Baskets) -> None:
    factory, kwargs = RECOMMENDERS[name]
    model = factory()
    with pytest.raises(NotFittedError):
        model.recommend(["e0"], k=3, **kwargs)
    assert model.fit(data) is model
    queries = ["e0", "o3", "e5"]
    k = 10  # more than the 7 possible partners: the tail must be padding
    ids, scores = model.recommend(queries, k=k, **kwargs)
    assert ids.shape == scores.shape == (len(queries), k)
    assert ids.dtype == object and scores.dtype == np.float64
    for q, row_ids, row_scores in zip(queries, ids, scores, strict=True):
        real = [i for i in row_ids if i is not None]
        n_real = len(real)
        assert n_real > 0, f"{name}: no partners for {q}"
        assert all(i is None for i in row_ids[n_real:]) and np.isnan(row_scores[n_real:]).all()
        assert q not in real
        assert all(i[0] == q[0] for i in real), f"{name}: cross-group partner for {q}: {real}"
        assert np.all(np.diff(row_scores[:n_real]) <= 1e-12), f"{name}: scores not best-first"
    again_ids, again_scores = factory().fit(data).recommend(queries, k=k, **kwargs)
    assert np.array_equal(again_ids, ids) and np.array_equal(again_scores, scores, equal_nan=True)
    with pytest.raises(UnknownProductError):
        model.recommend(["not-a-product"], k=3, **kwargs)
    one_ids, _ = model.recommend("e0", k=2, **kwargs)
    assert one_ids.shape == (1, 2)
