"""Why the pair model scores ``i → j`` as it does: evidence and attributions, with numbers.

Each explained pair carries the co-purchase evidence (baskets together, lift, Fisher q-value)
when it exists, the text similarity, the model's score and probability, the model's
attribution to its input groups (integrated gradients, captum) and, given the encoder, the
words of the query's title that made the pair (occlusion: drop one word, re-embed, re-score).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bundlewise.mining import metrics
from bundlewise.pairmodel.features import EVIDENCE_COLUMNS, PAIR_FEATURES, feature_columns

log = logging.getLogger(__name__)

GROUPS = ("text of the product", "text of the partner", "prices", "categories", "co-purchase evidence",
          "text similarity", "partner's sales", "similar products' co-purchases")


@dataclass
class PairExplanation:
    product: str
    partner: str
    score: float                 # the network's logit (the ranking adds model.bonuses to it)
    probability: float           # sigmoid(logit): relative to the sampled negatives, not a rate
    n_together: float            # baskets (time-weighted when the model decays) holding both
    lift: float | None
    q_value: float | None
    text_similarity: float
    attribution: dict[str, float] = field(default_factory=dict)
    words: list[tuple[str, float]] = field(default_factory=list)

    def sentence(self) -> str:
        # the network's own score: sampled negatives make its sigmoid no rate, so it is not called one
        parts = [f"network score {self.score:+.2f}"]
        if self.n_together > 0:
            parts.append(f"bought together in {self.n_together:,.0f} baskets (lift {self.lift:.1f}, "
                         f"q = {self.q_value:.2g})")
        else:
            parts.append("never bought together yet")
        parts.append(f"text similarity {self.text_similarity:.2f}")
        if self.attribution:
            top = max(self.attribution, key=lambda g: abs(self.attribution[g]))
            parts.append(f"driven most by {top} ({self.attribution[top]:+.2f})")
        if self.words:
            parts.append("key words: " + ", ".join(f"{w} ({d:+.2f})" for w, d in self.words[:3]))
        return "; ".join(parts)


def _q_value(model: Any, i: int, j: int, n_ab: float) -> float | None:
    """Benjamini-Hochberg q-value of the pair's one-sided Fisher test, over every possible pair of
    the catalogue (as the mining stage reports it); computed once per model and cached."""
    if n_ab <= 0:
        return None
    stats = model.stats_
    cache = getattr(model, "_q_cache", None)
    if cache is None:
        a, b = stats.pair_a_.astype(np.int64), stats.pair_b_.astype(np.int64)
        p = metrics.fisher_p_value(stats.pair_n_, stats.item_counts_[a], stats.item_counts_[b],
                                   max(int(stats.n_baskets_), 1))
        family = len(stats.item_ids_) * (len(stats.item_ids_) - 1) // 2
        keys = a * len(stats.item_ids_) + b
        order = np.argsort(keys)
        cache = (keys[order], metrics.bh_q_values(p, family)[order])
        model._q_cache = cache
    key = min(i, j) * len(stats.item_ids_) + max(i, j)
    pos = int(np.searchsorted(cache[0], key))
    return float(cache[1][pos]) if pos < len(cache[0]) and cache[0][pos] == key else None


def explain_pairs(model: Any, product_ids: list[str], partner_ids: list[str], *, encoder: Any = None,
                  titles: dict[str, str] | None = None, ig_steps: int = 32,
                  attributions: bool = True) -> list[PairExplanation]:
    """Explain ``product → partner`` for each pair of the two lists (same length).

    ``attributions=False`` leaves out the integrated gradients (the costly part: the service
    answers with the evidence numbers alone unless asked to explain).
    """
    model._check_fitted()
    i = model._codes([str(p) for p in product_ids])
    j = model._codes([str(p) for p in partner_ids])
    logits = model._logits(i, j)
    table = model.table_
    n_ab = table.counts(i, j)
    lift = metrics.lift(n_ab, table.item_weights[i], table.item_weights[j], table.total_weight)
    cos = np.einsum("nd,nd->n", model.vectors_[i], model.vectors_[j])
    attribution = _integrated_gradients(model, i, j, ig_steps) if attributions else [{} for _ in i]
    out = []
    for k in range(len(i)):
        words = _word_occlusion(model, i[k], j[k], encoder, titles) if encoder is not None and titles else []
        out.append(PairExplanation(
            str(model.item_ids_[i[k]]), str(model.item_ids_[j[k]]), float(logits[k]),
            float(1 / (1 + np.exp(-logits[k]))), float(n_ab[k]), float(lift[k]) if n_ab[k] > 0 else None,
            _q_value(model, int(i[k]), int(j[k]), float(n_ab[k])), float(cos[k]), attribution[k], words))
    return out


def neighbour_witness(model: Any, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """For each pair, the text neighbour of ``i`` (with evidence, never i) that contributes most to the
    ``nbr_conf`` feature of ``i → j`` — "reads like X, which sells with j" — or -1 when none sells with j."""
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    if len(i) == 0:
        return np.zeros(0, dtype=np.int64)
    codes, weights = model._neighbours(i, model.table_)
    m = codes.shape[1]
    flat = np.maximum(codes.ravel(), 0)
    wnj = model.table_.counts(flat, np.repeat(j, m)).reshape(-1, m)
    wn = np.maximum(model.table_.item_weights[flat].reshape(-1, m), 1e-12)
    contrib = np.where((codes >= 0) & (wnj > 0) & (codes != j[:, None]), weights * wnj / wn, 0.0)
    best = contrib.argmax(axis=1)
    return np.where(contrib.max(axis=1) > 0, codes[np.arange(len(i)), best], -1)


def _integrated_gradients(model: Any, i: np.ndarray, j: np.ndarray, steps: int) -> list[dict[str, float]]:
    import torch
    from captum.attr import IntegratedGradients

    net = model.net_
    feats = torch.from_numpy(model.features(i, j)).to(model.device_)
    ti, pi, ci = model._tensors(i)
    tj, pj, cj = model._tensors(j)
    with torch.no_grad():
        cvi, cvj = net.category(ci), net.category(cj)

    def forward(text_i: Any, price_i: Any, cat_i: Any, text_j: Any, price_j: Any, cat_j: Any, pair: Any) -> Any:
        u = net.tower(torch.cat([text_i, price_i.unsqueeze(1), cat_i], dim=1))
        v = net.tower(torch.cat([text_j, price_j.unsqueeze(1), cat_j], dim=1))
        return net.score(u, v, pair)

    inputs = (ti, pi, cvi, tj, pj, cvj, feats)
    baselines = tuple(torch.zeros_like(x) for x in inputs)
    ig = IntegratedGradients(forward)
    attr = ig.attribute(inputs, baselines=baselines, n_steps=steps, internal_batch_size=max(len(i) * steps, 1))
    a = [x.detach().cpu().numpy().reshape(len(i), -1) for x in attr]
    pair = a[6]
    groups = {
        GROUPS[0]: a[0].sum(1), GROUPS[1]: a[3].sum(1), GROUPS[2]: a[1].sum(1) + a[4].sum(1),
        GROUPS[3]: a[2].sum(1) + a[5].sum(1), GROUPS[4]: pair[:, list(EVIDENCE_COLUMNS)].sum(1),
        GROUPS[5]: pair[:, feature_columns("text_cos")].sum(1),
        GROUPS[6]: pair[:, feature_columns("log_count_j", "log_count_j_recent")].sum(1),
        GROUPS[7]: pair[:, feature_columns("nbr_conf", "nbr_log_n")].sum(1),
    }
    return [{g: float(v[k]) for g, v in groups.items()} for k in range(len(i))]


def _word_occlusion(model: Any, i: int, j: int, encoder: Any, titles: dict[str, str]) -> list[tuple[str, float]]:
    from bundlewise.text import embed_texts

    title = titles.get(str(model.item_ids_[i]), "")
    words = title.split()
    if len(words) < 2:
        return []
    variants = [title] + [" ".join(words[:w] + words[w + 1:]) for w in range(len(words))]
    vecs = embed_texts(encoder, variants)
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    scores = _score_with_query_text(model, i, j, vecs.astype(np.float32))
    drops = scores[0] - scores[1:]
    order = np.argsort(-drops, kind="stable")
    return [(words[w], float(drops[w])) for w in order]


def _score_with_query_text(model: Any, i: int, j: int, vectors: np.ndarray) -> np.ndarray:
    """Scores of ``i → j`` with i's text embedding replaced by each row of ``vectors``."""
    import torch

    net = model.net_
    n = len(vectors)
    ii, jj = np.full(n, i), np.full(n, j)
    feats = model.features(ii, jj)
    feats[:, PAIR_FEATURES.index("text_cos")] = vectors @ model.vectors_[j]
    _, pi, ci = model._tensors(ii)
    with torch.inference_mode():
        u = net.encode(torch.from_numpy(vectors).to(model.device_), pi, ci)
        v = net.encode(*model._tensors(jj))
        return net.score(u, v, torch.from_numpy(feats).to(model.device_)).cpu().numpy()
