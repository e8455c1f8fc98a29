"""Guards against blow-ups: huge baskets, support 0 and giant rule tables are refused before the work,
with the setting that fits; the results under the default budget are the unguarded ones."""

from __future__ import annotations

import re
import tracemalloc
from contextlib import contextmanager

import numpy as np
import pytest

from bundlewise.config import MiningConfig, RulesConfig
from bundlewise.errors import BundlewiseError, ConfigError, ResourceLimitError
from bundlewise.mining import (
    AssociationRules,
    Baskets,
    CoPurchaseStats,
    _native,
    frequent_itemsets,
    guards,
    rules_from_itemsets,
)
from bundlewise.mining.itemsets import min_count_for


def wholesale(n_small: int = 3000, n_big: int = 3, big: int = 1500, seed: int = 0) -> Baskets:
    """Ordinary baskets of 2-5 products plus a few wholesale orders of ``big`` products."""
    rng = np.random.default_rng(seed)
    items = [f"p{i:05d}" for i in range(4000)]
    lists = [list(rng.choice(items, int(rng.integers(2, 6)), replace=False)) for _ in range(n_small)]
    lists += [list(rng.choice(items, big, replace=False)) for _ in range(n_big)]
    return Baskets.from_lists(lists)


def _cap(message: str) -> int:
    return int(re.search(r"--max-basket-size (\d+)", message).group(1))


def test_huge_baskets_are_refused_before_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    baskets = wholesale()
    budget = 16 * 2**20
    unguarded = guards.pair_count_bytes(baskets.indptr, baskets.indices, baskets.n_items, weighted=False,
                                        n_threads=_native.default_threads())
    assert unguarded > budget  # the case is real: the three big baskets alone hold 3.4M pair occurrences

    def boom(*args, **kwargs):  # the refusal must come before the native counter allocates anything
        raise AssertionError("pair counting started")

    monkeypatch.setattr(_native, "pair_counts", boom)
    with pytest.raises(ResourceLimitError) as info:
        CoPurchaseStats(min_count=1, memory_budget=budget).fit(baskets)
    message = str(info.value)
    assert isinstance(info.value, MemoryError) and isinstance(info.value, BundlewiseError)
    assert "--max-basket-size" in message and "memory budget of 16.0 MiB" in message
    assert "(1,500 products)" in message  # names the largest baskets
    assert "would drop 3 baskets" in message
    assert 5 < _cap(message) < 1500


def test_the_suggested_cap_fits_and_drops_what_it_says() -> None:
    baskets = wholesale()
    budget = 16 * 2**20
    with pytest.raises(ResourceLimitError) as info:
        CoPurchaseStats(min_count=1, memory_budget=budget).fit(baskets)
    cap = _cap(str(info.value))
    stats = CoPurchaseStats(min_count=1, memory_budget=budget, max_basket_size=cap).fit(baskets)
    assert stats.n_dropped_baskets_ == 3 and stats.n_baskets_ == 3000
    # the same counts as without any budget
    free = CoPurchaseStats(min_count=1, memory_budget=None, max_basket_size=cap).fit(baskets)
    assert np.array_equal(stats.pair_n_, free.pair_n_) and np.array_equal(stats.pair_b_, free.pair_b_)


def test_the_estimate_bounds_the_real_pair_table() -> None:
    baskets = wholesale(n_big=2, big=400)
    bound = guards._distinct_pair_bound(baskets.indptr, baskets.indices, baskets.n_items, 1)
    stats = CoPurchaseStats(min_count=1, memory_budget=None).fit(baskets)
    assert len(stats.pair_a_) <= bound <= guards.pair_occurrences(baskets.sizes())
    assert bound < 1.5 * len(stats.pair_a_)  # tight enough not to refuse jobs that would fit


def test_partial_fit_is_guarded_too() -> None:
    stats = CoPurchaseStats(min_count=1, memory_budget=16 * 2**20).fit(wholesale(n_big=0, seed=1))
    with pytest.raises(ResourceLimitError, match="--max-basket-size"):
        stats.partial_fit(wholesale(seed=2))


def test_a_huge_statistics_table_names_min_count() -> None:
    baskets = wholesale(n_big=2, big=600)
    stats = CoPurchaseStats(min_count=1, memory_budget=32 * 2**20).fit(baskets)
    with pytest.raises(ResourceLimitError, match=r"raise --min-count \(min_count=\) to 2 ") as info:
        stats.pair_stats()
    assert "pairs seen in >= 1 baskets" in str(info.value)
    assert len(stats.pair_stats(min_count=2)) > 0  # the suggestion fits


def test_support_zero_is_refused_at_the_itemset_budget_with_a_support_that_fits() -> None:
    rng = np.random.default_rng(0)
    items = [f"i{k:02d}" for k in range(60)]
    baskets = Baskets.from_lists([list(rng.choice(items, 25, replace=False)) for _ in range(200)])
    tracemalloc.start()
    try:
        with pytest.raises(ResourceLimitError) as info:
            AssociationRules(min_support=0.0, min_confidence=0.5, memory_budget=2**20).fit(baskets)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    # unguarded, length 10 alone would be ~200 x C(25, 10) itemsets; refused within a few MiB
    assert peak < 64 * 2**20
    assert message.startswith("support 0 (>= 1 of 200 baskets) admits more than")
    assert "up to length 3" in message and "lower --max-len (max_len=) to 2" in message
    suggested = float(re.search(r"raise --min-support \(min_support=\) to ([0-9.]+)", message).group(1))
    assert min_count_for(suggested, 200) > 1
    # at the suggested support the same budget holds up to that length
    rules = AssociationRules(min_support=suggested, min_confidence=0.5, max_len=3, memory_budget=2**20).fit(baskets)
    assert rules.itemsets_.n_itemsets <= 2**20 // guards.ITEMSET_BYTES


def test_itemset_budget_by_count_and_mine_wording() -> None:
    baskets = Baskets.from_lists([list("abcdefgh")] * 5 + [list("ab")] * 5)
    with pytest.raises(ResourceLimitError, match=r"min_count 1 admits .* raise --min-count \(min_count=\) to "):
        frequent_itemsets(baskets, min_count=1, max_len=8, max_itemsets=50)
    assert frequent_itemsets(baskets, min_count=1, max_len=8, max_itemsets=255).n_itemsets == 255


def test_pair_memory_in_rules_names_min_support() -> None:
    baskets = wholesale(n_big=3, big=800)
    with pytest.raises(ResourceLimitError, match=r"counting the pairs of .* raise --min-support \(min_support=\) "
                                                 r"to [0-9.]+"):
        frequent_itemsets(baskets, 0.0, max_len=2, memory_budget=8 * 2**20)


def test_a_huge_rule_table_is_refused_with_a_confidence_that_fits() -> None:
    rng = np.random.default_rng(5)
    baskets = Baskets.from_lists([list(rng.choice(list("abcdefghij"), int(rng.integers(2, 7)), replace=False))
                                  for _ in range(400)])
    sets = frequent_itemsets(baskets, min_count=3, max_len=4)
    all_rules = rules_from_itemsets(sets, 0.0, memory_budget=None)
    budget = guards.RULE_BYTES * (len(all_rules) // 2)
    with pytest.raises(ResourceLimitError, match=r"raise --min-confidence \(min_confidence=\) to ") as info:
        rules_from_itemsets(sets, 0.0, memory_budget=budget)
    conf = float(re.search(r"min_confidence=\) to ([0-9.]+)", str(info.value)).group(1))
    assert len(rules_from_itemsets(sets, conf, memory_budget=budget)) <= len(all_rules) // 2


class _Recorder:
    def __init__(self) -> None:
        self.tasks: dict[str, list[float]] = {}

    @contextmanager
    def task(self, description: str, total: float | None = None):  # type: ignore[no-untyped-def]
        rec = self.tasks.setdefault(description, [0.0, 0.0])
        outer = self

        class T:
            def advance(self, amount: float = 1.0) -> None:
                rec[0] += amount

            def update(self, *, completed: float | None = None, total: float | None = None) -> None:
                if total is not None:
                    rec[1] = total

        assert outer is self
        yield T()


def test_progress_per_level_counts_the_candidates() -> None:
    rng = np.random.default_rng(3)
    baskets = Baskets.from_lists([list(rng.choice(list("abcdefghijkl"), 6, replace=False)) for _ in range(300)])
    progress = _Recorder()
    frequent_itemsets(baskets, min_count=5, max_len=4, progress=progress)
    assert "counting frequent pairs" in progress.tasks
    done, total = progress.tasks["counting itemsets of length 3"]
    assert total > 0 and done == total


def test_default_budget_changes_no_result() -> None:
    baskets = wholesale(n_big=1, big=200)
    a = frequent_itemsets(baskets, min_count=2, max_len=3)
    b = frequent_itemsets(baskets, min_count=2, max_len=3, memory_budget=None)
    assert a.to_frame().equals(b.to_frame())


@pytest.mark.parametrize(("text", "expected"), [("2GiB", 2 * 2**30), ("512 MiB", 512 * 2**20), ("1.5GB", 1.5e9),
                                                ("4096", 4096), ("64k", 64 * 2**10)])
def test_parse_size(text: str, expected: float) -> None:
    assert guards.parse_size(text) == int(expected)


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "2 parsecs", ""])
def test_parse_size_refuses_with_the_format(text: str) -> None:
    with pytest.raises(ConfigError, match="--memory-budget is .*write a size such as 2GiB"):
        guards.parse_size(text)


@pytest.mark.parametrize("cls", [MiningConfig, RulesConfig])
def test_configs_check_budget_and_dates(cls) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="memory_budget is 0"):
        cls(memory_budget=0)
    with pytest.raises(ConfigError, match="--since is 'yesterday'; write an ISO date such as 2024-01-31"):
        cls(since="yesterday")
    with pytest.raises(ConfigError, match="--until is '31/01/2024'"):
        cls(until="31/01/2024")
    with pytest.raises(ConfigError, match="--since 2024-02-01 is not before --until 2024-01-01"):
        cls(since="2024-02-01", until="2024-01-01")
    assert cls(since="2024-01-01", until="2024-01-31T18:00").until == "2024-01-31T18:00"
