"""Association rules X ⇒ {y} with arules semantics (one product on the right-hand side).

Thresholds are inclusive (>=); ``min_len`` / ``max_len`` count every product of the rule
(antecedent + consequent), as in arules, whose defaults (support 0.1, confidence 0.8,
minlen 1, maxlen 10) are ours too. With ``min_len=1`` a rule may have an empty antecedent,
{} ⇒ {y}, when y alone reaches the confidence.

Examples
--------
>>> from bundlewise.mining import Baskets
>>> b = Baskets.from_lists([["tea", "milk"], ["tea", "milk", "jam"], ["jam"], ["tea", "milk"]])
>>> r = AssociationRules(min_support=0.5, min_confidence=0.9, min_len=2).fit(b).rules_
>>> r[["antecedent", "consequent", "support", "confidence", "lift", "count"]].values.tolist()
[[('milk',), 'tea', 0.75, 1.0, 1.3333333333333333, 3], [('tea',), 'milk', 0.75, 1.0, 1.3333333333333333, 3]]
>>> AssociationRules(min_support=0.5, min_confidence=0.9, min_len=2).fit(b).recommend(["tea", "jam"], k=1)[0].tolist()
[['milk'], [None]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.errors import ResourceLimitError
from bundlewise.mining import guards
from bundlewise.mining._validate import check_fraction, check_int, check_lengths, check_positive
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.itemsets import Itemsets, frequent_itemsets
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.recommend import Recommender, catalog_ids

if TYPE_CHECKING:  # pandas is loaded only when a DataFrame of the rules is asked for (~0.4 s a process)
    import pandas as pd

RULE_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "count", "coverage", "leverage",
                "conviction"]


@dataclass(frozen=True, eq=False)
class RuleTable:
    """Rules as plain columns (a tuple list and numpy arrays), in the order of :func:`rules_from_itemsets`.

    What ``bundlewise rules --baskets`` needs to print and write the rules without loading pandas;
    :meth:`to_frame` gives the DataFrame.

    Examples
    --------
    >>> from bundlewise.mining import Baskets
    >>> b = Baskets.from_lists([["tea", "milk"], ["tea", "milk", "jam"], ["jam"], ["tea", "milk"]])
    >>> t = find_rules(frequent_itemsets(b, 0.5), 0.9, min_len=2)
    >>> len(t), t.antecedent, t.consequent.tolist(), t.lift.tolist()
    (2, [('milk',), ('tea',)], ['tea', 'milk'], [1.3333333333333333, 1.3333333333333333])
    >>> t.to_frame().columns.tolist() == RULE_COLUMNS
    True
    """

    antecedent: list[tuple[str, ...]]
    consequent: np.ndarray
    support: np.ndarray
    confidence: np.ndarray
    lift: np.ndarray
    count: np.ndarray
    coverage: np.ndarray
    leverage: np.ndarray
    conviction: np.ndarray

    def __len__(self) -> int:
        return len(self.antecedent)

    def lengths(self) -> np.ndarray:
        """Products per rule, antecedent and consequent together."""
        return np.fromiter((len(a) + 1 for a in self.antecedent), dtype=np.int64, count=len(self.antecedent))

    def to_frame(self) -> pd.DataFrame:
        """The rules as a DataFrame with the columns :data:`RULE_COLUMNS`."""
        import pandas as pd

        if not len(self):  # the dtypes an empty rules table has always had
            return pd.DataFrame({c: pd.Series(dtype=object if c in ("antecedent", "consequent") else float)
                                 for c in RULE_COLUMNS})
        return pd.DataFrame({c: getattr(self, c) for c in RULE_COLUMNS})


def _empty_table() -> RuleTable:
    floats = np.zeros(0, dtype=np.float64)
    return RuleTable([], np.zeros(0, dtype=str), floats, floats, floats, np.zeros(0, dtype=np.int64), floats, floats,
                     floats)


def _ranks(texts: list[str]) -> np.ndarray:
    """Each text's rank in Python's string order (numpy's own string order drops trailing NULs)."""
    rank = {t: i for i, t in enumerate(sorted(set(texts)))}
    return np.fromiter((rank[t] for t in texts), dtype=np.int64, count=len(texts))


def rules_from_itemsets(itemsets: Itemsets, min_confidence: float, *, min_lift: float | None = None,
                        min_len: int = 1, max_len: int | None = None,
                        memory_budget: int | None = guards.DEFAULT_MEMORY_BUDGET) -> pd.DataFrame:
    """Every rule X ⇒ y with X ∪ {y} frequent and confidence >= ``min_confidence``.

    The rules are found as arrays first; building the table (~500 bytes a rule) is refused with
    :class:`~bundlewise.errors.ResourceLimitError` when it would pass ``memory_budget``.
    :func:`find_rules` gives the same rules without pandas.

    Returns
    -------
    DataFrame
        ``antecedent`` (tuple of ids, sorted), ``consequent``, ``support``, ``confidence``,
        ``lift``, ``count`` (baskets with X ∪ {y}), ``coverage`` (support of X), ``leverage``,
        ``conviction``; ordered by lift, confidence, support (descending), then by items.
    """
    return find_rules(itemsets, min_confidence, min_lift=min_lift, min_len=min_len, max_len=max_len,
                      memory_budget=memory_budget).to_frame()


def find_rules(itemsets: Itemsets, min_confidence: float, *, min_lift: float | None = None,
               min_len: int = 1, max_len: int | None = None,
               memory_budget: int | None = guards.DEFAULT_MEMORY_BUDGET) -> RuleTable:
    """The rules of :func:`rules_from_itemsets` (same rows, same order) as a :class:`RuleTable`."""
    n = itemsets.n_baskets
    max_len = len(itemsets.levels) if max_len is None else max_len
    item_count = np.zeros(len(itemsets.item_ids), dtype=np.int64)
    singles, single_counts = itemsets.levels[0]
    item_count[singles[:, 0]] = single_counts
    parts = []
    for k in range(max(min_len, 1), min(max_len, len(itemsets.levels)) + 1):
        rows, counts = itemsets.levels[k - 1]
        if not len(rows):
            continue
        for j in range(k):
            ante = np.delete(rows, j, axis=1)
            ante_counts = itemsets.lookup(ante)
            # count / ante_count: exact integer ratio, so a threshold like 0.8 compares as arules does
            conf = counts / ante_counts
            keep = conf >= min_confidence
            cons = rows[keep, j]
            lift_v = conf[keep] * n / item_count[cons]
            if min_lift is not None:
                ok = lift_v >= min_lift
                keep[np.flatnonzero(keep)[~ok]] = False
                cons, lift_v = cons[ok], lift_v[ok]
            if keep.any():
                parts.append((ante[keep], cons, counts[keep], ante_counts[keep], lift_v))
    if not parts:
        return _empty_table()
    _check_rule_table(parts, min_confidence, memory_budget)
    ids = itemsets.item_ids
    cols: dict[str, list] = {c: [] for c in RULE_COLUMNS}
    for ante, cons, cnt, ante_cnt, lift_v in parts:
        support = cnt / n
        conf = cnt / ante_cnt
        cons_support = item_count[cons] / n
        with np.errstate(divide="ignore", invalid="ignore"):
            conviction = np.where(conf >= 1.0, np.inf, (1.0 - cons_support) / (1.0 - conf))
        cols["antecedent"] += [tuple(r) for r in ids[ante].tolist()] if ante.shape[1] else [()] * len(cons)
        for name, values in (("consequent", ids[cons]), ("support", support), ("confidence", conf),
                             ("lift", lift_v), ("count", cnt), ("coverage", ante_cnt / n),
                             ("leverage", support - (ante_cnt / n) * cons_support), ("conviction", conviction)):
            cols[name].append(values)
    arrays = {c: np.concatenate(v) for c, v in cols.items() if c != "antecedent"}
    antecedent = cols["antecedent"]
    # lift, confidence, support descending, then antecedent ("\x1f"-joined) and consequent: a total, deterministic order
    order = np.lexsort((_ranks(arrays["consequent"].tolist()), _ranks(["\x1f".join(t) for t in antecedent]),
                        -arrays["support"], -arrays["confidence"], -arrays["lift"]))
    return RuleTable(antecedent=[antecedent[i] for i in order.tolist()],
                     **{c: v[order] for c, v in arrays.items()})


def _check_rule_table(parts: list[tuple[np.ndarray, ...]], min_confidence: float, budget: int | None) -> None:
    n_rules = sum(len(p[1]) for p in parts)
    if budget is None or n_rules * guards.RULE_BYTES <= budget:
        return
    conf = np.sort(np.concatenate([p[2] / p[3] for p in parts]))[::-1]
    fit = budget // guards.RULE_BYTES
    suggestion = min(1.0, math.ceil(conf[fit] * 1000 + 1e-9) / 1000)  # just above the confidence at the cut
    reach = int((conf >= suggestion).sum())
    hint = (f"raise --min-confidence (min_confidence=) to {suggestion:g} ({reach:,} rules), " if reach <= fit
            else "")  # too many rules of confidence 1: no confidence helps
    raise ResourceLimitError(
        f"{n_rules:,} rules reach confidence {min_confidence:g}; their table would need "
        f"~{guards.format_bytes(n_rules * guards.RULE_BYTES)}, more than the memory budget of "
        f"{guards.format_bytes(budget)}: {hint}set --min-lift, raise --min-support or --memory-budget "
        "(memory_budget=)")


class AssociationRules(Recommender):
    """Frequent itemsets and rules of a set of baskets (arules ``apriori`` semantics).

    Parameters
    ----------
    min_support, min_confidence : float
        Inclusive thresholds, shares in [0, 1].
    min_lift : float, optional
    min_len, max_len : int
        Products per rule, antecedent and consequent together.
    n_threads : int, optional
    max_candidates : int
        Safety limit on candidate itemsets of one length.
    memory_budget : int, optional
        Bytes the pair counting and the rules table may plan to use (default 2 GiB; None = no
        limit); also sets the itemset budget when ``max_itemsets`` is None.
    max_itemsets : int, optional
        Most frequent itemsets of all lengths (see :func:`~bundlewise.mining.frequent_itemsets`).
        A support of 0 is legal (every itemset seen once) and stops at this budget with a
        message naming a support that fits.

    Attributes
    ----------
    itemsets_ : Itemsets
    rule_table_ : RuleTable
        The rules as plain arrays (what the ``rules`` verb writes, without pandas).
    rules_ : DataFrame
        The same rules as a DataFrame, built (and kept) at the first access.
    n_baskets_ : int
    item_ids_ : array of str
        The products :meth:`recommend` answers for: those of the baskets, plus the catalogue's when
        ``fit`` is given one (a catalogue product with no rule gets an empty list, not an error).
    """

    def __init__(self, min_support: float = 0.1, min_confidence: float = 0.8, min_lift: float | None = None,
                 min_len: int = 1, max_len: int = 10, n_threads: int | None = None,
                 max_candidates: int = 200_000_000, memory_budget: int | None = guards.DEFAULT_MEMORY_BUDGET,
                 max_itemsets: int | None = None):
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_lift = min_lift
        self.min_len = min_len
        self.max_len = max_len
        self.n_threads = n_threads
        self.max_candidates = max_candidates
        self.memory_budget = memory_budget
        self.max_itemsets = max_itemsets

    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None, *,
            progress: Progress = NULL_PROGRESS) -> AssociationRules:
        """Mine the itemsets and rules of ``baskets``; ``catalog`` only widens :attr:`item_ids_`."""
        check_fraction("min_support", self.min_support)
        check_fraction("min_confidence", self.min_confidence)
        check_positive("min_lift", self.min_lift, none_ok=True)
        check_lengths(self.min_len, self.max_len)
        check_int("n_threads", self.n_threads, 1, none_ok=True)
        self.itemsets_ = frequent_itemsets(baskets, self.min_support, max_len=self.max_len, n_threads=self.n_threads,
                                           max_candidates=self.max_candidates, memory_budget=self.memory_budget,
                                           max_itemsets=self.max_itemsets, progress=progress)
        with progress.task("rules", total=None):
            self.rule_table_ = find_rules(self.itemsets_, self.min_confidence, min_lift=self.min_lift,
                                          min_len=self.min_len, max_len=self.max_len, memory_budget=self.memory_budget)
        self.__dict__.pop("rules_", None)  # a refit drops the DataFrame of the previous fit
        self.n_baskets_ = baskets.n_baskets
        self.item_ids_ = catalog_ids(baskets, catalog)
        self._index = self._single_rules()
        return self

    @cached_property
    def rules_(self) -> pd.DataFrame:
        """The rules as a DataFrame (:data:`RULE_COLUMNS`), built from :attr:`rule_table_` at the first access."""
        return self.rule_table_.to_frame()

    def _single_rules(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rules {item} ⇒ {y} as CSR lists by item code: consequent codes and confidences, best first."""
        t = self.rule_table_
        single = np.flatnonzero(t.lengths() == 2)
        ids = self.item_ids_.astype(str)
        ante = np.searchsorted(ids, np.asarray([t.antecedent[i][0] for i in single.tolist()], dtype=str))
        ante = ante.astype(np.int64)
        cons = np.searchsorted(ids, t.consequent[single].astype(str)).astype(np.int64)
        conf = t.confidence[single].astype(np.float64)
        lift = t.lift[single].astype(np.float64)
        # by item, then confidence, lift (descending) and consequent id; item_ids_ is sorted, so codes order as ids
        order = np.lexsort((cons, -lift, -conf, ante))
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ante, minlength=len(ids)), out=indptr[1:])
        return indptr, cons[order], conf[order]

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Consequents of single-product rules {item} ⇒ {y}, best confidence first (then lift, then id)."""
        indptr, partners, scores = self._index
        top = np.full((len(codes), k), -1, dtype=np.int64)
        out = np.full((len(codes), k), np.nan)
        for row, code in enumerate(codes):
            p, sc = partners[indptr[code]: indptr[code + 1]], scores[indptr[code]: indptr[code + 1]]
            if allowed is not None:
                p, sc = p[allowed[p]], sc[allowed[p]]
            top[row, : min(k, len(p))] = p[:k]
            out[row, : min(k, len(p))] = sc[:k]
        return top, out
