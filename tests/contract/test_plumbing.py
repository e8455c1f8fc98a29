"""The shared plumbing under every recommender: top-k with ties, cosine top-k, the parameter protocol,
clone, and a contract module light enough for the CLI to import at start."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bundlewise.errors import ConfigError, UnknownProductError
from bundlewise.evaluation import CoOccurrence
from bundlewise.mining import Baskets
from bundlewise.recommend import Recommender, clone, lookup_codes, top_k_rows
from bundlewise.vectors import cosine_top_k, normalize_rows


def test_top_k_rows_breaks_ties_by_lower_column_also_at_the_cut() -> None:
    scores = np.array([[1.0, 3.0, 3.0, 3.0, 3.0, 0.0],
                       [2.0, 2.0, 5.0, 2.0, -np.inf, 2.0]])
    codes, vals = top_k_rows(scores, 2)
    assert codes.tolist() == [[1, 2], [2, 0]]
    assert vals.tolist() == [[3.0, 3.0], [5.0, 2.0]]
    codes, vals = top_k_rows(scores, 8)  # beyond the width: -inf and missing columns pad
    assert codes[1].tolist() == [2, 0, 1, 3, 5, -1, -1, -1]
    assert np.isnan(vals[1, 5:]).all()


def test_cosine_top_k_masks_excludes_and_ignores_the_batch_size() -> None:
    v = normalize_rows(np.array([[1.0, 0.0], [2.0, 0.2], [0.0, 1.0], [0.7, 0.7], [0.0, 0.0]]))
    assert np.allclose(np.linalg.norm(v[:4], axis=1), 1.0) and not v[4].any()
    codes, scores = cosine_top_k(v[[0, 2]], v, 3, exclude=np.array([0, -1]))
    # the zero row scores 0: below every positive cosine, ties with the orthogonal row broken by row number
    assert codes.tolist() == [[1, 3, 2], [2, 3, 1]]
    assert scores[1, 0] == pytest.approx(1.0)
    allowed = np.array([True, False, True, True, True])
    masked, _ = cosine_top_k(v[[0, 2]], v, 3, allowed=allowed, exclude=np.array([0, -1]), batch_size=1)
    assert masked.tolist() == [[3, 2, 4], [2, 3, 0]]


def test_lookup_codes_names_the_unknown_product() -> None:
    ids = np.array(["a", "c"], dtype=object)
    assert lookup_codes(ids, ["c", "a"], "Toy").tolist() == [1, 0]
    with pytest.raises(UnknownProductError, match="product 'b' is not known to the fitted Toy; 2 products"):
        lookup_codes(ids, ["a", "b"], "Toy")


class _Wrapper(Recommender):
    """A recommender with a nested recommender parameter (as a meta-estimator would have)."""

    def __init__(self, inner: Recommender | None = None, weight: float = 1.0):
        self.inner = inner
        self.weight = weight

    def fit(self, baskets: Baskets, catalog=None):  # type: ignore[no-untyped-def]
        self.inner_ = clone(self.inner).fit(baskets, catalog)
        self.item_ids_ = self.inner_.item_ids_
        return self

    def _rank(self, codes, k, allowed):  # type: ignore[no-untyped-def]
        return self.inner_._rank(codes, k, allowed)


def test_nested_params_clone_and_repr() -> None:
    inner = CoOccurrence(metric="lift", min_count=2, backfill=False)
    outer = _Wrapper(inner, weight=0.5)
    params = outer.get_params()
    assert params["inner__metric"] == "lift" and params["inner"] is inner and params["weight"] == 0.5
    assert "inner__metric" not in outer.get_params(deep=False)
    outer.set_params(inner__metric="jaccard", weight=2.0)
    assert inner.metric == "jaccard" and outer.weight == 2.0
    twin = clone(outer)
    assert twin.inner is not inner and twin.inner.get_params() == inner.get_params()
    assert repr(outer) == "_Wrapper(inner=CoOccurrence(backfill=False, metric='jaccard', min_count=2), weight=2.0)"
    with pytest.raises(ConfigError, match="CoOccurrence has no parameter 'nope'"):
        outer.set_params(inner__nope=1)
    fitted = twin.fit(Baskets.from_lists([["a", "b"], ["a", "b"], ["b", "c"]]))
    assert fitted.recommend("a", k=2)[0].tolist() == [["b", None]]
    assert not hasattr(twin.inner, "item_ids_")  # the parameter itself stays unfitted


def test_the_contract_module_imports_without_pandas_or_torch() -> None:
    code = ("import sys, bundlewise.recommend, bundlewise.vectors; "
            "print(sorted(m for m in ('pandas', 'torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
