"""Candidate bundles: pairs from each product's top partners, triples from pairs that close a triangle.

Any object with ``recommend(ids, k) -> (ids, scores)`` (the house contract,
:class:`bundlewise.recommend.Recommender`) can propose the partners: a
:class:`~bundlewise.mining.CoPurchaseStats` whose ``metric`` says how it ranks (shrunk lift in the
bundle plan; :meth:`~bundlewise.mining.CoPurchaseStats.with_metric` re-ranks fitted counts), a
learned pair model. A second scorer fills the ``model_score`` column; pair statistics fill the
evidence columns ``n_ab``, ``lift`` and ``q_value``.

Examples
--------
>>> from bundlewise.mining import Baskets, CoPurchaseStats
>>> import pandas as pd
>>> baskets = Baskets.from_lists([["tent", "pegs", "lamp"]] * 4 + [["tent", "pegs"], ["milk"]] * 3)
>>> stats = CoPurchaseStats(min_count=1, metric="shrunk_lift").fit(baskets)
>>> catalog = pd.DataFrame({"product_id": ["lamp", "milk", "pegs", "tent"]})
>>> cands = generate_candidates(stats, catalog, pair_stats=stats.pair_stats(), top_k=3, baskets=baskets)
>>> cands[["bundle_id", "n_ab"]].values.tolist()
[['pegs+tent', 7], ['lamp+pegs', 4], ['lamp+tent', 4], ['lamp+pegs+tent', 4]]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError, DataValidationError
from bundlewise.mining.baskets import Baskets
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ("bundle_id", "products", "score", "n_ab", "lift", "q_value", "model_score")
SEPARATOR = "+"
_BATCH = 2048


def generate_candidates(scorer: Any, catalog: pd.DataFrame, *, pair_stats: pd.DataFrame | None = None,
                        top_k: int = 10, max_size: int = 3, min_count: int | None = None,
                        model_scorer: Any = None, model_k: int = 50,
                        baskets: Baskets | None = None, max_candidates: int | None = None,
                        products: Iterable[str] | None = None,
                        progress: Progress = NULL_PROGRESS) -> pd.DataFrame:
    """Candidate bundles of 2 (and 3) products in the candidates format.

    Parameters
    ----------
    scorer : object with ``recommend(ids, k)``
        Proposes each product's partners, ranked as the scorer ranks them (for
        :class:`~bundlewise.mining.CoPurchaseStats`: its ``metric``).
    catalog : DataFrame
        ``product_id`` (from :func:`bundlewise.ingest.load_catalog`): only catalogue products
        are queried and bundled.
    pair_stats : DataFrame, optional
        :meth:`CoPurchaseStats.pair_stats` output: fills ``n_ab``, ``lift`` and ``q_value``
        (0, NaN, NaN for a pair with no statistics).
    top_k : int
        Partners asked per product.
    max_size : {2, 3}
        3 adds triples whose three pairs are all candidates.
    min_count : int, optional
        Drop pairs seen together in fewer baskets (needs ``pair_stats``), and triples too when
        ``baskets`` counts them.
    model_scorer : object with ``recommend(ids, k)``, optional
        Fills ``model_score`` (its score of the partner among its top ``model_k``; NaN if absent).
    baskets : Baskets, optional
        Counts triples exactly (``n_ab`` of a triple = baskets with all three; its ``lift`` =
        ``n_abc N^2 / (n_a n_b n_c)``). Without it a triple's ``n_ab`` is the smallest pair count,
        an upper bound, and its lift NaN.
    max_candidates : int, optional
        Keep the best-scored ones.
    products : iterable of str, optional
        Query only these products (default: every catalogue product the scorer knows).

    Returns
    -------
    DataFrame
        ``bundle_id`` (sorted ids joined by "+"), ``products`` (tuple, sorted), ``score`` (pairs:
        the better of the two directed scores; triples: the weakest of their pairs), ``n_ab``,
        ``lift``, ``q_value``, ``model_score``; pairs first, each part by score then id.
    """
    if max_size not in (2, 3):
        raise ConfigError(f"max_size is {max_size!r}; allowed values are 2 and 3")
    if top_k < 1:
        raise ConfigError(f"top_k is {top_k}; it must be >= 1")
    if min_count is not None and pair_stats is None:
        raise ConfigError("min_count needs pair_stats (the co-purchase counts); pass pair_stats= or min_count=None")
    if "product_id" not in catalog.columns:
        raise DataValidationError("the catalog needs a 'product_id' column (see bundlewise.ingest.load_catalog)")
    if not callable(getattr(scorer, "recommend", None)):
        raise ConfigError(f"the scorer {type(scorer).__name__} has no recommend(ids, k) method; pass a fitted "
                          "CoPurchaseStats or a pair model")
    in_catalog = set(catalog["product_id"].astype(str))
    queries = sorted(in_catalog if products is None else set(map(str, products)) & in_catalog)
    known = getattr(scorer, "item_ids_", None)
    if known is not None:
        queries = sorted(set(queries) & set(map(str, known)))
    pairs = _top_pairs(scorer, queries, top_k, in_catalog, progress)
    evidence = _evidence(pair_stats)
    df = pd.DataFrame([(a, b, s) for (a, b), s in sorted(pairs.items())], columns=["a", "b", "score"])
    if df.empty:
        return _empty()
    ev = [evidence.get((a, b), (0, np.nan, np.nan)) for a, b in zip(df["a"], df["b"], strict=True)]
    df["n_ab"] = np.array([e[0] for e in ev], dtype=np.int64)
    df["lift"] = np.array([e[1] for e in ev], dtype=float)
    df["q_value"] = np.array([e[2] for e in ev], dtype=float)
    if min_count is not None:
        df = df[df["n_ab"] >= min_count].reset_index(drop=True)
    df["model_score"] = _model_scores(model_scorer, df, model_k)
    df["products"] = [(a, b) for a, b in zip(df["a"], df["b"], strict=True)]
    out = df.drop(columns=["a", "b"])
    if max_size == 3 and len(df):
        triples = _triples(df, baskets)
        if min_count is not None and baskets is not None:
            triples = triples[triples["n_ab"] >= min_count]
        out = pd.concat([_sorted(out), _sorted(triples)], ignore_index=True)
    else:
        out = _sorted(out)
    out["bundle_id"] = [SEPARATOR.join(p) for p in out["products"]]
    out = out[list(CANDIDATE_COLUMNS)]
    if max_candidates is not None and len(out) > max_candidates:
        keep = out["score"].rank(method="first", ascending=False) <= max_candidates
        out = out[keep]
    log.info("%d candidate bundles from %d queried products", len(out), len(queries))
    return out.reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"bundle_id": pd.Series(dtype=object), "products": pd.Series(dtype=object),
                         "score": pd.Series(dtype=float), "n_ab": pd.Series(dtype=np.int64),
                         "lift": pd.Series(dtype=float), "q_value": pd.Series(dtype=float),
                         "model_score": pd.Series(dtype=float)})


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    key = df.assign(_id=[SEPARATOR.join(p) for p in df["products"]])
    return key.sort_values(["score", "_id"], ascending=[False, True], kind="stable").drop(columns="_id")


def _top_pairs(scorer: Any, queries: list[str], k: int, allowed_ids: set[str],
               progress: Progress) -> dict[tuple[str, str], float]:
    pairs: dict[tuple[str, str], float] = {}
    with progress.task("candidate partners", total=len(queries)) as task:
        for start in range(0, len(queries), _BATCH):
            batch = queries[start:start + _BATCH]
            ids, scores = scorer.recommend(batch, k)
            for q, row_ids, row_scores in zip(batch, ids, scores, strict=True):
                for pid, s in zip(row_ids, row_scores, strict=True):
                    if pid is None or pid == q or str(pid) not in allowed_ids or not np.isfinite(s):
                        continue
                    key = (q, str(pid)) if q < str(pid) else (str(pid), q)
                    pairs[key] = max(pairs.get(key, -np.inf), float(s))
            task.advance(len(batch))
    return pairs


def _evidence(pair_stats: pd.DataFrame | None) -> dict[tuple[str, str], tuple[int, float, float]]:
    if pair_stats is None or pair_stats.empty:
        return {}
    a = pair_stats["item_a"].astype(str).to_numpy()
    b = pair_stats["item_b"].astype(str).to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return {(x, y): (int(n), float(lift), float(q)) for x, y, n, lift, q
            in zip(lo, hi, pair_stats["n_ab"], pair_stats["lift"], pair_stats["q_value"], strict=True)}


def _model_scores(model_scorer: Any, df: pd.DataFrame, k: int) -> np.ndarray:
    out = np.full(len(df), np.nan)
    if model_scorer is None or df.empty:
        return out
    if hasattr(model_scorer, "score_pairs"):  # a pair model that scores any pair directly
        return np.asarray(model_scorer.score_pairs(df["a"].tolist(), df["b"].tolist()), dtype=float)
    queries = sorted(set(df["a"]))
    known = getattr(model_scorer, "item_ids_", None)
    if known is not None:
        queries = sorted(set(queries) & set(map(str, known)))
    table: dict[tuple[str, str], float] = {}
    for start in range(0, len(queries), _BATCH):
        batch = queries[start:start + _BATCH]
        ids, scores = model_scorer.recommend(batch, k)
        for q, row_ids, row_scores in zip(batch, ids, scores, strict=True):
            table.update({(q, str(p)): float(s) for p, s in zip(row_ids, row_scores, strict=True) if p is not None})
    for i, (a, b) in enumerate(zip(df["a"], df["b"], strict=True)):
        out[i] = table.get((a, b), np.nan)
    return out


def _triples(df: pd.DataFrame, baskets: Baskets | None) -> pd.DataFrame:
    """Every {a, b, c} whose three pairs are all candidate pairs."""
    rows = {(a, b): i for i, (a, b) in enumerate(zip(df["a"], df["b"], strict=True))}
    neighbours: dict[str, set[str]] = {}
    for a, b in rows:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    found = []
    for a, b in rows:  # a < b; close with c > b so each triangle is found once
        for c in sorted(neighbours[a] & neighbours[b]):
            if c > b:
                found.append((a, b, c))
    if not found:
        return pd.DataFrame(columns=["products", "score", "n_ab", "lift", "q_value", "model_score"])
    idx = np.array([[rows[(a, b)], rows[(a, c)], rows[(b, c)]] for a, b, c in found])
    score = df["score"].to_numpy()[idx].min(axis=1)
    n_pair = df["n_ab"].to_numpy()[idx]
    q = df["q_value"].to_numpy()[idx].max(axis=1)
    model = df["model_score"].to_numpy()[idx]
    model_score = np.where(np.isnan(model).any(axis=1), np.nan, np.nan_to_num(model).min(axis=1))
    n_abc, lift = n_pair.min(axis=1), np.full(len(found), np.nan)
    if baskets is not None:
        n_abc, lift = _triple_counts(baskets, found)
    return pd.DataFrame({"products": found, "score": score, "n_ab": np.asarray(n_abc, dtype=np.int64),
                         "lift": lift, "q_value": q, "model_score": model_score})


def _triple_counts(baskets: Baskets, triples: list[tuple[str, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    from scipy import sparse

    ids = baskets.item_ids.astype(str)
    codes = np.searchsorted(ids, np.asarray(triples, dtype=str))
    codes = np.minimum(codes, len(ids) - 1)
    present = ids[codes] == np.asarray(triples, dtype=str)
    # column j of the CSC form lists the baskets holding item j, sorted
    incidence = sparse.csr_matrix((np.ones(baskets.nnz, dtype=np.int8), baskets.indices, baskets.indptr),
                                  shape=(baskets.n_baskets, baskets.n_items)).tocsc()
    counts = baskets.item_counts()
    n = np.zeros(len(triples), dtype=np.int64)
    lift = np.full(len(triples), np.nan)
    for t, (row, ok) in enumerate(zip(codes, present, strict=True)):
        if not ok.all():
            continue
        cols = [incidence.indices[incidence.indptr[c]:incidence.indptr[c + 1]] for c in row]
        common = np.intersect1d(np.intersect1d(cols[0], cols[1], assume_unique=True), cols[2], assume_unique=True)
        n[t] = len(common)
        denom = float(np.prod(counts[row].astype(float)))
        lift[t] = n[t] * float(baskets.n_baskets) ** 2 / denom if denom > 0 else np.nan
    return n, lift
