"""The partners of a product with their evidence: one code path for ``bundlewise complements`` and the service.

Three sources, chosen by what exists: the trained pair model (its probability, plus the evidence it
was fed), the stored co-purchase statistics of the last ``mine`` run when no model is trained, and
for a product that exists only as text, the pair model's cold start or, without a model, the text
cosine over the cached catalogue embeddings.

Examples
--------
>>> import numpy as np
>>> ids = np.array(["mug", "tea"], dtype=object)
>>> vecs = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
>>> [(c.product_id, round(c.text_similarity, 2)) for c in text_cosine_complements(np.array([0.0, 1.0]), ids, vecs, 2)]
[('tea', 0.8), ('mug', 0.0)]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SOURCES = ("pair model", "co-purchase statistics", "text similarity")


@dataclass
class Complement:
    """One partner, best first by ``rank``; numbers are None where the source has none."""

    rank: int
    product_id: str
    title: str
    source: str                        # one of SOURCES
    score: float                       # the ranking score (model logit, stored metric, or cosine)
    probability: float | None          # model P(partner | product), or the stored confidence
    n_together: float                  # baskets holding both (time-weighted when the model decays)
    lift: float | None
    q_value: float | None
    text_similarity: float | None
    why: str
    attribution: dict[str, float] = field(default_factory=dict)
    words: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["words"] = [list(w) for w in self.words]
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def same_text(a: str, b: str) -> bool:
    """Whether two product texts are the same words (case, spacing and final full stop ignored)."""
    def norm(x: str) -> str:
        return " ".join(str(x).casefold().replace(".", " ").split())
    return norm(a) == norm(b)


def _short(title: str, width: int = 32) -> str:
    title = " ".join(str(title).split())
    return title if len(title) <= width else title[: width - 1] + "…"


def merchandiser_why(n_together: float, lift: float | None, *, witness: tuple[str, str] | None = None,
                     text_similarity: float | None = None, top_driver: str | None = None) -> str:
    """The "why" of a partner in a merchandiser's words.

    >>> merchandiser_why(135, 4.8)
    'bought together in 135 baskets, 4.8× chance'
    >>> merchandiser_why(0, None, witness=("Teapot", "Tea cups"))
    'reads like Teapot, which sells with Tea cups'
    """
    parts = []
    if n_together > 0:
        parts.append(f"bought together in {n_together:,.0f} baskets"
                     + (f", {lift:.1f}× chance" if lift is not None and math.isfinite(lift) else ""))
    if witness is not None:
        parts.append(f"reads like {_short(witness[0])}, which sells with {_short(witness[1])}")
    if not parts:
        parts.append("never bought together yet" + (f"; texts {text_similarity:.0%} alike"
                                                    if text_similarity is not None else ""))
    if top_driver:
        parts.append(f"mostly {top_driver}")
    return "; ".join(parts)


_DRIVER_WORDS = {"co-purchase evidence": "its co-purchases", "similar products' co-purchases":
                 "what similar products sell with", "partner's sales": "the partner's sales",
                 "popularity bonus": "the partner's sales", "co-purchase bonus": "its co-purchase rate",
                 "text similarity": "how alike the texts are"}


def model_complements(model: Any, product_id: str, k: int, *, exclude: Collection[str] = (),
                      titles: Mapping[str, str] | None = None, encoder: Any = None,
                      explain: bool = False) -> list[Complement]:
    """Partners from the trained pair model, with the evidence numbers of :func:`explain_pairs`.

    ``score`` is the ranking score (rows are sorted by it); ``probability`` the calibrated
    P(partner in the basket | product in it), None for a model without calibration. ``explain``
    adds the attribution of the score (integrated gradients over the network's inputs, plus the
    ranking's added terms: together they sum to the score minus the all-zero input's) and,
    given ``encoder`` and ``titles``, the key words; without it the numbers are the same, only cheaper.
    """
    from bundlewise.pairmodel.explain import explain_pairs, neighbour_witness

    titles = titles or {}
    drop = set(exclude) | {str(product_id)}
    ids, scores = model.recommend([str(product_id)], k=k, filter_items=sorted(drop))
    keep = [n for n, p in enumerate(ids[0]) if p is not None]
    partners = [str(ids[0][n]) for n in keep]
    if not partners:
        return []
    rank_scores = np.asarray(scores[0], dtype=np.float64)[keep]
    probs = model.probability(rank_scores) if hasattr(model, "probability") else None
    expl = explain_pairs(model, [str(product_id)] * len(partners), partners,
                         encoder=encoder if explain else None, titles=dict(titles) if explain else None,
                         attributions=explain)
    codes = model._codes([str(product_id)] * len(partners))
    pcodes = model._codes(partners)
    bonuses = model.bonuses(codes, pcodes)
    witnesses = neighbour_witness(model, codes, pcodes)
    out = []
    for rank, e in enumerate(expl, start=1):
        attribution = dict(e.attribution)
        if attribution:
            attribution.update({name: float(v[rank - 1]) for name, v in bonuses.items()})
        top = max(attribution, key=lambda g: attribution[g]) if attribution else None  # the strongest push up
        w = witnesses[rank - 1]
        witness = None if w < 0 or e.n_together > 0 else (titles.get(str(model.item_ids_[w]), str(model.item_ids_[w])),
                                                          titles.get(e.partner, e.partner))
        why = merchandiser_why(e.n_together, e.lift, witness=witness, text_similarity=e.text_similarity,
                               top_driver=_DRIVER_WORDS.get(top, top) if top else None)
        words = ", ".join(word for word, d in e.words[:2] if d > 0)
        if words:
            why += f"; key words: {words}"
        out.append(Complement(rank, e.partner, titles.get(e.partner, ""), SOURCES[0], float(rank_scores[rank - 1]),
                              None if probs is None else float(probs[rank - 1]), e.n_together, e.lift, e.q_value,
                              e.text_similarity, why, attribution, e.words))
    return out


def stored_complements(pairs: Any, product_id: str, k: int, *, exclude: Collection[str] = (),
                       titles: Mapping[str, str] | None = None) -> list[Complement]:
    """Partners from the stored statistics (:class:`~bundlewise.mining.stored.StoredPairs`)."""
    titles = titles or {}
    out = []
    for rank, e in enumerate(pairs.partners(str(product_id), k, set(exclude)), start=1):
        why = (f"{merchandiser_why(e.n_together, e.lift)}; {e.confidence:.0%} of the baskets with it hold this "
               "partner")
        out.append(Complement(rank, e.partner, titles.get(e.partner, ""), SOURCES[1], e.score, e.confidence,
                              float(e.n_together), e.lift, e.q_value, None, why))
    return out


def model_text_complements(model: Any, text: str, k: int, *, encoder: Any,
                           titles: Mapping[str, str] | None = None) -> list[Complement]:
    """Cold start: partners of a product that exists only as ``text``, from the pair model.

    A catalogue product whose title is ``text`` is that product, never its own partner. The
    score is the ranking score of a text-only query (no calibrated probability: the calibration
    is measured on sold products' queries).
    """
    from bundlewise.text import embed_texts

    titles = titles or {}
    same = {str(p) for p, t in titles.items() if same_text(t, text)}
    ids, scores = model.recommend_text([text], k=k + len(same), encoder=encoder)
    v = np.asarray(embed_texts(encoder, [text])[0], dtype=np.float64)
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    out = []
    for pid, score in zip(ids[0], scores[0], strict=True):
        if pid is None or str(pid) in same or len(out) >= k:
            continue
        sim = float(v @ model.vectors_[model._codes([str(pid)])[0]])
        out.append(Complement(len(out) + 1, str(pid), titles.get(str(pid), ""), SOURCES[0], float(score),
                              None, 0.0, None, None, sim,
                              f"never sold: its text is {sim:.0%} like this one; ranked by what similar products "
                              "sell with"))
    return out


def text_cosine_complements(query: np.ndarray, product_ids: np.ndarray, vectors: np.ndarray, k: int,
                            titles: Mapping[str, str] | None = None) -> list[Complement]:
    """Without a pair model: the catalogue products whose text is closest to ``query`` (cosine).

    ``vectors`` are the cached catalogue embeddings, row-aligned with ``product_ids``.
    """
    titles = titles or {}
    q = np.asarray(query, dtype=np.float64)
    q = q / max(float(np.linalg.norm(q)), 1e-12)
    m = np.asarray(vectors, dtype=np.float64)
    m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    sims = m @ q
    # the product whose text this is (cosine 1) is not its own partner
    order = [i for i in np.lexsort((np.asarray(product_ids).astype(str), -sims)) if sims[i] < 1 - 1e-4][:k]
    return [Complement(rank, str(product_ids[i]), titles.get(str(product_ids[i]), ""), SOURCES[2], float(sims[i]),
                       None, 0.0, None, None, float(sims[i]),
                       f"text similarity {sims[i]:.2f} (no pair model trained: similar, not necessarily "
                       "complementary)")
            for rank, i in enumerate(order, start=1)]
