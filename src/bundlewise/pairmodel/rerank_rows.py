"""The ranker's training rows: candidate rows grouped by query, the label windows they are cut from, and the
label pairs and recall they are judged by (the bookkeeping of :mod:`bundlewise.pairmodel.rerank`).

Examples
--------
>>> import numpy as np
>>> rank_in(np.array([7, 3, -1]), np.array([3, 5, 7]), n=3).tolist()  # positions of 3, 5, 7 in the ranking
[1.0, 3.0, 0.0]
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bundlewise.mining.baskets import Baskets
from bundlewise.pairmodel.sampling import split_in_time

MAX_LABEL = 3  # relevance = label baskets holding both, clipped here


@dataclasses.dataclass
class Rows:
    """Candidate rows grouped by query (contiguous), their features and (when training) labels."""

    queries: np.ndarray
    lengths: np.ndarray
    i: np.ndarray
    j: np.ndarray
    x: np.ndarray
    y: np.ndarray | None = None
    weight: np.ndarray | None = None  # Σ over label baskets holding both of 1 / (basket size − 1)
    query_events: np.ndarray | None = None  # each query's label events (label baskets of ≥ 2 holding it)

    def keep_groups_with_positives(self) -> Rows:
        group = np.repeat(np.arange(len(self.lengths)), self.lengths)
        pos = np.bincount(group, weights=(self.y > 0).astype(np.float64), minlength=len(self.lengths)) > 0
        keep = pos[group]
        return Rows(self.queries[pos], self.lengths[pos], self.i[keep], self.j[keep], self.x[keep], self.y[keep],
                     self.weight[keep], self.query_events[pos])

    def row_weight(self) -> np.ndarray:
        """Queries weigh by the square root of their label events (the evaluation averages over events)."""
        return np.repeat(np.sqrt(np.maximum(self.query_events, 1.0)), self.lengths)


def concat_rows(*parts: Rows) -> Rows:
    fields = [f.name for f in dataclasses.fields(Rows)]
    return Rows(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def label_windows(b: Baskets, share: float, n: int) -> list[tuple[Baskets, Baskets]]:
    """(evidence, labels) of ``n`` label windows of ``share`` of the baskets each, newest first; each window's
    evidence is every basket before it."""
    out, rest = [], b
    for k in range(n):
        older, labels = split_in_time(rest, share / (1.0 - k * share))
        out.append((older, labels))
        rest = older
    return out


def rank_in(ranked: np.ndarray, cand: np.ndarray, n: int) -> np.ndarray:
    """Position of each candidate in ``ranked`` (-1 padded), ``n`` when absent."""
    out = np.full(len(cand), float(n))
    valid = ranked >= 0
    r = ranked[valid]
    pos = np.searchsorted(cand, r)
    pos = np.minimum(pos, max(len(cand) - 1, 0))
    hit = (cand[pos] == r) if len(cand) else np.zeros(len(r), dtype=bool)
    out[pos[hit]] = np.flatnonzero(valid)[hit]
    return out


def label_pairs(labels: Baskets) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs of the label baskets: sorted keys i*n+j, Σ 1/(size−1), basket counts; events per product."""
    n = len(labels.item_ids)
    keys, wts = [], []
    events = np.zeros(n, dtype=np.float64)
    for s, e in zip(labels.indptr[:-1], labels.indptr[1:], strict=True):
        if e - s < 2:
            continue
        items = labels.indices[s:e].astype(np.int64)
        events[items] += 1
        a, b = np.meshgrid(items, items, indexing="ij")
        off = a != b
        keys.append((a * n + b)[off])
        wts.append(np.full(int(off.sum()), 1.0 / (e - s - 1)))
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), events
    uk, inv = np.unique(np.concatenate(keys), return_inverse=True)
    return uk, np.bincount(inv, weights=np.concatenate(wts)), np.bincount(inv), events


def group_recall(rows: Rows, scores: np.ndarray, k: int = 10) -> float:
    """Recall@k of ranking each group by ``scores``, weighted as the evaluation weighs events."""
    if not len(rows.lengths):
        return float("nan")
    total, offs = 0.0, np.concatenate([[0], np.cumsum(rows.lengths)])
    for r in range(len(rows.lengths)):
        s = scores[offs[r]: offs[r + 1]]
        top = np.argsort(-s, kind="stable")[:k]
        total += float(rows.weight[offs[r]: offs[r + 1]][top].sum())
    return total / float(rows.query_events.sum())
