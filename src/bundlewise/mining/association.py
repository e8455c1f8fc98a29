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
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bundlewise.errors import NotFittedError, ResourceLimitError, UnknownProductError
from bundlewise.mining import guards
from bundlewise.mining._validate import check_fraction, check_int, check_lengths, check_positive
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.itemsets import Itemsets, frequent_itemsets
from bundlewise.progress import NULL_PROGRESS, Progress

RULE_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "count", "coverage", "leverage",
                "conviction"]


def rules_from_itemsets(itemsets: Itemsets, min_confidence: float, *, min_lift: float | None = None,
                        min_len: int = 1, max_len: int | None = None,
                        memory_budget: int | None = guards.DEFAULT_MEMORY_BUDGET) -> pd.DataFrame:
    """Every rule X ⇒ y with X ∪ {y} frequent and confidence >= ``min_confidence``.

    The rules are found as arrays first; building the table (~500 bytes a rule) is refused with
    :class:`~bundlewise.errors.ResourceLimitError` when it would pass ``memory_budget``.

    Returns
    -------
    DataFrame
        ``antecedent`` (tuple of ids, sorted), ``consequent``, ``support``, ``confidence``,
        ``lift``, ``count`` (baskets with X ∪ {y}), ``coverage`` (support of X), ``leverage``,
        ``conviction``; ordered by lift, confidence, support (descending), then by items.
    """
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
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("antecedent", "consequent") else float)
                             for c in RULE_COLUMNS})
    _check_rule_table(parts, min_confidence, memory_budget)
    ids = itemsets.item_ids
    frames = []
    for ante, cons, cnt, ante_cnt, lift_v in parts:
        support = cnt / n
        conf = cnt / ante_cnt
        cons_support = item_count[cons] / n
        with np.errstate(divide="ignore", invalid="ignore"):
            conviction = np.where(conf >= 1.0, np.inf, (1.0 - cons_support) / (1.0 - conf))
        frames.append(pd.DataFrame({
            "antecedent": [tuple(r) for r in ids[ante].tolist()] if ante.shape[1] else [()] * len(cons),
            "consequent": ids[cons],
            "support": support, "confidence": conf, "lift": lift_v, "count": cnt,
            "coverage": ante_cnt / n, "leverage": support - (ante_cnt / n) * cons_support,
            "conviction": conviction,
        }))
    rules = pd.concat(frames, ignore_index=True)
    rules["_ante"] = rules["antecedent"].map(lambda t: "\x1f".join(t))  # deterministic tie-break
    rules = rules.sort_values(["lift", "confidence", "support", "_ante", "consequent"],
                              ascending=[False, False, False, True, True], kind="stable")
    return rules.drop(columns="_ante").reset_index(drop=True)


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


class AssociationRules:
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
    rules_ : DataFrame
    n_baskets_ : int
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

    def fit(self, baskets: Baskets, progress: Progress = NULL_PROGRESS) -> AssociationRules:
        check_fraction("min_support", self.min_support)
        check_fraction("min_confidence", self.min_confidence)
        check_positive("min_lift", self.min_lift, none_ok=True)
        check_lengths(self.min_len, self.max_len)
        check_int("n_threads", self.n_threads, 1, none_ok=True)
        self.itemsets_ = frequent_itemsets(baskets, self.min_support, max_len=self.max_len, n_threads=self.n_threads,
                                           max_candidates=self.max_candidates, memory_budget=self.memory_budget,
                                           max_itemsets=self.max_itemsets, progress=progress)
        with progress.task("rules", total=None):
            self.rules_ = rules_from_itemsets(self.itemsets_, self.min_confidence, min_lift=self.min_lift,
                                              min_len=self.min_len, max_len=self.max_len,
                                              memory_budget=self.memory_budget)
        self.n_baskets_ = baskets.n_baskets
        self.item_ids_ = baskets.item_ids
        return self

    def recommend(self, item_ids: object, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Consequents of single-product rules {item} ⇒ {y}, best confidence first.

        Returns ``(ids, scores)`` of shape (n, k), padded with None / NaN.
        """
        if not hasattr(self, "rules_"):
            raise NotFittedError("this AssociationRules is not fitted yet; call fit() first")
        check_int("k", k, 1)
        queries = [item_ids] if isinstance(item_ids, str) else list(item_ids)  # type: ignore[call-overload]
        single = self.rules_[self.rules_["antecedent"].map(len) == 1]
        by_item = {a[0]: g for a, g in single.groupby(single["antecedent"].map(lambda t: t), sort=False)}
        ids = np.full((len(queries), k), None, dtype=object)
        scores = np.full((len(queries), k), np.nan)
        known = set(self.item_ids_.tolist())
        for i, q in enumerate(queries):
            if q not in known:
                raise UnknownProductError(f"product {q!r} is not in the fitted baskets; "
                                          f"{len(known):,} products are known")
            g = by_item.get(q)
            if g is None:
                continue
            g = g.sort_values(["confidence", "lift", "consequent"], ascending=[False, False, True], kind="stable")
            top = g.head(k)
            ids[i, : len(top)] = top["consequent"].to_numpy()
            scores[i, : len(top)] = top["confidence"].to_numpy()
        return ids, scores
