"""One contract for every recommender and baseline, checked the same way for all of them.

fit(baskets, catalog=None) → self; recommend → (ids, scores) of shape (n, k), best first, padded at
the end (also when k exceeds the catalogue), unknown products rejected, deterministic, batch answers
equal one-at-a-time answers, ``filter_items`` / ``items`` honoured, ``recommend`` never changes the
model, and scikit-learn's parameter protocol (get_params / set_params / clone). On a "checkerboard"
(even products only ever bought with even ones, odd with odd) a model never puts a cross pair among
the partners it is sure of.

Kinds: ``pairs`` models answer only with products seen together (the 7 same-group partners, then
padding); ``dense`` models rank the whole catalogue (the first 7 must be the same group);
``global`` models (random, popularity) ignore the query, so only the shape rules apply.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import ConfigError, NotFittedError, UnknownProductError
from bundlewise.evaluation import ALSItemSimilarity, CoOccurrence, Item2Vec, Popularity, RandomRanker, TextCosine
from bundlewise.mining import AssociationRules, Baskets, CoPurchaseStats
from bundlewise.mining.copurchase import RANK_METRICS
from bundlewise.pairmodel.model import PairModel
from bundlewise.pairmodel.rerank import Reranker
from bundlewise.recommend import Recommender, clone

EVEN = [f"e{i}" for i in range(8)]
ODD = [f"o{i}" for i in range(8)]
QUERIES = ["e0", "o3", "e5", "o7"]


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


# name -> (factory, kind); every model is built by its factory and fitted by the same call
RECOMMENDERS: dict[str, tuple[Callable[[], Recommender], str]] = {
    **{f"copurchase-{m}": (lambda m=m: CoPurchaseStats(min_count=1, metric=m), "pairs") for m in RANK_METRICS},
    "association-rules": (lambda: AssociationRules(min_support=0.005, min_confidence=0.05, max_len=2), "pairs"),
    **{f"cooccurrence-{m}": (lambda m=m: CoOccurrence(metric=m, backfill=False), "pairs")
       for m in ("confidence", "lift", "jaccard")},
    "cooccurrence-backfill": (lambda: CoOccurrence(metric="lift", backfill=True), "dense"),
    "random": (lambda: RandomRanker(random_state=3), "global"),
    "popularity": (Popularity, "global"),
    "item2vec": (lambda: Item2Vec(vector_size=8, epochs=5, window=5), "dense"),
    "als": (lambda: ALSItemSimilarity(factors=4, iterations=10, regularization=0.1), "dense"),
    "text-cosine": (TextCosine, "dense"),
    "pair-model": (lambda: PairModel(epochs=4, hidden=16, max_positives=3000, n_candidates=16), "dense"),
    "reranker": (lambda: Reranker(n_estimators=20, min_data_in_leaf=5, n_candidates=8), "dense"),
}
NAMES = sorted(RECOMMENDERS)
N_PRODUCTS = len(EVEN) + len(ODD)


def _fit(model: Recommender) -> Recommender:
    return model.fit(checkerboard(), catalog=checkerboard_catalog())


@pytest.fixture(scope="module")
def fitted() -> dict[str, Recommender]:
    """Fitted models by name, fitted once per module (the pair model takes a few seconds)."""
    cache: dict[str, Recommender] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> Recommender:
            cache[name] = _fit(RECOMMENDERS[name][0]())
            return cache[name]

    return Lazy()


def _state(model: Recommender) -> dict[str, bytes]:
    """Every attribute's value, pickled: equal bytes = equal values (arrays, frames, nested models, nets)."""
    return {k: pickle.dumps(v) for k, v in sorted(vars(model).items())}


def _assert_same_answers(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    assert np.array_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1], equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_contract(name: str, fitted: dict[str, Recommender]) -> None:
    factory, kind = RECOMMENDERS[name]
    fresh = factory()
    assert isinstance(fresh, Recommender)
    with pytest.raises(NotFittedError, match="call fit"):
        fresh.recommend(["e0"], k=3)
    assert _fit(fresh) is fresh
    model = fitted[name]
    k = 10  # more than the 7 possible partners: the tail must be padding (pairs) or other-group (dense)
    ids, scores = model.recommend(QUERIES, k=k)
    assert ids.shape == scores.shape == (len(QUERIES), k)
    assert ids.dtype == object and scores.dtype == np.float64
    for q, row_ids, row_scores in zip(QUERIES, ids, scores, strict=True):
        real = [i for i in row_ids if i is not None]
        n_real = len(real)
        assert n_real > 0, f"{name}: no partners for {q}"
        assert all(i is None for i in row_ids[n_real:]) and np.isnan(row_scores[n_real:]).all()
        assert np.isfinite(row_scores[:n_real]).all()
        assert q not in real and len(set(real)) == n_real
        if kind == "pairs":
            assert all(i[0] == q[0] for i in real), f"{name}: cross-group partner for {q}: {real}"
        elif kind == "dense":
            assert n_real == k
            assert all(i[0] == q[0] for i in real[:7]), f"{name}: cross-group partner in the top 7 of {q}: {real}"
        assert np.all(np.diff(row_scores[:n_real]) <= 1e-12), f"{name}: scores not best-first"
    # deterministic: a second model fitted the same way answers the same
    _assert_same_answers(fresh.recommend(QUERIES, k=k), (ids, scores))
    with pytest.raises(UnknownProductError, match="'not-a-product'"):
        model.recommend(["e0", "not-a-product"], k=3)
    one_ids, _ = model.recommend("e0", k=2)
    assert one_ids.shape == (1, 2)
    with pytest.raises(ConfigError, match="k is 0"):
        model.recommend("e0", k=0)


@pytest.mark.parametrize("name", NAMES)
def test_batch_answers_equal_one_at_a_time(name: str, fitted: dict[str, Recommender]) -> None:
    model = fitted[name]
    ids, scores = model.recommend(QUERIES, k=6)
    for row, q in enumerate(QUERIES):
        one_ids, one_scores = model.recommend([q], k=6)
        assert one_ids[0].tolist() == ids[row].tolist(), f"{name}: {q} alone differs from {q} in a batch"
        # float32 matrix products of another shape may round the last bit differently (BLAS), no more
        np.testing.assert_allclose(one_scores[0], scores[row], rtol=1e-6, atol=1e-7)
    # order of the batch does not matter either
    rev_ids, _ = model.recommend(QUERIES[::-1], k=6)
    assert rev_ids[::-1].tolist() == ids.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_k_beyond_the_catalogue_pads(name: str, fitted: dict[str, Recommender]) -> None:
    model = fitted[name]
    k = N_PRODUCTS + 5
    ids, scores = model.recommend(QUERIES, k=k)
    assert ids.shape == scores.shape == (len(QUERIES), k)
    for row_ids, row_scores in zip(ids, scores, strict=True):
        n_real = sum(i is not None for i in row_ids)
        assert n_real <= N_PRODUCTS - 1  # never the query itself
        assert all(i is None for i in row_ids[n_real:]) and np.isnan(row_scores[n_real:]).all()
    # the first 10 of a long list are the list of 10
    assert model.recommend(QUERIES, k=10)[0].tolist() == ids[:, :10].tolist()


@pytest.mark.parametrize("name", NAMES)
def test_recommend_never_changes_the_model(name: str, fitted: dict[str, Recommender]) -> None:
    model = fitted[name]
    params, state = pickle.dumps(model.get_params()), _state(model)
    model.recommend(QUERIES, k=3)
    model.recommend("e1", k=N_PRODUCTS + 2, filter_items=["e2"], items=EVEN)
    with pytest.raises(UnknownProductError):
        model.recommend(["zzz"], k=2)
    assert pickle.dumps(model.get_params()) == params, f"{name}: recommend changed a parameter"
    after = _state(model)
    assert after.keys() == state.keys(), f"{name}: recommend added {sorted(after.keys() - state.keys())}"
    changed = [k for k in state if state[k] != after[k]]
    assert not changed, f"{name}: recommend changed {changed}"


@pytest.mark.parametrize("name", NAMES)
def test_filter_items_and_items_are_honoured(name: str, fitted: dict[str, Recommender]) -> None:
    model = fitted[name]
    full, _ = model.recommend(QUERIES, k=N_PRODUCTS)
    blocked = ["e1", "e2", "o4", "o5", "not-a-product"]  # an unknown id is ignored: it is never returned anyway
    allowed = ["e3", "e4", "e5", "e6", "o0", "o1", "o3", "o6", "also-unknown"]
    k = 3
    only_blocked, _ = model.recommend(QUERIES, k=k, filter_items=blocked)
    only_allowed, _ = model.recommend(QUERIES, k=k, items=allowed)
    both, both_scores = model.recommend(QUERIES, k=k, filter_items=["e4", "o1"], items=allowed)
    for row in range(len(QUERIES)):
        ranked = [i for i in full[row] if i is not None]
        got = [i for i in only_blocked[row] if i is not None]
        assert not set(got) & set(blocked)
        # the same ranking with the blocked products taken out
        assert got == [i for i in ranked if i not in blocked][:k], f"{name}: filter_items changed the order"
        got = [i for i in only_allowed[row] if i is not None]
        assert set(got) <= set(allowed)
        assert got == [i for i in ranked if i in allowed][:k], f"{name}: items changed the order"
        got = [i for i in both[row] if i is not None]
        assert got == [i for i in ranked if i in allowed and i not in ("e4", "o1")][:k]
        assert np.isnan(both_scores[row][len(got):]).all()
    # an empty candidate set leaves nothing to answer with
    nothing, nothing_scores = model.recommend(QUERIES, k=2, items=[])
    assert (nothing == None).all() and np.isnan(nothing_scores).all()  # noqa: E711 - elementwise


@pytest.mark.parametrize("name", NAMES)
def test_clone_is_unfitted_with_equal_params_and_fits_to_the_same_answers(name: str,
                                                                         fitted: dict[str, Recommender]) -> None:
    model = fitted[name]
    copy_ = clone(model)
    assert type(copy_) is type(model) and copy_ is not model
    assert pickle.dumps(copy_.get_params()) == pickle.dumps(model.get_params())
    assert not hasattr(copy_, "item_ids_")
    with pytest.raises(NotFittedError):
        copy_.recommend("e0", k=2)
    _assert_same_answers(_fit(copy_).recommend(QUERIES, k=5), model.recommend(QUERIES, k=5))


@pytest.mark.parametrize("name", NAMES)
def test_sklearn_clone_works_too(name: str, fitted: dict[str, Recommender]) -> None:
    base = pytest.importorskip("sklearn.base")
    model = fitted[name]
    copy_ = base.clone(model)
    assert type(copy_) is type(model) and not hasattr(copy_, "item_ids_")
    assert pickle.dumps(copy_.get_params()) == pickle.dumps(model.get_params())


@pytest.mark.parametrize("name", NAMES)
def test_get_params_set_params_round_trip(name: str) -> None:
    factory, _ = RECOMMENDERS[name]
    model = factory()
    params = model.get_params()
    # every parameter is stored under its own name, unchanged
    assert all(getattr(model, key) is value for key, value in params.items())
    rebuilt = type(model)().set_params(**params)
    assert pickle.dumps(rebuilt.get_params()) == pickle.dumps(params)
    assert type(model)(**params).get_params().keys() == params.keys()
    if params:  # Popularity has none
        key = sorted(params)[0]
        marker: Any = object()
        assert rebuilt.set_params(**{key: marker}) is rebuilt and rebuilt.get_params()[key] is marker
    with pytest.raises(ConfigError, match="has no parameter 'no_such_param'; allowed parameters are"):
        model.set_params(no_such_param=1)
