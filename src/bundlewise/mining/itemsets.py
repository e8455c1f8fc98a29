"""Frequent itemsets with arules semantics, level by level (Apriori), counted exactly.

* support is counted over **all** baskets (empty ones included);
* a threshold is inclusive: support >= min_support, i.e. count >= ceil(min_support * n)
  (Groceries: 0.001 x 9,835 = 9.835 -> 10 baskets; arules prints 9 but returns only >= 10);
* length 2 comes from the native pair counter, longer itemsets from candidates (joined on a
  shared prefix, pruned when any subset is infrequent) whose support is the popcount of
  the AND of their items' basket bitsets.

Examples
--------
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["a", "b", "c"], ["a", "b"], ["a", "c"], ["b"]])
>>> sets = frequent_itemsets(b, min_count=2, max_len=3)
>>> [(list(s), int(n)) for s, n in zip(sets.to_frame()["itemset"], sets.to_frame()["count"])]
[(['a'], 3), (['b'], 3), (['c'], 2), (['a', 'b'], 2), (['a', 'c'], 2)]
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bundlewise.errors import ConfigError, ResourceLimitError
from bundlewise.mining import _native, guards
from bundlewise.mining._validate import check_fraction, check_int
from bundlewise.mining.baskets import Baskets
from bundlewise.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:  # pandas only for to_frame: mining a basket file loads none
    import pandas as pd

log = logging.getLogger(__name__)

_CHUNK = 100_000  # candidates generated per step (bounds the temporary arrays' memory)
_MAX_BITSET_BYTES = 4 << 30


def min_count_for(min_support: float, n_baskets: int) -> int:
    """Smallest basket count with count / n >= min_support (robust to float rounding)."""
    check_fraction("min_support", min_support)
    return max(1, math.ceil(min_support * n_baskets * (1 - 1e-12)))


@dataclass
class Itemsets:
    """Frequent itemsets, one level per length.

    ``levels[k - 1]`` is ``(rows, counts)``: ``rows`` an int32 array (m, k) of item codes,
    each row increasing, rows in lexicographic order; ``counts`` their basket counts.
    """

    item_ids: np.ndarray
    n_baskets: int
    min_count: int
    levels: list[tuple[np.ndarray, np.ndarray]]

    @property
    def n_itemsets(self) -> int:
        return sum(len(c) for _, c in self.levels)

    def to_frame(self) -> pd.DataFrame:
        """One row per itemset: ``itemset`` (tuple of ids), ``length``, ``count``, ``support``."""
        import pandas as pd

        frames = []
        for rows, counts in self.levels:
            ids = self.item_ids[rows]
            frames.append(pd.DataFrame({"itemset": [tuple(r) for r in ids.tolist()], "length": rows.shape[1],
                                        "count": counts, "support": counts / self.n_baskets}))
        if not frames:
            return pd.DataFrame({"itemset": [], "length": [], "count": [], "support": []})
        return pd.concat(frames, ignore_index=True)

    def lookup(self, rows: np.ndarray) -> np.ndarray:
        """Counts of itemsets given as rows of codes (all of one length; must be frequent)."""
        k = rows.shape[1]
        if k == 0:
            return np.full(len(rows), self.n_baskets, dtype=np.int64)
        level_rows, level_counts = self.levels[k - 1]
        keys = _keys(level_rows, len(self.item_ids))
        want = _keys(rows, len(self.item_ids))
        pos = np.searchsorted(keys, want)
        pos = np.minimum(pos, len(keys) - 1)
        if len(want) and not np.array_equal(keys[pos], want):
            raise AssertionError("an itemset subset is missing: frequent-itemset closure broken")
        return level_counts[pos]


def _keys(rows: np.ndarray, n_items: int) -> np.ndarray:
    """Sort-compatible keys of rows: base-n integers when they fit in int64, else raw bytes."""
    k = rows.shape[1]
    if k * math.log2(max(n_items, 2)) < 62:
        keys = np.zeros(len(rows), dtype=np.int64)
        for j in range(k):
            keys = keys * n_items + rows[:, j]
        return keys
    # Big-endian bytes sort like the rows themselves (lexicographic).
    data = np.ascontiguousarray(rows.astype(">i4"))
    return data.view(np.dtype((np.void, 4 * k))).ravel()


def frequent_itemsets(
    baskets: Baskets,
    min_support: float | None = None,
    *,
    min_count: int | None = None,
    max_len: int = 10,
    n_threads: int | None = None,
    max_candidates: int = 200_000_000,
    memory_budget: int | None = guards.DEFAULT_MEMORY_BUDGET,
    max_itemsets: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> Itemsets:
    """All itemsets of up to ``max_len`` products in >= ``min_count`` baskets.

    Give either ``min_support`` (a share of all baskets) or ``min_count`` (baskets). A support
    of 0 means a count of 1 (every itemset seen once): legal, and held in check by the budgets.

    Parameters
    ----------
    memory_budget : int, optional
        Bytes the pair counting may plan to use (estimated from the basket sizes before it
        starts; None = no limit).
    max_itemsets : int, optional
        Most itemsets of all lengths together (default: what ``memory_budget`` holds downstream,
        ~400 bytes each; None with no memory budget = no limit). Counting stops as soon as it is
        passed.

    Raises
    ------
    ConfigError
        Bad thresholds.
    ResourceLimitError
        The pair counting would pass ``memory_budget``, the itemsets pass ``max_itemsets``, or
        more than ``max_candidates`` candidates at one length; the message names the length and
        a threshold that fits.
    """
    if (min_support is None) == (min_count is None):
        raise ConfigError("give exactly one of min_support (share of baskets) or min_count (baskets)")
    n = baskets.n_baskets
    threshold = min_count_for(min_support, n) if min_support is not None else min_count
    check_int("min_count", threshold, 1)
    check_int("max_len", max_len, 1)
    guards.check_memory_budget("memory_budget", memory_budget)
    check_int("max_itemsets", max_itemsets, 1, none_ok=True)
    limit = _Limit(n, threshold, min_support, guards.itemset_budget(memory_budget, max_itemsets),
                   memory_budget if max_itemsets is None else None, memory_budget, max_len)
    item_counts = baskets.item_counts()
    frequent = np.flatnonzero(item_counts >= threshold).astype(np.int32)
    levels = [(frequent.reshape(-1, 1), item_counts[frequent])]
    if max_len == 1 or len(frequent) < 2:
        return Itemsets(baskets.item_ids, n, threshold, levels)

    # Keep frequent items only, renumbered 0..f-1 (increasing, so rows stay sorted).
    remap = np.full(baskets.n_items, -1, dtype=np.int32)
    remap[frequent] = np.arange(len(frequent), dtype=np.int32)
    mapped = remap[baskets.indices]
    keep = mapped >= 0
    sub_indices = mapped[keep]
    # entries kept before each position (int32 while it fits: this array is as long as the incidence)
    kept_before = np.zeros(len(keep) + 1, dtype=np.int32 if len(keep) < 2**31 - 1 else np.int64)
    np.cumsum(keep, out=kept_before[1:])
    sub_indptr = kept_before[baskets.indptr].astype(np.int64)
    del mapped, keep, kept_before
    n_f = len(frequent)

    limit.check_pair_memory(baskets, item_counts, sub_indptr, sub_indices, n_f, n_threads)
    with progress.task("counting frequent pairs", total=None):
        a, b, counts, _ = _native.pair_counts(sub_indptr, sub_indices, n_f, None, threshold, n_threads)
    level_rows = np.stack([a, b], axis=1)
    level_counts = counts
    local_levels = [(np.arange(n_f, dtype=np.int32).reshape(-1, 1), item_counts[frequent]),
                    (level_rows, level_counts)]
    limit.check_count([c for _, c in local_levels], 2, complete=True)
    if max_len > 2 and len(level_rows):
        n_words = (n + 63) // 64
        if n_f * n_words * 8 > _MAX_BITSET_BYTES:
            raise ConfigError(f"itemsets longer than 2 need {n_f * n_words * 8 / 2**30:.1f} GiB of basket bitsets "
                              f"({n_f:,} frequent products x {n:,} baskets); raise min_support or use max_len=2")
        bits = _native.bitsets(sub_indptr, sub_indices, n_f)
        for k in range(3, max_len + 1):
            with progress.task(f"counting itemsets of length {k}", total=None) as task:
                level_rows, level_counts = _next_level(level_rows, bits, threshold, n_f, k, max_candidates,
                                                       n_threads, limit, [c for _, c in local_levels], task)
            log.info("length %d: %d frequent itemsets", k, len(level_rows))
            if not len(level_rows):
                break
            local_levels.append((level_rows, level_counts))
    levels = [(frequent[rows], cnt) for rows, cnt in local_levels]
    return Itemsets(baskets.item_ids, n, threshold, levels)


class _Limit:
    """The budgets of one :func:`frequent_itemsets` call and the messages that name what to change."""

    def __init__(self, n_baskets: int, threshold: int, support: float | None, max_itemsets: int | None,
                 derived_from: int | None, memory_budget: int | None, max_len: int):
        self.n, self.threshold, self.support, self.by_support = n_baskets, threshold, support, support is not None
        self.max_itemsets, self.derived_from = max_itemsets, derived_from  # the memory budget it came from
        self.memory_budget, self.max_len = memory_budget, max_len

    def describe(self) -> str:
        if self.by_support:
            return f"support {self.support:g} (>= {self.threshold:,} of {self.n:,} baskets)"
        return f"min_count {self.threshold:,}"

    def raise_threshold(self, count: int) -> str:
        if self.by_support:  # count / n rounded up to 2 significant digits: it admits at most `count`'s itemsets
            x = count / max(self.n, 1)
            digits = 1 - math.floor(math.log10(x))
            share = min(1.0, math.ceil(x * 10**digits) / 10**digits)
            return f"raise --min-support (min_support=) to {share:g}"
        return f"raise --min-count (min_count=) to {count:,}"

    def check_pair_memory(self, baskets: Baskets, item_counts: np.ndarray, indptr: np.ndarray,
                          indices: np.ndarray, n_f: int, n_threads: int | None) -> None:
        if self.memory_budget is None:
            return
        threads = n_threads or _native.default_threads()

        def need(t: int, sub: tuple[np.ndarray, np.ndarray, int] | None = None) -> int:
            ip, ix, nf = sub if sub is not None else _restrict(baskets, item_counts, t)
            return guards.pair_count_bytes(ip, ix, nf, weighted=False, min_count=t, n_threads=threads)

        now = need(self.threshold, (indptr, indices, n_f))
        if now <= self.memory_budget:
            return
        head = (f"counting the pairs of {n_f:,} products at {self.describe()} would need ~{guards.format_bytes(now)}, "
                f"more than the memory budget of {guards.format_bytes(self.memory_budget)} "
                f"({guards.pair_occurrences(np.diff(indptr)):,} pair occurrences)")
        levels = np.unique(item_counts[item_counts > self.threshold])
        lo, hi = 0, len(levels) - 1  # binary search: the smallest higher threshold that fits
        if not len(levels) or need(int(levels[hi])) > self.memory_budget:
            raise ResourceLimitError(f"{head}; raise --memory-budget (memory_budget=) or mine fewer baskets")
        while lo < hi:
            mid = (lo + hi) // 2
            if need(int(levels[mid])) <= self.memory_budget:
                hi = mid
            else:
                lo = mid + 1
        t = int(levels[lo])
        raise ResourceLimitError(f"{head}; {self.raise_threshold(t)} (~{guards.format_bytes(need(t))}) or raise "
                                 "--memory-budget (memory_budget=)")

    def check_count(self, counts: list[np.ndarray], k: int, *, complete: bool) -> None:
        total = sum(len(c) for c in counts)
        if self.max_itemsets is None or total <= self.max_itemsets:
            return
        t, reach = guards.suggest_threshold(counts, self.threshold, self.max_itemsets)
        shorter = f" or lower --max-len (max_len=) to {k - 1}" if k > 2 else ""
        raise ResourceLimitError(
            f"{self.describe()} admits {'' if complete else 'more than '}{total:,} itemsets up to length {k}, more "
            f"than the budget of {self.max_itemsets:,} itemsets"
            + ("" if self.derived_from is None else f" (~{guards.ITEMSET_BYTES} bytes each within --memory-budget "
               f"{guards.format_bytes(self.derived_from)})")
            + f"; {self.raise_threshold(t)} ({reach:,} of the itemsets counted so far reach it){shorter}")


def _restrict(baskets: Baskets, item_counts: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The incidence of the products in >= t baskets, renumbered (as frequent_itemsets builds it)."""
    keep_item = item_counts >= t
    remap = np.cumsum(keep_item) - 1
    keep = keep_item[baskets.indices]
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    return kept_before[baskets.indptr], remap[baskets.indices[keep]].astype(np.int32), int(keep_item.sum())


def _next_level(prev: np.ndarray, bits: np.ndarray, threshold: int, n_f: int, k: int, max_candidates: int,
                n_threads: int | None, limit: _Limit | None = None, lower: list[np.ndarray] | None = None,
                task: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Join (k-1)-itemsets sharing their first k-2 items, prune, count; keep the frequent ones.

    With ``limit``, stops (raising) as soon as the itemsets of ``lower`` levels plus those found
    here pass the itemset budget; ``task`` advances by the candidates counted.
    """
    m = len(prev)
    if m < 2:
        return np.empty((0, k), dtype=np.int32), np.empty(0, dtype=np.int64)
    prefix_change = np.any(prev[1:, : k - 2] != prev[:-1, : k - 2], axis=1)
    starts = np.concatenate([[0], np.flatnonzero(prefix_change) + 1])
    ends = np.concatenate([starts[1:], [m]])
    group_end = np.repeat(ends, ends - starts)
    per_row = group_end - np.arange(m) - 1  # partners after each row within its group
    total = int(per_row.sum())
    if total > max_candidates:
        hint = ""
        if limit is not None and lower:
            t, reach = guards.suggest_threshold(lower, threshold, max_candidates)
            hint = f" ({limit.raise_threshold(t)}: {reach:,} itemsets up to length {k - 1} reach it)"
        raise ResourceLimitError(f"{total:,} candidate itemsets of length {k} (limit {max_candidates:,}); raise "
                                 f"min_support or lower max_len to {k - 1}{hint}")
    if task is not None:
        task.update(total=total)
    prev_keys = _keys(prev, n_f)
    out_rows, out_counts = [], []
    cum = np.cumsum(per_row)
    row = 0
    while row < m:  # chunks of rows whose candidates fit in one native call
        stop = int(np.searchsorted(cum, (cum[row - 1] if row else 0) + _CHUNK, side="right"))
        stop = max(stop, row + 1)
        counts_i = per_row[row:stop]
        n_c = int(counts_i.sum())
        if n_c:
            left = np.repeat(np.arange(row, stop), counts_i)
            offset = np.arange(n_c) - np.repeat(np.cumsum(counts_i) - counts_i, counts_i)
            right = left + 1 + offset
            cands = np.concatenate([prev[left], prev[right, -1:]], axis=1)
            # every (k-1)-subset must be frequent; dropping either of the last two gives a parent
            ok = np.ones(n_c, dtype=bool)
            for drop in range(k - 2):
                sub = _keys(np.delete(cands, drop, axis=1), n_f)
                pos = np.minimum(np.searchsorted(prev_keys, sub), m - 1)  # prev rows are sorted: so are keys
                ok &= prev_keys[pos] == sub
            cands = cands[ok]
            support = _native.support_join(bits, prev, left[ok], cands[:, -1], n_threads)
            frequent = support >= threshold
            out_rows.append(cands[frequent])
            out_counts.append(support[frequent])
            if limit is not None:  # stop at once: a level can be far bigger than the budget
                limit.check_count([*(lower or []), *out_counts], k, complete=False)
        if task is not None:
            task.advance(n_c)
        row = stop
    if not out_rows:
        return np.empty((0, k), dtype=np.int32), np.empty(0, dtype=np.int64)
    return np.concatenate(out_rows), np.concatenate(out_counts)
