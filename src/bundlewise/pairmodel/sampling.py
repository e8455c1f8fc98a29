"""Training examples of the pair model: which baskets teach, which check, and which pairs are negatives.

* **Time splits.** The fit baskets are cut in time: evidence (older) → labels (newer); the labels
  are cut again into *training* labels and the newest ``held_out_share`` as *held-out* labels.
  Held-out examples come only from held-out baskets, so early stopping measures what the
  evaluation measures (future baskets), not the training pairs a second time.
* **How many.** Positives are ordered pairs of a label basket (basket drawn ∝ its size, as the
  evaluation weighs them), ``positives_per_pair`` times the distinct ordered pairs the baskets
  hold, at most ``max_positives``: a small shop gives a small, fast fit, not 300k draws of the
  same few thousand pairs.
* **Negatives.** ``n_negatives`` per positive: by popularity (``count ** 0.75``); a share of *hard*
  ones, products whose text is close to ``i`` and that were never bought with it although they
  *had the chance* (both sold in the evidence, ``E[n_ij] = n_i n_j / N >= hard_negative_exposure``):
  a product that never sold is no evidence against "reads alike"; and optionally *candidate*
  examples (one of i's top evidence partners, labelled by the label basket).

Examples
--------
>>> import numpy as np
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["a", "b"], ["a", "c"], ["b", "c"], ["a", "b"]])
>>> older, newer = split_in_time(b, 0.25)
>>> older.n_baskets, newer.n_baskets
(3, 1)
>>> n_positives(b, positives_per_pair=2.0, max_positives=1000)  # 3 distinct pairs, both directions
12
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.copurchase import CoPurchaseStats
from bundlewise.pairmodel.features import PairTable

KINDS = ("positive", "popularity", "hard", "candidate")  # Examples.kind codes
_HARD_POOL = 20  # nearest texts a hard negative is drawn from


@dataclass
class Examples:
    """Ordered pairs ``i → j`` with labels ``y`` and each one's :data:`KINDS` code."""

    i: np.ndarray
    j: np.ndarray
    y: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.i)

    def counts(self) -> dict[str, int]:
        """Examples of each kind (the negative mix a fit actually used)."""
        return {name: int((self.kind == k).sum()) for k, name in enumerate(KINDS)}


def check_order_times(baskets: Baskets) -> None:
    """The pair model learns time order (older baskets' evidence → the newest baskets' co-purchases, plus a
    recent view with a 30-day half-life), so every basket needs its order time; baskets without any
    timestamps (``timestamps=None``, e.g. from a basket file) are taken in file order."""
    if baskets.timestamps is None:
        return
    missing = int(np.isnat(np.asarray(baskets.timestamps, dtype="datetime64[us]")).sum())
    if missing:
        raise ConfigError(
            f"training needs the order time of every basket, and {missing:,} of the {baskets.n_baskets:,} baskets "
            "have none: their orders were loaded without an ordered_at value. The pair model learns from time "
            "order (older baskets predict the newest ones), so load the orders with their timestamp column into "
            "a new warehouse (bundlewise --db NEW.duckdb ingest orders FILE, with --map ordered_at=COLUMN when the "
            "column has another name); 'bundlewise mine' and 'bundlewise rules' work without timestamps")


def split_in_time(b: Baskets, newer_share: float) -> tuple[Baskets, Baskets]:
    """(older, newer) baskets: the newest ``newer_share`` by order time (file order without times)."""
    order = np.argsort(b.timestamps, kind="stable") if b.timestamps is not None else np.arange(b.n_baskets)
    cut = int(round(len(order) * (1 - newer_share)))
    older = np.zeros(b.n_baskets, dtype=bool)
    older[order[:cut]] = True
    return b.select(older), b.select(~older)


def n_distinct_pairs(b: Baskets) -> int:
    """Distinct *ordered* product pairs bought together in ``b``."""
    if b.n_baskets == 0 or not (b.sizes() >= 2).any():
        return 0
    return 2 * len(CoPurchaseStats(min_count=1).fit(b).pair_a_)


def n_positives(b: Baskets, *, positives_per_pair: float, max_positives: int) -> int:
    """Positives to draw from ``b``: ``positives_per_pair`` × its distinct ordered pairs, capped."""
    return int(min(max_positives, np.ceil(positives_per_pair * n_distinct_pairs(b))))


def sample_examples(labels: Baskets, n_pos: int, *, item_counts: np.ndarray, ev_stats: CoPurchaseStats,
                    ev_table: PairTable, full_table: PairTable, vectors: np.ndarray, has_text: np.ndarray,
                    n_negatives: int, hard_share: float, hard_exposure: float, candidate_share: float,
                    rng: np.random.Generator) -> Examples:
    """Positives from ``labels`` and their negatives (see the module docstring)."""
    sizes = labels.sizes()
    ok = np.flatnonzero(sizes >= 2)
    if len(ok) == 0:
        raise ConfigError("the label baskets hold no basket with two products; the pair model needs "
                          "co-purchases to learn from (more baskets, or a larger label_share)")
    p = sizes[ok] / sizes[ok].sum()
    bsk = ok[rng.choice(len(ok), size=n_pos, p=p)]
    s = sizes[bsk]
    a = rng.integers(0, s)
    c = (a + rng.integers(1, s)) % s  # a different position of the same basket
    start = labels.indptr[bsk]
    pi, pj = labels.indices[start + a].astype(np.int64), labels.indices[start + c].astype(np.int64)
    counts = np.asarray(item_counts, dtype=np.float64)
    pop = counts ** 0.75
    pop /= pop.sum()
    ni = np.repeat(pi, n_negatives)
    nj = rng.choice(len(counts), size=len(ni), p=pop)
    kind = np.full(len(ni), 1, dtype=np.int8)
    n_hard = int(round(hard_share * len(ni)))
    hard_pick = np.zeros(0, dtype=np.int64)
    if n_hard and vectors.shape[1]:
        hard_pick = rng.choice(len(ni), size=n_hard, replace=False)
        cand = _hard_candidates(ni[hard_pick], ev_table, full_table, vectors, has_text, hard_exposure, rng)
        ok_h = cand >= 0
        nj[hard_pick[ok_h]] = cand[ok_h]
        kind[hard_pick[ok_h]] = 2
    clash = nj == ni
    nj[clash] = (nj[clash] + 1) % len(counts)
    ny = np.zeros(len(ni), dtype=np.float32)
    n_cand = int(round(candidate_share * len(ni)))
    if n_cand:
        rest = np.setdiff1d(np.arange(len(ni)), hard_pick)
        pick_c = rng.choice(rest, size=min(n_cand, len(rest)), replace=False)
        uniq = np.unique(ni[pick_c])
        top, _ = ev_stats.with_metric("confidence", min_count=1)._rank(uniq, 50, None)
        qpos = np.searchsorted(uniq, ni[pick_c])
        width = np.maximum((top[qpos] >= 0).sum(axis=1), 1)
        cand = top[qpos, (rng.random(len(pick_c)) * width).astype(np.int64)]
        ok_c = cand >= 0
        nj[pick_c[ok_c]] = cand[ok_c]
        kind[pick_c[ok_c]] = 3
        # labelled by whether the label basket really holds it (most do not)
        keys = np.repeat(np.arange(labels.n_baskets), sizes).astype(np.int64) * labels.n_items + labels.indices
        nb = np.repeat(bsk, n_negatives)[pick_c[ok_c]].astype(np.int64) * labels.n_items + cand[ok_c]
        pos = np.minimum(np.searchsorted(keys, nb), len(keys) - 1)
        ny[pick_c[ok_c]] = (keys[pos] == nb).astype(np.float32)
    return Examples(np.concatenate([pi, ni]), np.concatenate([pj, nj]),
                    np.concatenate([np.ones(len(pi), dtype=np.float32), ny]),
                    np.concatenate([np.zeros(len(pi), dtype=np.int8), kind]))


def _hard_candidates(qi: np.ndarray, ev_table: PairTable, full_table: PairTable, vectors: np.ndarray,
                     has_text: np.ndarray, exposure: float, rng: np.random.Generator) -> np.ndarray:
    """One hard negative per query code (-1 where none qualifies): a near text never bought with it.

    With ``exposure > 0`` only products sold in the evidence qualify, and only when the two were
    expected together at least ``exposure`` times (so "never together" is evidence, not chance).
    """
    from bundlewise.vectors import cosine_top_k

    uniq = np.unique(qi)
    allowed = has_text & (ev_table.item_weights > 0) if exposure > 0 else has_text
    near, _ = cosine_top_k(vectors[uniq].astype(np.float64), vectors.astype(np.float64), _HARD_POOL,
                           allowed=allowed, exclude=uniq)
    qpos = np.searchsorted(uniq, qi)
    cand = near[qpos, rng.integers(0, _HARD_POOL, size=len(qi))]
    safe = np.maximum(cand, 0)
    ok = (cand >= 0) & (full_table.counts(qi, safe) == 0)
    if exposure > 0:
        expected = ev_table.item_weights[qi] * ev_table.item_weights[safe] / max(ev_table.total_weight, 1.0)
        ok &= expected >= exposure
    return np.where(ok, cand, -1)


def summary(examples: Examples) -> dict[str, Any]:
    """Counts by kind plus the positives' distinct pairs (for the training log and metrics)."""
    pos = examples.kind == 0
    keys = examples.i[pos] * (int(max(examples.i.max(initial=0), examples.j.max(initial=0))) + 1) + examples.j[pos]
    return {**examples.counts(), "distinct_positive_pairs": int(len(np.unique(keys)))}
