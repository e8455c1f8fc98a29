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


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def model_complements(model: Any, product_id: str, k: int, *, exclude: Collection[str] = (),
                      titles: Mapping[str, str] | None = None, encoder: Any = None,
                      explain: bool = False) -> list[Complement]:
    """Partners from the trained pair model, with the evidence numbers of :func:`explain_pairs`.

    ``explain`` adds the integrated-gradients attribution and (given ``encoder`` and
    ``titles``) the key words; without it the numbers are the same, only cheaper.
    """
    from bundlewise.pairmodel.explain import explain_pairs

    titles = titles or {}
    drop = set(exclude) | {str(product_id)}
    ids, _ = model.recommend([str(product_id)], k=k, filter_items=sorted(drop))
    partners = [str(p) for p in ids[0] if p is not None]
    if not partners:
        return []
    expl = explain_pairs(model, [str(product_id)] * len(partners), partners,
                         encoder=encoder if explain else None, titles=dict(titles) if explain else None,
                         attributions=explain)
    out = []
    for rank, e in enumerate(expl, start=1):
        if e.attribution:
            top = max(e.attribution, key=lambda g: abs(e.attribution[g]))
            words = ", ".join(w for w, d in e.words[:2] if d > 0)
            why = f"{top} {e.attribution[top]:+.2f}" + (f"; words: {words}" if words else "")
        else:
            why = e.sentence()
        out.append(Complement(rank, e.partner, titles.get(e.partner, ""), SOURCES[0], e.score, e.probability,
                              e.n_together, e.lift, e.q_value, e.text_similarity, why, e.attribution, e.words))
    return out


def stored_complements(pairs: Any, product_id: str, k: int, *, exclude: Collection[str] = (),
                       titles: Mapping[str, str] | None = None) -> list[Complement]:
    """Partners from the stored statistics (:class:`~bundlewise.mining.stored.StoredPairs`)."""
    titles = titles or {}
    out = []
    for rank, e in enumerate(pairs.partners(str(product_id), k, set(exclude)), start=1):
        q = "" if e.q_value is None else f", q = {e.q_value:.2g}"
        why = (f"bought together in {e.n_together:,} baskets; P(partner | product) = {e.confidence:.2f}; "
               f"lift {e.lift:.1f}{q}")
        out.append(Complement(rank, e.partner, titles.get(e.partner, ""), SOURCES[1], e.score, e.confidence,
                              float(e.n_together), e.lift, e.q_value, None, why))
    return out


def model_text_complements(model: Any, text: str, k: int, *, encoder: Any,
                           titles: Mapping[str, str] | None = None) -> list[Complement]:
    """Cold start: partners of a product that exists only as ``text``, from the pair model."""
    from bundlewise.text import embed_texts

    titles = titles or {}
    ids, scores = model.recommend_text([text], k=k, encoder=encoder)
    v = np.asarray(embed_texts(encoder, [text])[0], dtype=np.float64)
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    out = []
    for pid, score in zip(ids[0], scores[0], strict=True):
        if pid is None:
            continue
        sim = float(v @ model.vectors_[model._codes([str(pid)])[0]])
        out.append(Complement(len(out) + 1, str(pid), titles.get(str(pid), ""), SOURCES[0], float(score),
                              _sigmoid(float(score)), 0.0, None, None, sim,
                              f"text of the new product; model probability {_sigmoid(float(score)):.2f}"))
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
    order = np.lexsort((np.asarray(product_ids).astype(str), -sims))[:k]
    return [Complement(rank, str(product_ids[i]), titles.get(str(product_ids[i]), ""), SOURCES[2], float(sims[i]),
                       None, 0.0, None, None, float(sims[i]),
                       f"text similarity {sims[i]:.2f} (no pair model trained: similar, not necessarily "
                       "complementary)")
            for rank, i in enumerate(order, start=1)]
