"""Rules X ⇒ Y with several products on the right-hand side, from frequent itemsets.

arules' ``apriori`` and MLlib's ``FPGrowth`` give one product on the right; a bundle is often
"these two, given that one". Every rule X ⇒ Y here has X ∪ Y frequent, X and Y disjoint,
1 <= |Y| <= ``max_consequent`` and confidence count(X ∪ Y) / count(X) >= ``min_confidence``; X
may be empty only for |Y| = 1 (arules' {} ⇒ {y}). Lift is confidence / support(Y), conviction
(1 - support(Y)) / (1 - confidence). With ``max_consequent=1`` the rules are exactly
:func:`bundlewise.mining.association.find_rules`' (tests/spark checks it), in the same order.

Examples
--------
>>> from bundlewise.mining import Baskets, frequent_itemsets
>>> b = Baskets.from_lists([["tea", "milk", "jam"], ["tea", "milk", "jam"], ["tea"], ["milk", "jam"]])
>>> r = find_rules_multi(frequent_itemsets(b, 0.5), 0.6, min_len=3, max_consequent=2)
>>> [(a, c) for a, c in zip(r["antecedent"], r["consequent"]) if len(c) == 2]
[(('jam',), ('milk', 'tea')), (('milk',), ('jam', 'tea')), (('tea',), ('jam', 'milk'))]
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from bundlewise.mining.association import RULE_COLUMNS
from bundlewise.mining.itemsets import Itemsets


def find_rules_multi(itemsets: Itemsets, min_confidence: float, *, min_lift: float | None = None, min_len: int = 1,
                     max_len: int | None = None, max_consequent: int = 2) -> Any:
    """Rules with up to ``max_consequent`` products on the right (see the module); a DataFrame with
    :data:`~bundlewise.mining.association.RULE_COLUMNS`, ``consequent`` a tuple of ids, ordered by lift,
    confidence, support (descending), then antecedent and consequent."""
    import pandas as pd

    n = itemsets.n_baskets
    max_len = len(itemsets.levels) if max_len is None else max_len
    ids = itemsets.item_ids
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for k in range(max(min_len, 1), min(max_len, len(itemsets.levels)) + 1):
        rows, counts = itemsets.levels[k - 1]
        if not len(rows):
            continue
        for c in range(1, min(max_consequent, k) + 1):
            if c == k and k > 1:
                continue  # an empty antecedent only for one product on the right
            for right in combinations(range(k), c):
                left = [j for j in range(k) if j not in right]
                ante, cons = rows[:, left], rows[:, list(right)]
                ante_counts = itemsets.lookup(ante)
                cons_counts = itemsets.lookup(cons)
                conf = counts / ante_counts
                lift = conf * n / cons_counts
                keep = conf >= min_confidence
                if min_lift is not None:
                    keep &= lift >= min_lift
                if keep.any():
                    parts.append((ante[keep], cons[keep], counts[keep], ante_counts[keep], cons_counts[keep]))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("antecedent", "consequent") else float)
                             for c in RULE_COLUMNS})
    frames = []
    for ante, cons, cnt, ante_cnt, cons_cnt in parts:
        support, conf, cons_support = cnt / n, cnt / ante_cnt, cons_cnt / n
        with np.errstate(divide="ignore", invalid="ignore"):
            conviction = np.where(conf >= 1.0, np.inf, (1.0 - cons_support) / (1.0 - conf))
        frames.append(pd.DataFrame({
            "antecedent": [tuple(r) for r in ids[ante].tolist()] if ante.shape[1] else [()] * len(cnt),
            "consequent": [tuple(r) for r in ids[cons].tolist()], "support": support, "confidence": conf,
            "lift": conf * n / cons_cnt, "count": cnt, "coverage": ante_cnt / n,
            "leverage": support - (ante_cnt / n) * cons_support, "conviction": conviction}))
    out = pd.concat(frames, ignore_index=True)
    ante_key = ["\x1f".join(a) for a in out["antecedent"]]
    cons_key = ["\x1f".join(c) for c in out["consequent"]]
    order = np.lexsort((_ranks(cons_key), _ranks(ante_key), -out["support"].to_numpy(), -out["confidence"].to_numpy(),
                        -out["lift"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)[RULE_COLUMNS]


def _ranks(texts: list[str]) -> np.ndarray:
    rank = {t: i for i, t in enumerate(sorted(set(texts)))}
    return np.fromiter((rank[t] for t in texts), dtype=np.int64, count=len(texts))
