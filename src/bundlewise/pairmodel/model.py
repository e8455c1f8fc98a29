"""``PairModel``: the learned association S_ij = P(j is bought with i), for any two products.

How it learns (all from the baskets it is fitted on, nothing later):

1. The fit baskets are split in time: the older ``1 - label_share`` give the *evidence*
   (co-purchase statistics), the newest ``label_share`` give the *labels*. A positive is an
   ordered pair ``i → j`` bought together in a label basket (basket chosen with probability
   proportional to its size, as the evaluation weighs them); negatives are drawn by popularity
   (``count ** 0.75``) plus *hard* negatives: products whose text is close to ``i`` but that were
   never bought with it. So the network learns to turn older evidence into future co-purchase,
   the thing the evaluation measures, rather than to copy the counts.
2. Each example carries both products' towers (frozen sentence embedding + price + category)
   and the directional co-purchase features of :mod:`bundlewise.pairmodel.features`. A share
   ``cold_dropout`` of examples has its evidence removed (the query product treated as unseen),
   and products first sold in the label period are genuinely unseen; so the same network scores
   cold-start products from text alone.
3. Multi-task: the tower also predicts each product's log sales (weight ``volume_weight``);
   binary cross-entropy for pairs, squared error for volume, AdamW, early stopping on held-out
   examples.

At ``recommend`` time the evidence is recomputed on all fit baskets; candidates are the top
co-purchase partners, the nearest texts and the best sellers, reranked by the network.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from bundlewise.mining import Baskets
>>> rng = np.random.default_rng(0)
>>> groups = [["tea", "pot", "cups"], ["seeds", "gloves", "can"]]
>>> b = Baskets.from_lists([list(rng.choice(groups[i % 2], 2, replace=False)) for i in range(300)])
>>> vec = {"tea": [1, 0], "pot": [.9, .1], "cups": [.8, .2], "seeds": [0, 1], "gloves": [.1, .9], "can": [.2, .8]}
>>> cat = pd.DataFrame({"product_id": list(vec), "embedding": [np.array(v, dtype=np.float32) for v in vec.values()]})
>>> m = PairModel(epochs=3, hidden=16, max_positives=2000).fit(b, cat)
>>> sorted(m.recommend(["tea"], k=2)[0][0].tolist())
['cups', 'pot']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.config import PairModelConfig
from bundlewise.errors import ConfigError
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.copurchase import CoPurchaseStats
from bundlewise.pairmodel.features import (
    EVIDENCE_COLUMNS,
    PairTable,
    category_buckets,
    log_prices,
    pair_features,
    text_neighbours,
    text_only_features,
)
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.recommend import Recommender, catalog_ids, top_k_rows
from bundlewise.vectors import catalog_vectors, cosine_top_k, normalize_rows

log = logging.getLogger(__name__)
_DEFAULTS = PairModelConfig()


class PairModel(Recommender):
    """Learned, asymmetric pair association over text, price, category and co-purchase evidence.

    Parameters
    ----------
    hidden : int
        Width of the product tower and the pair head.
    epochs : int
        Maximum passes; training stops earlier when the held-out loss stops improving.
    batch_size : int
    lr, weight_decay : float
        AdamW.
    n_negatives : int
        Negatives per positive.
    hard_negative_share : float
        Share of negatives taken from the ``i``'s nearest texts never bought with it.
    max_positives : int
        Positives sampled from the label baskets.
    candidate_share : float
        Share of the negatives replaced by *candidate examples*: one of i's top co-purchase partners
        in the evidence, labelled 1 if the label basket holds it, else 0 — the reranking task itself.
    label_share : float
        Newest share of the fit baskets that provides the labels.
    cold_dropout : float
        Share of examples whose co-purchase evidence is hidden (cold-start training).
    volume_weight : float
        Weight of the sales-volume regression (0 switches the multi-task part off).
    half_life_days : float, optional
        Time decay of the co-purchase evidence.
    recent_half_life_days : float, optional
        Half-life of the second, *recent* view of the evidence (seasonal products); None drops it.
    n_candidates : int
        Candidates per query from each source (co-purchase, text, best sellers) before reranking.
    patience : int
        Epochs without held-out improvement before stopping.
    n_neighbours : int
        Nearest texts whose co-purchases a product borrows (features ``nbr_conf``, ``nbr_log_n``;
        the cold-start bridge) and whose partners join its candidates.
    popularity_correction : float
        Ranking adds ``popularity_correction * log(1 + sales of j)`` to the logit. Negatives are drawn
        ∝ sales^0.75, so the logit estimates log P(j | i) − 0.75 log sales(j) + const (the "logQ"
        correction of sampled training); 0.75 would rank by P(j | i); 0.5 was best on the Online
        Retail validation block (hard negatives and the label period shift the optimum).
    cooc_weight : float
        The hybrid knob: ranking also adds ``cooc_weight * log(P(j | i) + 0.001)`` from the plain
        co-purchase counts (0 = the network alone; 0.5 was best on the Online Retail validation
        block). Applied at ranking only, so it is tuned without refitting.
    device : str, optional
        ``cuda`` when available by default, else ``cpu``.
    n_threads : int
        CPU threads for torch while fitting and scoring. The network is small: one thread is
        fastest on a busy machine (measured: a training step took 0.05 s on 1 thread and 1.2 s
        on 2 when other processes shared the 2 cores).
    random_state : int
    """

    # every default is PairModelConfig's (the one place they are written; the CLI reads them there too)
    def __init__(self, hidden: int = _DEFAULTS.hidden, epochs: int = _DEFAULTS.epochs,
                 batch_size: int = _DEFAULTS.batch_size, lr: float = _DEFAULTS.lr,
                 weight_decay: float = _DEFAULTS.weight_decay, n_negatives: int = _DEFAULTS.n_negatives,
                 hard_negative_share: float = _DEFAULTS.hard_negative_share,
                 max_positives: int = _DEFAULTS.max_positives, candidate_share: float = _DEFAULTS.candidate_share,
                 label_share: float = _DEFAULTS.label_share, cold_dropout: float = _DEFAULTS.cold_dropout,
                 volume_weight: float = _DEFAULTS.volume_weight,
                 half_life_days: float | None = _DEFAULTS.half_life_days,
                 recent_half_life_days: float | None = _DEFAULTS.recent_half_life_days,
                 n_candidates: int = _DEFAULTS.n_candidates, patience: int = _DEFAULTS.patience,
                 n_neighbours: int = _DEFAULTS.n_neighbours,
                 popularity_correction: float = _DEFAULTS.popularity_correction,
                 cooc_weight: float = _DEFAULTS.cooc_weight, device: str | None = _DEFAULTS.device,
                 n_threads: int = _DEFAULTS.n_threads, random_state: int = _DEFAULTS.random_state):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.n_negatives = n_negatives
        self.hard_negative_share = hard_negative_share
        self.max_positives = max_positives
        self.candidate_share = candidate_share
        self.label_share = label_share
        self.cold_dropout = cold_dropout
        self.volume_weight = volume_weight
        self.half_life_days = half_life_days
        self.recent_half_life_days = recent_half_life_days
        self.n_candidates = n_candidates
        self.patience = patience
        self.n_neighbours = n_neighbours
        self.popularity_correction = popularity_correction
        self.cooc_weight = cooc_weight
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        PairModelConfig(**self.get_params())  # the one set of rules, raising ConfigError with the allowed values

    # ------------------------------------------------------------------ fitting
    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None, *, encoder: Any = None,
            progress: Progress = NULL_PROGRESS) -> PairModel:
        """Learn from ``baskets`` and the catalogue's texts (``embedding`` column, or encoded now).

        Parameters
        ----------
        baskets : Baskets
        catalog : DataFrame
            ``product_id`` plus ``embedding`` (or title/description/... to encode), ``price``,
            ``category_path`` when known.
        encoder : ProductEncoder, optional
            Used only when the catalogue has no ``embedding`` column.
        """

        self._check_params()
        if catalog is None:
            raise ConfigError("PairModel needs a catalogue with product texts (fit(baskets, catalog=...))")
        check_order_times(baskets)
        with _torch_threads(self.n_threads):
            return self._fit(baskets, catalog, encoder, progress)

    def _fit(self, baskets: Baskets, catalog: pd.DataFrame, encoder: Any, progress: Progress) -> PairModel:
        import torch

        t0 = time.perf_counter()
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self._set_products(baskets, catalog, encoder)
        b = baskets.with_vocabulary(self.item_ids_)
        evidence, labels = _split_in_time(b, self.label_share)
        ev_stats = CoPurchaseStats(min_count=1, half_life_days=self.half_life_days,
                                   reference_time=_last_time(b), metric="confidence").fit(evidence)
        ev_table = PairTable.from_stats(ev_stats)
        ev_recent = self._recent_table(evidence)
        # ranks by P(partner | product): the co-purchase source of the candidates
        full_stats = CoPurchaseStats(min_count=1, half_life_days=self.half_life_days, metric="confidence").fit(b)
        self.stats_ = full_stats
        self.table_ = PairTable.from_stats(full_stats)
        self.recent_table_ = self._recent_table(b)
        self.item_counts_ = b.item_counts()
        i, j, y = self._examples(labels, ev_stats, rng)
        cold = rng.random(len(i)) < self.cold_dropout
        feats = pair_features(ev_table, i, j, self.vectors_, neighbours=self._neighbours(i, ev_table),
                              recent=ev_recent)
        # a cold query: no pair evidence and no sales of its own (its text neighbours' evidence stays)
        feats[np.ix_(cold, list(EVIDENCE_COLUMNS))] = 0.0
        self._train(i, j, feats, y, rng, progress)
        self.fit_seconds_ = time.perf_counter() - t0
        log.info("pair model fitted on %d examples in %.1f s (best held-out loss %.4f at epoch %d)", len(i),
                 self.fit_seconds_, self.best_loss_, self.best_epoch_)
        return self

    def _set_products(self, baskets: Baskets, catalog: pd.DataFrame, encoder: Any) -> None:
        ids = catalog_ids(baskets, catalog)
        cat = catalog.set_index(catalog["product_id"].astype(str))
        rows = cat.reindex(ids.astype(str))
        present = rows["product_id"].notna().to_numpy() if "product_id" in rows else np.zeros(len(ids), bool)
        raw = catalog_vectors(catalog, encoder)
        vectors = np.zeros((len(ids), raw.shape[1]), dtype=np.float32)
        pos = np.searchsorted(ids.astype(str), catalog["product_id"].astype(str).to_numpy())
        vectors[pos] = raw
        self.item_ids_ = ids
        self.vectors_ = normalize_rows(vectors)
        self.has_text_ = present
        self.log_price_ = log_prices(rows["price"].to_numpy(dtype=np.float64) if "price" in rows else
                                     np.full(len(ids), np.nan))
        self.category_ = category_buckets(rows["category_path"].to_numpy(dtype=object) if "category_path" in rows
                                          else np.full(len(ids), "", dtype=object))

    def _examples(self, labels: Baskets, ev_stats: CoPurchaseStats, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sizes = labels.sizes()
        ok = np.flatnonzero(sizes >= 2)
        if len(ok) == 0:
            raise ConfigError("the label baskets hold no basket with two products; the pair model needs "
                              "co-purchases to learn from (more baskets, or a larger label_share)")
        p = sizes[ok] / sizes[ok].sum()
        n_pos = self.max_positives
        bsk = ok[rng.choice(len(ok), size=n_pos, p=p)]
        s = sizes[bsk]
        a = rng.integers(0, s)
        c = (a + rng.integers(1, s)) % s  # a different position of the same basket
        start = labels.indptr[bsk]
        pi, pj = labels.indices[start + a].astype(np.int64), labels.indices[start + c].astype(np.int64)
        # negatives: by popularity ** 0.75, plus hard ones from i's nearest texts
        counts = self.item_counts_.astype(np.float64)
        pop = counts ** 0.75
        pop /= pop.sum()
        n_neg = self.n_negatives
        ni = np.repeat(pi, n_neg)
        nj = rng.choice(len(counts), size=len(ni), p=pop)
        n_hard = int(round(self.hard_negative_share * len(ni)))
        if n_hard and self.vectors_.shape[1]:
            pick = rng.choice(len(ni), size=n_hard, replace=False)
            near = self._text_neighbours(np.unique(ni[pick]), 20)
            qpos = np.searchsorted(near[0], ni[pick])
            col = rng.integers(0, near[1].shape[1], size=n_hard)
            cand = near[1][qpos, col]
            never = (cand >= 0) & (self.table_.counts(ni[pick], np.maximum(cand, 0)) == 0)
            nj[pick[never]] = cand[never]
        clash = nj == ni
        nj[clash] = (nj[clash] + 1) % len(counts)
        ny = np.zeros(len(ni), dtype=np.float32)
        # candidate examples: the ranking task itself. j is one of i's top co-purchase partners in the
        # evidence, labelled by whether the label basket really holds it (most do not)
        n_cand = int(round(self.candidate_share * len(ni)))
        if n_cand:
            rest = np.setdiff1d(np.arange(len(ni)), pick if n_hard and self.vectors_.shape[1] else [])
            pick_c = rng.choice(rest, size=min(n_cand, len(rest)), replace=False)
            uniq = np.unique(ni[pick_c])
            partners = _top_partners(ev_stats, uniq, 50)
            qpos = np.searchsorted(uniq, ni[pick_c])
            width = np.maximum((partners[qpos] >= 0).sum(axis=1), 1)
            cand = partners[qpos, (rng.random(len(pick_c)) * width).astype(np.int64)]
            ok_c = cand >= 0
            nj[pick_c[ok_c]] = cand[ok_c]
            keys = np.repeat(np.arange(labels.n_baskets), sizes).astype(np.int64) * labels.n_items + labels.indices
            nb = np.repeat(bsk, n_neg)[pick_c[ok_c]].astype(np.int64) * labels.n_items + cand[ok_c]
            pos = np.minimum(np.searchsorted(keys, nb), len(keys) - 1)
            ny[pick_c[ok_c]] = (keys[pos] == nb).astype(np.float32)
        i = np.concatenate([pi, ni])
        j = np.concatenate([pj, nj])
        y = np.concatenate([np.ones(len(pi), dtype=np.float32), ny])
        return i, j, y

    def _recent_table(self, baskets: Baskets) -> PairTable | None:
        if baskets.timestamps is None or self.recent_half_life_days is None:
            return None
        return PairTable.from_stats(CoPurchaseStats(min_count=1, half_life_days=self.recent_half_life_days)
                                    .fit(baskets))

    def _neighbours(self, i: np.ndarray, table: PairTable) -> tuple[np.ndarray, np.ndarray]:
        """Text neighbours (with evidence in ``table``, never i itself) of each row's ``i``."""
        uniq, inverse = np.unique(i, return_inverse=True)
        allowed = (table.item_weights > 0) & self.has_text_
        codes, weights = text_neighbours(self.vectors_, self.vectors_[uniq], allowed, self.n_neighbours,
                                         exclude=uniq)
        return codes[inverse], weights[inverse]

    def _text_neighbours(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        out, _ = cosine_top_k(self.vectors_[codes], self.vectors_, k, allowed=self.has_text_, exclude=codes)
        return codes, out

    def _tensors(self, codes: np.ndarray) -> tuple[Any, Any, Any]:
        import torch

        dev = self.device_
        return (torch.from_numpy(self.vectors_[codes]).to(dev), torch.from_numpy(self.log_price_[codes]).to(dev),
                torch.from_numpy(self.category_[codes]).to(dev))

    def _train(self, i: np.ndarray, j: np.ndarray, feats: np.ndarray, y: np.ndarray, rng: np.random.Generator,
               progress: Progress) -> None:
        import torch
        from torch.nn import functional as F

        from bundlewise.pairmodel.network import PairNet

        self.device_ = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        net = PairNet(self.vectors_.shape[1], hidden=self.hidden).to(self.device_)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        vol = np.log1p(self.item_counts_.astype(np.float64))
        self.volume_mean_, self.volume_std_ = float(vol.mean()), float(vol.std() or 1.0)
        vol_t = torch.from_numpy(((vol - self.volume_mean_) / self.volume_std_).astype(np.float32)).to(self.device_)
        held = rng.random(len(i)) < 0.1
        train_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)
        feats_t = torch.from_numpy(feats).to(self.device_)
        y_t = torch.from_numpy(y).to(self.device_)
        best, best_state, best_epoch, bad = np.inf, None, 0, 0
        self.history_: list[dict[str, float]] = []
        n_batches = -(-len(train_idx) // self.batch_size)
        with progress.task("training the pair model", total=self.epochs * n_batches) as task:
            for epoch in range(1, self.epochs + 1):
                net.train()
                order = train_idx[rng.permutation(len(train_idx))]
                total = 0.0
                for s in range(0, len(order), self.batch_size):
                    idx = order[s: s + self.batch_size]
                    logit, volume = net(*self._tensors(i[idx]), *self._tensors(j[idx]), feats_t[idx])
                    loss = F.binary_cross_entropy_with_logits(logit, y_t[idx])
                    if self.volume_weight > 0:
                        loss = loss + self.volume_weight * F.mse_loss(volume, vol_t[torch.from_numpy(i[idx])])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                    task.advance()
                held_loss = self._held_loss(net, i[held_idx], j[held_idx], feats_t[held_idx], y_t[held_idx])
                self.history_.append({"epoch": epoch, "train_loss": total / max(len(train_idx), 1),
                                      "held_out_bce": held_loss})
                log.info("epoch %d: train loss %.4f, held-out BCE %.4f", epoch, total / len(train_idx), held_loss)
                if held_loss < best - 1e-4:
                    best, best_epoch, bad = held_loss, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        self.net_ = net
        self.best_loss_, self.best_epoch_ = float(best), best_epoch

    def _held_loss(self, net: Any, i: np.ndarray, j: np.ndarray, feats: Any, y: Any) -> float:
        import torch
        from torch.nn import functional as F

        net.eval()
        total = 0.0
        with torch.inference_mode():
            for s in range(0, len(i), 8192):
                logit, _ = net(*self._tensors(i[s: s + 8192]), *self._tensors(j[s: s + 8192]), feats[s: s + 8192])
                total += float(F.binary_cross_entropy_with_logits(logit, y[s: s + 8192], reduction="sum"))
        return total / max(len(i), 1)

    # ------------------------------------------------------------------ scoring
    def features(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The pair features of ``i → j`` (codes) as the fitted model scores them."""
        return pair_features(self.table_, i, j, self.vectors_, self.item_counts_ > 0,
                             neighbours=self._neighbours(i, self.table_), recent=self.recent_table_)

    def score_pairs(self, product_ids: Any, partner_ids: Any) -> np.ndarray:
        """S_ij for each pair of the two id lists: the model's probability that the partner is bought
        with the product (asymmetric; relative to the sampled negatives, so rank by it rather than
        read it as a calibrated rate)."""
        self._check_fitted()
        i = self._codes([str(p) for p in np.atleast_1d(product_ids)])
        j = self._codes([str(p) for p in np.atleast_1d(partner_ids)])
        return 1.0 / (1.0 + np.exp(-self._logits(i, j)))

    def _logits(self, i: np.ndarray, j: np.ndarray, *, query_vectors: np.ndarray | None = None) -> np.ndarray:
        """Logits of ``i → j`` for code arrays (``query_vectors`` replaces i's text for free-text queries)."""
        import torch

        self._check_fitted()
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        out = np.empty(len(i), dtype=np.float64)
        with torch.inference_mode(), _torch_threads(self.n_threads):
            for s in range(0, len(i), 16384):
                bi, bj = i[s: s + 16384], j[s: s + 16384]
                if query_vectors is None:
                    feats = self.features(bi, bj)
                    ti = self._tensors(bi)
                else:
                    qv = query_vectors[s: s + 16384]
                    allowed = (self.table_.item_weights > 0) & self.has_text_
                    nb = text_neighbours(self.vectors_, qv, allowed, self.n_neighbours)
                    feats = text_only_features(self.table_, qv, bj, self.vectors_, nb, self.recent_table_)
                    dev = self.device_
                    ti = (torch.from_numpy(qv).to(dev), torch.full((len(bj),), float(np.median(self.log_price_)),
                                                                    device=dev),
                          torch.zeros(len(bj), dtype=torch.int64, device=dev))
                u = self.net_.encode(*ti)
                v = self.net_.encode(*self._tensors(bj))
                out[s: s + len(bi)] = self.net_.score(u, v, torch.from_numpy(feats).to(self.device_)).cpu().numpy()
        return out

    def _candidates(self, codes: np.ndarray, query_vectors: np.ndarray | None = None,
                    allowed: np.ndarray | None = None) -> list[np.ndarray]:
        n = self.n_candidates
        popular = np.argsort(-self.item_counts_, kind="stable")[:n]
        qv = self.vectors_[codes] if query_vectors is None else query_vectors
        text, _ = cosine_top_k(qv, self.vectors_, n, allowed=self.has_text_)
        cooc = self._partner_codes(codes, n) if query_vectors is None else [np.zeros(0, np.int64)] * len(codes)
        # partners of the nearest texts: where a new product's partners are most likely found
        with_evidence = (self.table_.item_weights > 0) & self.has_text_
        nb, _ = text_neighbours(self.vectors_, qv, with_evidence, 3, exclude=codes)
        nb_partners = self._partner_codes(nb.ravel(), max(n // 3, 1))
        out = []
        for row, code in enumerate(codes):
            parts = [popular, text[row][text[row] >= 0], cooc[row], *nb_partners[3 * row: 3 * row + 3]]
            cand = np.unique(np.concatenate(parts))
            if allowed is not None:
                cand = cand[allowed[cand]]
            out.append(cand[cand != code] if code >= 0 else cand)
        return out

    def _partner_codes(self, codes: np.ndarray, n: int) -> list[np.ndarray]:
        """Top-``n`` co-purchase partners (by P(partner | product)) of each code; empty for -1."""
        valid = codes >= 0
        result = [np.zeros(0, dtype=np.int64)] * len(codes)
        if not valid.any():
            return result
        # the stats were counted over this model's vocabulary, so their codes are ours
        top, _ = self.stats_.with_metric("confidence", min_count=1)._rank(codes[valid], n, None)
        for row, partners in zip(np.flatnonzero(valid), top, strict=True):
            result[row] = partners[partners >= 0]
        return result

    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None = None,
              query_vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        cands = self._candidates(codes, query_vectors, allowed)
        lengths = np.array([len(c) for c in cands])
        flat_j = np.concatenate(cands) if len(cands) else np.zeros(0, dtype=np.int64)
        flat_i = np.repeat(codes, lengths)
        qv = None if query_vectors is None else np.repeat(query_vectors, lengths, axis=0)
        scores = self._logits(flat_i, flat_j, query_vectors=qv)
        scores = scores + self.popularity_correction * np.log1p(self.item_counts_[flat_j])
        if self.cooc_weight and query_vectors is None:
            # the hybrid: lean on the plain co-purchase rate where it exists
            wi = np.maximum(self.table_.item_weights[flat_i], 1e-12)
            conf = self.table_.counts(flat_i, flat_j) / wi
            scores = scores + self.cooc_weight * np.log(conf + 1e-3)
        width = int(lengths.max()) if len(lengths) else 0
        mat = np.full((len(codes), max(width, 1)), -np.inf)
        col = np.full((len(codes), max(width, 1)), -1, dtype=np.int64)
        offs = np.concatenate([[0], np.cumsum(lengths)])
        for row in range(len(codes)):
            mat[row, : lengths[row]] = scores[offs[row]: offs[row + 1]]
            col[row, : lengths[row]] = cands[row]
        pos, vals = top_k_rows(mat, k)
        top = np.where(pos >= 0, np.take_along_axis(col, np.maximum(pos, 0), axis=1), -1)
        return top, vals

    def recommend_text(self, texts: list[str], k: int = 10, *, encoder: Any) -> tuple[np.ndarray, np.ndarray]:
        """Partners of products that exist only as text (cold start from a title alone).

        ``encoder`` must be the encoder whose embeddings the model was fitted on.
        """
        from bundlewise.text import embed_texts

        self._check_fitted()
        vectors = normalize_rows(embed_texts(encoder, list(texts)))
        top, scores = self._rank(np.full(len(texts), -1, dtype=np.int64), k, None, query_vectors=vectors)
        return self._ids(top, scores)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _top_partners(stats: CoPurchaseStats, codes: np.ndarray, k: int) -> np.ndarray:
    """Codes of each product's top-``k`` partners by P(partner | product); -1 pads."""
    top, _ = stats.with_metric("confidence", min_count=1)._rank(np.asarray(codes, dtype=np.int64), k, None)
    return top


def check_order_times(baskets: Baskets) -> None:
    """The pair model learns time order (older baskets' evidence → the newest baskets' co-purchases, plus a
    recent view with a 30-day half-life), so every basket needs its order time; baskets without any
    timestamps (``timestamps=None``, e.g. from a basket file) are taken in file order."""
    if baskets.timestamps is None:
        return
    missing = int(np.isnat(np.asarray(baskets.timestamps, dtype="datetime64[us]")).sum())
    if missing:
        raise ConfigError(
            f"training needs the order time of every basket, and {missing:,} of the {baskets.n_baskets:,} baskets "
            "have none: their orders were loaded without an ordered_at value. The pair model learns from time "
            "order (older baskets predict the newest ones), so load the orders with their timestamp column into "
            "a new warehouse (bundlewise --db NEW.duckdb ingest orders FILE, with --map ordered_at=COLUMN when the "
            "column has another name); 'bundlewise mine' and 'bundlewise rules' work without timestamps")


def _split_in_time(b: Baskets, label_share: float) -> tuple[Baskets, Baskets]:
    order = np.argsort(b.timestamps, kind="stable") if b.timestamps is not None else np.arange(b.n_baskets)
    cut = int(round(len(order) * (1 - label_share)))
    ev_mask = np.zeros(b.n_baskets, dtype=bool)
    ev_mask[order[:cut]] = True
    return b.select(ev_mask), b.select(~ev_mask)


def _last_time(b: Baskets) -> Any:
    return None if b.timestamps is None or not len(b.timestamps) else b.timestamps.max()
