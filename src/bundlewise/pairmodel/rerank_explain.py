"""Why the second-stage ranker put a partner where it did: its score split by feature group, and the
evidence in a merchandiser's words.

The split is LightGBM's exact tree attribution (``pred_contrib``, TreeSHAP): the ranker's base value
plus the contributions of its features *is* the score :meth:`Reranker.recommend` returns, so the
groups' shares can be read as "how much of this ranking came from …". A partner the ranker did not
score (a new product whose queries back off to best sellers, or a list padded with them) says so and
carries no attribution.

Examples
--------
>>> import numpy as np
>>> from bundlewise.mining import Baskets
>>> from bundlewise.pairmodel.rerank import Reranker
>>> rng = np.random.default_rng(0)
>>> groups = [["tea", "pot", "cups"], ["seeds", "gloves", "can"]]
>>> days = np.arange(600).astype("datetime64[D]").astype("datetime64[us]")
>>> lists = [list(rng.choice(groups[i % 2], 2, replace=False)) for i in range(600)]
>>> b = Baskets.from_long(np.repeat(np.arange(600), 2).astype(str), np.array(lists).ravel(), np.repeat(days, 2))
>>> m = Reranker(n_estimators=20, min_data_in_leaf=2).fit(b)
>>> e = explain_reranked(m, "tea", k=1)[0]
>>> e.partner_id in ("pot", "cups"), abs(e.base + sum(e.contributions.values()) - e.score) < 1e-6
(True, True)
>>> e.why.startswith("bought together in")
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bundlewise.errors import UnknownProductError
from bundlewise.pairmodel.complements import merchandiser_why
from bundlewise.pairmodel.features import text_neighbours
from bundlewise.pairmodel.rerank import FEATURES, Reranker

# what each feature group means to a merchandiser (the "mostly …" of the sentence)
GROUP_WORDS = {
    "copurchase": "how often they were bought together", "recent": "what sold together lately",
    "decayed": "what sold together, recent baskets weighing more", "text": "how alike the texts read",
    "neighbour": "what similar products sell with", "popularity": "the partner's sales",
    "price": "the price ratio", "category": "how the category sells", "network": "the pair network",
    "ids": "products with the same partners",
}
SOURCES = ("warm ranker", "cold ranker", "best sellers")


@dataclass(frozen=True)
class RerankExplanation:
    """One partner of one product as the ranker saw it.

    ``base + sum(contributions.values()) == score`` for the rankers' rows (``source`` "warm ranker" /
    "cold ranker"); a best-seller fill-in has ``contributions`` empty and ``base == score``.
    """

    product_id: str
    partner_id: str
    rank: int | None                 # 1-based place in the product's list; None if not in it
    source: str                      # one of SOURCES
    score: float
    base: float                      # the ranker's expected score over its training rows
    contributions: dict[str, float]  # per feature group of FEATURE_GROUPS, largest |value| first
    n_together: float                # baskets of the fit period holding both
    lift: float | None               # observed / expected-by-chance baskets together
    text_similarity: float | None
    why: str
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def explain_reranked(model: Reranker, product_id: str, partner_ids: Sequence[str] | None = None, *, k: int = 10,
                     titles: Mapping[str, str] | None = None) -> list[RerankExplanation]:
    """Explain the ranker's partners of ``product_id``: its top ``k`` (default) or the given ``partner_ids``.

    Parameters
    ----------
    model : Reranker
        A fitted ranker.
    product_id : str
    partner_ids : sequence of str, optional
        Partners to explain, in this order (any known product; one outside the ranker's candidates is
        reported as a best-seller fill-in with its popularity score).
    k : int
        Without ``partner_ids``: how many of the product's list to explain.
    titles : mapping of product id to title, optional
        For the "reads like X, which sells with Y" phrase; ids are shown where missing.
    """
    model._check_fitted()
    code = int(model._codes([str(product_id)])[0])
    ids, scores = model.recommend([str(product_id)], k=k if partner_ids is None else max(k, 10))
    listed = [(str(p), float(s)) for p, s in zip(ids[0], scores[0], strict=True) if p is not None]
    place = {p: n + 1 for n, (p, _) in enumerate(listed)}
    wanted = [p for p, _ in listed][:k] if partner_ids is None else [str(p) for p in partner_ids]
    known = set(model.item_ids_.astype(str))
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise UnknownProductError(f"partner ids {unknown[:5]} are not products of this ranker; pass ids it "
                                  f"was fitted on ({len(model.item_ids_)} products)")
    partners = model._codes(wanted) if wanted else np.zeros(0, np.int64)
    ev = model.evidence_
    warm = bool(ev.counts[code] > 0)
    mode = "warm" if warm else "cold"
    scored = warm or not model.cold_backoff_
    rows = model._rows(np.array([code]), np.array([warm])) if scored else None
    booster = model.models_[mode] if scored else None
    out = []
    for p, j in zip(wanted, partners, strict=True):
        hit = np.flatnonzero(rows.j == j) if rows is not None else np.zeros(0, np.int64)
        n_ij = float(ev.table.counts(np.array([code]), np.array([j]))[0])
        lift = _lift(ev, code, int(j), n_ij)
        cos = float(model.vectors_[code] @ model.vectors_[j]) if model.has_text_[code] and model.has_text_[j] \
            else None
        witness = _witness(model, code, int(j), titles or {}) if n_ij == 0 else None
        if len(hit):
            x = rows.x[hit[:1]]
            score, base, contrib = _attribute(model, booster, x)
            features = {FEATURES[c]: float(x[0, c]) for c in model.columns_}
            source = f"{mode} ranker"
        else:
            pop = float(-np.log1p(_pop_rank(ev, int(j))))
            score = dict(listed).get(p, pop)
            base, contrib, features, source = score, {}, {}, "best sellers"
        driver = max(contrib, key=lambda g: contrib[g]) if contrib and max(contrib.values()) > 0 else None
        why = merchandiser_why(n_ij, lift, witness=witness, text_similarity=cos,
                               top_driver=GROUP_WORDS.get(driver) if driver else None)
        if source == "best sellers":
            why += "; a best seller filling the list (no ranker score)"
        out.append(RerankExplanation(str(product_id), p, place.get(p), source, score, base, contrib, n_ij, lift,
                                     cos, why, features))
    return out


def _attribute(model: Reranker, booster: Any, x: np.ndarray) -> tuple[float, float, dict[str, float]]:
    """(score, base value, per-group contributions) of one feature row; they add up exactly."""
    from bundlewise.pairmodel.rerank import FEATURE_GROUPS

    if booster is None:  # no label query of this kind was seen: the score is the popularity rank
        score = float(model._scores(None, x)[0])
        return score, 0.0, {"popularity": score}
    contrib = booster.predict(x[:, model.columns_], pred_contrib=True, num_threads=1,
                              num_iteration=booster.best_iteration or None)[0]
    group_of = {name: g for g, names in FEATURE_GROUPS.items() for name in names}
    groups: dict[str, float] = {}
    for c, value in zip(model.columns_, contrib[:-1], strict=True):
        g = group_of[FEATURES[c]]
        groups[g] = groups.get(g, 0.0) + float(value)
    ordered = dict(sorted(groups.items(), key=lambda kv: -abs(kv[1])))
    return float(model._scores(booster, x)[0]), float(contrib[-1]), ordered


def _lift(ev: Any, i: int, j: int, n_ij: float) -> float | None:
    wi, wj = float(ev.table.item_weights[i]), float(ev.table.item_weights[j])
    if n_ij <= 0 or wi <= 0 or wj <= 0:
        return None
    return n_ij * max(ev.table.total_weight, 1.0) / (wi * wj)


def _pop_rank(ev: Any, j: int) -> int:
    where = np.flatnonzero(ev.pop_order == j)
    return int(where[0]) if len(where) else len(ev.pop_order)


def _witness(model: Reranker, i: int, j: int, titles: Mapping[str, str]) -> tuple[str, str] | None:
    """The nearest text to ``i`` that sold with ``j``: why a pair never seen together still ranks."""
    ev = model.evidence_
    if not model.has_text_[i]:
        return None
    with_ev = (ev.counts > 0) & model.has_text_
    nb, _ = text_neighbours(model.vectors_, model.vectors_[[i]], with_ev, model.n_neighbours,
                            exclude=np.array([i]))
    nb = nb[0][nb[0] >= 0]
    if not len(nb):
        return None
    together = ev.table.counts(nb, np.full(len(nb), j))
    if together.max() <= 0:
        return None
    n = int(nb[int(np.argmax(together))])
    ids = model.item_ids_.astype(str)
    return titles.get(ids[n], ids[n]), titles.get(ids[j], ids[j])
