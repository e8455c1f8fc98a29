"""Guards against blow-ups: estimate what a mining step needs *before* it runs, refuse beyond a budget.

A basket of s products holds s(s-1)/2 pairs, so a handful of wholesale orders of thousands of
lines can need gigabytes; a support of 0 admits every itemset of every basket. Each guard
estimates from the basket sizes alone (cheap, exact arithmetic, deterministic) and raises
:class:`~bundlewise.errors.ResourceLimitError` with the option that fixes it and what that
option would cost (``--max-basket-size 200 would drop 3 baskets (0.02 %) and need ~40 MiB``).

The byte counts below follow the native pair counter (``_kernels.c``: per-item result buffers
of (b, n[, w]), the packed result, then the NumPy arrays a, b, n[, w] while the packed result
still exists) and were checked against peak RSS: 24.6 bytes per distinct pair unweighted, 44
with decay weights; ``pair_stats`` rows measured 373 bytes.

Examples
--------
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["a", "b", "c"], ["a", "b"]])
>>> pair_occurrences(b.sizes())
4
>>> format_bytes(3 * 2**20)
'3.0 MiB'
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.config import DEFAULT_MEMORY_BUDGET as DEFAULT_MEMORY_BUDGET
from bundlewise.config import check_memory_budget as check_memory_budget
from bundlewise.errors import ConfigError, ResourceLimitError

if TYPE_CHECKING:
    from bundlewise.mining.baskets import Baskets


PAIR_BYTES = 28  # per distinct pair at the counter's peak, no weights (measured 24.6)
PAIR_BYTES_WEIGHTED = 52  # with decay weights (measured 44)
ENTRY_BYTES = 8  # the counter's column copy of the incidence: basket and offset per entry
THREAD_ITEM_BYTES = 12  # each thread's dense counter (int64) and touched list (int32) per item
THREAD_ITEM_BYTES_WEIGHTED = 20  # plus the weight accumulator
MERGE_PAIR_BYTES = 40  # partial_fit: keys, unique keys, inverse and merged counts per old + new pair
STATS_ROW_BYTES = 400  # one pair_stats() row with its temporaries (measured 373)
ITEMSET_BYTES = 400  # one itemset downstream: its row in to_frame() / the itemsets table
RULE_BYTES = 500  # one rule in the rules frame (a tuple antecedent, 9 columns, the sort's copy)

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}


def parse_size(text: str | int | float, name: str = "--memory-budget") -> int:
    """Bytes of a size such as ``"2GiB"``, ``"512M"``, ``"1.5 GB"`` or ``4096``.

    Examples
    --------
    >>> parse_size("2G"), parse_size("512 MiB"), parse_size("1.5GB")
    (2147483648, 536870912, 1500000000)
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        raw = str(text).strip().lower().replace(" ", "").replace("_", "").replace(",", "")
        digits = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
        value_text, unit = digits, raw[len(digits):]
        try:
            value = float(value_text)
        except ValueError:
            value = math.nan
    if unit not in _UNITS or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} is {text!r}; write a size such as 2GiB, 512MiB or 1.5GB (units: "
                          "K/KiB, M/MiB, G/GiB, T/TiB = powers of 1024; KB, MB, GB, TB = powers of 1000)")
    return int(value * _UNITS[unit])


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style text of a byte count."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def pair_occurrences(sizes: np.ndarray) -> int:
    """Sum of s(s-1)/2 over baskets of s products: the work of counting every pair (exact int)."""
    s = np.asarray(sizes, dtype=np.int64)
    return int((s * (s - 1) // 2).sum())


def _distinct_pair_bound(indptr: np.ndarray, indices: np.ndarray, n_items: int, min_count: int) -> int:
    """An upper bound on the pairs a < b the counter keeps: item a has at most one partner per item
    after it, at most one per occurrence of a pair (a, later item), and a kept pair has
    >= ``min_count`` occurrences."""
    if len(indices) == 0:
        return 0
    indptr = np.asarray(indptr, dtype=np.int64)
    # entry k of a basket ending at e starts e-1-k pair occurrences (one per item after it)
    after = np.repeat(indptr[1:], np.diff(indptr))
    after -= np.arange(1, len(indices) + 1, dtype=np.int64)
    occ = np.bincount(indices, weights=after, minlength=n_items)
    later = n_items - 1 - np.arange(n_items, dtype=np.float64)
    return int(np.minimum(np.floor(occ / max(min_count, 1)), later).sum())


def pair_count_bytes(indptr: np.ndarray, indices: np.ndarray, n_items: int, *, weighted: bool, min_count: int = 1,
                     n_threads: int = 1) -> int:
    """Peak bytes the native pair counter needs for this incidence (an upper bound)."""
    pairs = _distinct_pair_bound(indptr, indices, n_items, min_count)
    per_pair = PAIR_BYTES_WEIGHTED if weighted else PAIR_BYTES
    per_item = THREAD_ITEM_BYTES_WEIGHTED if weighted else THREAD_ITEM_BYTES
    return pairs * per_pair + len(indices) * ENTRY_BYTES + n_items * (16 + per_item * max(n_threads, 1))


def _nice_floor(x: int) -> int:
    """The largest 1, 2 or 5 times a power of ten that is <= x (x >= 1)."""
    p = 10 ** int(math.floor(math.log10(x)))
    return max(m * p for m in (1, 2, 5) if m * p <= x)


def _largest(baskets: Baskets, sizes: np.ndarray, n: int = 3) -> str:
    top = np.argsort(-sizes, kind="stable")[:n]
    ids = baskets.basket_ids
    return ", ".join((repr(ids[i]) if ids is not None else f"basket #{i + 1:,}") + f" ({sizes[i]:,} products)"
                     for i in top)


def check_pair_memory(baskets: Baskets, budget: int | None, *, weighted: bool, n_threads: int,
                      extra_bytes: int = 0, what: str = "counting product pairs") -> None:
    """Refuse pair counting that would need more than ``budget`` bytes; suggest a basket-size cap.

    Raises
    ------
    ResourceLimitError
        Names ``--max-basket-size`` (``max_basket_size``) with a cap that fits, how many
        baskets it drops and what it would need; or ``--memory-budget``.
    """
    if budget is None or baskets.n_baskets == 0:
        return
    need = pair_count_bytes(baskets.indptr, baskets.indices, baskets.n_items, weighted=weighted,
                            n_threads=n_threads) + extra_bytes
    if need <= budget:
        return
    sizes = baskets.sizes()
    occurrences = pair_occurrences(sizes)
    head = (f"{what} would need ~{format_bytes(need)}, more than the memory budget of {format_bytes(budget)} "
            f"({baskets.n_baskets:,} baskets, {occurrences:,} pair occurrences; largest baskets: "
            f"{_largest(baskets, sizes)})")
    cap = _fitting_cap(baskets, sizes, budget - extra_bytes, weighted, n_threads)
    if cap is None:
        raise ResourceLimitError(f"{head}; no basket-size cap fits: raise --memory-budget (memory_budget=) or "
                                 "mine fewer baskets (--since/--until, --segment, --store)")
    dropped = int((sizes > cap).sum())
    kept = baskets.cap_size(cap)[0]
    cap_need = pair_count_bytes(kept.indptr, kept.indices, kept.n_items, weighted=weighted,
                                n_threads=n_threads) + extra_bytes
    big_occ = pair_occurrences(sizes[sizes > cap])
    raise ResourceLimitError(
        f"{head}. The {dropped:,} baskets of more than {cap:,} products add {big_occ / max(occurrences, 1):.1%} "
        f"of the pair occurrences: --max-basket-size {cap} (max_basket_size={cap}) would drop {dropped:,} "
        f"baskets ({dropped / baskets.n_baskets:.2%}) and need ~{format_bytes(cap_need)}; or raise "
        "--memory-budget (memory_budget=)")


def _fitting_cap(baskets: Baskets, sizes: np.ndarray, budget: int, weighted: bool, n_threads: int) -> int | None:
    """A round basket-size cap (1, 2 or 5 x 10^k, >= 2) whose pair counting fits ``budget``, the largest such."""
    def fits(cap: int) -> bool:
        kept = baskets.cap_size(cap)[0]
        return pair_count_bytes(kept.indptr, kept.indices, kept.n_items, weighted=weighted,
                                n_threads=n_threads) <= budget

    values = np.unique(sizes[sizes >= 2])
    if not len(values) or not fits(2):
        return None
    lo, hi = 0, len(values) - 1  # binary search: the largest basket size that still fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(int(values[mid])):
            lo = mid
        else:
            hi = mid - 1
    best = int(values[lo])
    # every cap from the largest fitting size up to the next size keeps the same baskets: take a round one
    upper = int(values[lo + 1]) - 1 if lo + 1 < len(values) else best
    nice = _nice_floor(upper)
    return nice if nice >= best else best


def check_stats_rows(pair_n: np.ndarray, min_count: int, budget: int | None) -> None:
    """Refuse a ``pair_stats()`` table beyond the budget; suggest the ``min_count`` that fits."""
    if budget is None:
        return
    n_rows = int((pair_n >= min_count).sum())
    if n_rows * STATS_ROW_BYTES <= budget:
        return
    counts = np.sort(np.asarray(pair_n, dtype=np.int64))[::-1]
    fit = budget // STATS_ROW_BYTES  # rows that fit: the threshold is one above the count at that rank
    suggestion = int(counts[fit]) + 1 if fit < len(counts) else min_count
    suggestion = max(suggestion, min_count + 1)
    n_at = int((counts >= suggestion).sum())
    raise ResourceLimitError(
        f"the pair statistics of {n_rows:,} pairs seen in >= {min_count} baskets would need "
        f"~{format_bytes(n_rows * STATS_ROW_BYTES)}, more than the memory budget of {format_bytes(budget)}; raise "
        f"--min-count (min_count=) to {suggestion} ({n_at:,} pairs, ~{format_bytes(n_at * STATS_ROW_BYTES)}), cap "
        "basket sizes (--max-basket-size) or raise --memory-budget (memory_budget=)")


def suggest_threshold(counts: list[np.ndarray], current: int, budget_itemsets: int) -> tuple[int, int]:
    """The smallest count threshold above ``current`` that ~a tenth of the budget of the itemsets counted so
    far reach (room for longer ones), and how many reach it."""
    allc = np.sort(np.concatenate([np.asarray(c, dtype=np.int64) for c in counts]))[::-1]
    target = max(budget_itemsets // 10, 1)
    t = int(allc[target]) + 1 if target < len(allc) else current + 1
    t = max(t, current + 1)
    return t, int((allc >= t).sum())


def itemset_budget(memory_budget: int | None, max_itemsets: int | None) -> int | None:
    """Itemsets allowed: ``max_itemsets`` when given, else what the memory budget holds downstream."""
    if max_itemsets is not None:
        return max_itemsets
    return None if memory_budget is None else max(memory_budget // ITEMSET_BYTES, 1)
