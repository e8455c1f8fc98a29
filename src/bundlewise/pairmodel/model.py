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
from bundlewise.pairmodel.calibration import Calibration, auc, calibrate
from bundlewise.pairmodel.features import (
    EVIDENCE_COLUMNS,
    PAIR_FEATURES,
    PairTable,
    category_buckets,
    log_prices,
    pair_features,
    text_neighbours,
    text_only_features,
)
from bundlewise.pairmodel.sampling import (
    Examples,
    check_order_times,
    n_positives,
    sample_examples,
    split_in_time,
    summary,
)
from bundlewise.progress import NULL_PROGRESS, Progress
from bundlewise.recommend import Recommender, catalog_ids, top_k_rows
from bundlewise.vectors import catalog_vectors, cosine_top_k, normalize_rows

log = logging.getLogger(__name__)
_DEFAULTS = PairModelConfig()
_SAME_TEXT = 1 - 1e-4  # cosine at which a text query is an existing product's own text
_CHUNK = 65_536  # example rows whose features are built at once (bounded memory whatever the data size)
_MIN_STEPS = 20  # optimiser steps an epoch at least


class PairModel(Recommender):
    """Learned, asymmetric pair association over text, price, category and co-purchase evidence.

    Parameters
    ----------
    hidden : int
        Width of the product tower and the pair head.
    epochs : int
        Maximum passes; training stops earlier when the held-out loss stops improving.
    batch_size : int
        At most; smaller when an epoch would otherwise take fewer than 20 steps (a small shop).
    lr, weight_decay : float
        AdamW.
    n_negatives : int
        Negatives per positive.
    hard_negative_share : float
        Share of negatives taken from the ``i``'s nearest texts never bought with it.
    hard_negative_exposure : float
        A hard negative must have had the chance: both products sold in the evidence and expected
        together at least this many times under independence (``n_i n_j / N``). 0 = any near text
        never bought with ``i``, sold or not (which punishes products for being unsold).
    max_positives : int
        At most this many positives.
    positives_per_pair : float
        Positives drawn per distinct ordered pair of the training label baskets (capped by
        ``max_positives``): the training cost follows the data.
    candidate_share : float
        Share of the negatives replaced by *candidate examples*: one of i's top co-purchase partners
        in the evidence, labelled 1 if the label basket holds it, else 0 — the reranking task itself.
    label_share : float
        Newest share of the fit baskets that provides the labels.
    held_out_share : float
        Newest share of the label baskets kept for the held-out check (early stopping, calibration);
        no held-out example comes from a training basket.
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
    max_seconds : float, optional
        Time budget: no new epoch starts once the fit has run this long (None = no budget).
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
                 hard_negative_exposure: float = _DEFAULTS.hard_negative_exposure,
                 max_positives: int = _DEFAULTS.max_positives,
                 positives_per_pair: float = _DEFAULTS.positives_per_pair,
                 candidate_share: float = _DEFAULTS.candidate_share,
                 label_share: float = _DEFAULTS.label_share, held_out_share: float = _DEFAULTS.held_out_share,
                 cold_dropout: float = _DEFAULTS.cold_dropout,
                 volume_weight: float = _DEFAULTS.volume_weight,
                 half_life_days: float | None = _DEFAULTS.half_life_days,
                 recent_half_life_days: float | None = _DEFAULTS.recent_half_life_days,
                 n_candidates: int = _DEFAULTS.n_candidates, patience: int = _DEFAULTS.patience,
                 max_seconds: float | None = _DEFAULTS.max_seconds,
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
        self.hard_negative_exposure = hard_negative_exposure
        self.max_positives = max_positives
        self.positives_per_pair = positives_per_pair
        self.candidate_share = candidate_share
        self.label_share = label_share
        self.held_out_share = held_out_share
        self.cold_dropout = cold_dropout
        self.volume_weight = volume_weight
        self.half_life_days = half_life_days
        self.recent_half_life_days = recent_half_life_days
        self.n_candidates = n_candidates
        self.patience = patience
        self.max_seconds = max_seconds
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
        evidence, labels = split_in_time(b, self.label_share)
        # the newest label baskets only check: held-out examples never share a basket with training ones
        train_labels, held_labels = split_in_time(labels, self.held_out_share)
        ev_stats = CoPurchaseStats(min_count=1, half_life_days=self.half_life_days,
                                   reference_time=_last_time(b), metric="confidence").fit(evidence)
        ev_table = PairTable.from_stats(ev_stats)
        ev_recent = self._recent_table(evidence)
        # ranks by P(partner | product): the co-purchase source of the candidates
        full_stats = CoPurchaseStats(min_count=1, half_life_days=self.half_life_days, metric="confidence").fit(b)
        self.item_counts_ = b.item_counts()
        full_table = PairTable.from_stats(full_stats)
        sample = dict(item_counts=self.item_counts_, ev_stats=ev_stats, ev_table=ev_table, full_table=full_table,
                      vectors=self.vectors_, has_text=self.has_text_, n_negatives=self.n_negatives,
                      hard_share=self.hard_negative_share, hard_exposure=self.hard_negative_exposure,
                      candidate_share=self.candidate_share, rng=rng)
        n_pos = n_positives(train_labels, positives_per_pair=self.positives_per_pair,
                            max_positives=self.max_positives)
        n_held = n_positives(held_labels, positives_per_pair=self.positives_per_pair,
                             max_positives=max(1, int(self.max_positives * self.held_out_share)))
        if n_pos == 0 or n_held == 0:
            raise ConfigError(f"the pair model needs co-purchases in its label baskets (the newest label_share "
                              f"{self.label_share} of the {b.n_baskets:,} baskets) for training and for the held-out "
                              f"check (their newest held_out_share {self.held_out_share}); found {n_pos:,} and "
                              f"{n_held:,} ordered pairs: give more baskets, or a larger label_share")
        train = sample_examples(train_labels, n_pos, **sample)
        held = sample_examples(held_labels, n_held, **sample)
        self.examples_ = {"train": summary(train), "held_out": summary(held),
                          "baskets": {"evidence": evidence.n_baskets, "train_labels": train_labels.n_baskets,
                                      "held_out_labels": held_labels.n_baskets}}
        log.info("pair model examples: %s", self.examples_)
        feats = [self._example_features(ex, ev_table, ev_recent, rng) for ex in (train, held)]
        self._train(train, feats[0], held, feats[1], rng, progress, t0)
        # calibrated on the held-out baskets with only the evidence the examples saw, then the full evidence
        full_counts = self.item_counts_
        self._use_evidence(ev_stats, evidence.item_counts(), ev_recent)
        self.calibration_ = self._calibrate(held_labels, rng)
        self._use_evidence(full_stats, full_counts, self._recent_table(b))
        self.fit_seconds_ = time.perf_counter() - t0
        log.info("pair model fitted on %d examples in %.1f s (best held-out loss %.4f at epoch %d of %d)",
                 len(train), self.fit_seconds_, self.best_loss_, self.best_epoch_, len(self.history_))
        return self

    def _use_evidence(self, stats: CoPurchaseStats, counts: np.ndarray, recent: PairTable | None) -> None:
        """The co-purchase evidence ``recommend`` reads (the evidence period while calibrating)."""
        self.stats_ = stats
        self.table_ = PairTable.from_stats(stats)
        self.recent_table_ = recent
        self.item_counts_ = counts

    def _example_features(self, ex: Examples, table: PairTable, recent: PairTable | None,
                          rng: np.random.Generator) -> np.ndarray:
        """Pair features of the examples, built in chunks (the neighbour evidence is m lookups a row)."""
        uniq = np.unique(ex.i)
        allowed = (table.item_weights > 0) & self.has_text_
        codes, weights = text_neighbours(self._vec64(), self._vec64()[uniq], allowed, self.n_neighbours,
                                         exclude=uniq)
        feats = np.empty((len(ex), len(PAIR_FEATURES)), dtype=np.float32)
        for s in range(0, len(ex), _CHUNK):
            bi, bj = ex.i[s: s + _CHUNK], ex.j[s: s + _CHUNK]
            pos = np.searchsorted(uniq, bi)
            feats[s: s + len(bi)] = pair_features(table, bi, bj, self.vectors_, neighbours=(codes[pos], weights[pos]),
                                                  recent=recent)
        # a cold query: no pair evidence and no sales of its own (its text neighbours' evidence stays)
        cold = rng.random(len(ex)) < self.cold_dropout
        feats[np.ix_(cold, list(EVIDENCE_COLUMNS))] = 0.0
        return feats

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
        self.vectors64_ = self.vectors_.astype(np.float64)
        self.has_text_ = present
        self.log_price_ = log_prices(rows["price"].to_numpy(dtype=np.float64) if "price" in rows else
                                     np.full(len(ids), np.nan))
        self.category_ = category_buckets(rows["category_path"].to_numpy(dtype=object) if "category_path" in rows
                                          else np.full(len(ids), "", dtype=object))

    def _recent_table(self, baskets: Baskets) -> PairTable | None:
        if baskets.timestamps is None or self.recent_half_life_days is None:
            return None
        return PairTable.from_stats(CoPurchaseStats(min_count=1, half_life_days=self.recent_half_life_days)
                                    .fit(baskets))

    def _neighbours(self, i: np.ndarray, table: PairTable) -> tuple[np.ndarray, np.ndarray]:
        """Text neighbours (with evidence in ``table``, never i itself) of each row's ``i``."""
        uniq, inverse = np.unique(i, return_inverse=True)
        allowed = (table.item_weights > 0) & self.has_text_
        codes, weights = text_neighbours(self._vec64(), self._vec64()[uniq], allowed, self.n_neighbours,
                                         exclude=uniq)
        return codes[inverse], weights[inverse]

    def _vec64(self) -> np.ndarray:
        """The text vectors in float64, made once: cosines summed in float32 by BLAS depend on memory
        alignment, which flipped near-ties (candidates, neighbour weights) between identical fits."""
        v = getattr(self, "vectors64_", None)  # set by fit and by load (recommend must not change the model)
        return v if v is not None and v.shape == self.vectors_.shape else self.vectors_.astype(np.float64)

    def _tensors(self, codes: np.ndarray) -> tuple[Any, Any, Any]:
        import torch

        dev = self.device_
        # torch.tensor copies into torch's own (64-byte aligned) memory: BLAS results must not depend on
        # where numpy happened to put a fancy-indexed array (a source of last-bit differences between fits)
        return (torch.tensor(self.vectors_[codes], device=dev), torch.tensor(self.log_price_[codes], device=dev),
                torch.tensor(self.category_[codes], device=dev))

    def _train(self, train: Examples, train_feats: np.ndarray, held: Examples, held_feats: np.ndarray,
               rng: np.random.Generator, progress: Progress, t0: float) -> None:
        import torch
        from torch.nn import functional as F

        from bundlewise.pairmodel.network import PairNet

        self.device_ = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        net = PairNet(self.vectors_.shape[1], hidden=self.hidden).to(self.device_)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        vol = np.log1p(self.item_counts_.astype(np.float64))
        self.volume_mean_, self.volume_std_ = float(vol.mean()), float(vol.std() or 1.0)
        vol_t = torch.tensor(((vol - self.volume_mean_) / self.volume_std_).astype(np.float32), device=self.device_)
        i, j = train.i, train.j
        feats_t = torch.tensor(train_feats, device=self.device_)
        y_t = torch.tensor(train.y, device=self.device_)
        held_t = (torch.tensor(held_feats, device=self.device_), torch.tensor(held.y, device=self.device_))
        best, best_state, best_epoch, bad = np.inf, None, 0, 0
        self.history_: list[dict[str, float]] = []
        self.stopped_by_ = "epochs"
        # a small shop's few examples still get _MIN_STEPS optimiser steps an epoch (smaller batches)
        batch = int(min(self.batch_size, max(64, -(-len(i) // _MIN_STEPS))))
        n_batches = -(-len(i) // batch)
        with progress.task("training the pair model", total=self.epochs * n_batches) as task:
            for epoch in range(1, self.epochs + 1):
                net.train()
                order = rng.permutation(len(i))
                total = 0.0
                for s in range(0, len(order), batch):
                    idx = order[s: s + batch]
                    logit, volume = net(*self._tensors(i[idx]), *self._tensors(j[idx]), feats_t[idx])
                    loss = F.binary_cross_entropy_with_logits(logit, y_t[idx])
                    if self.volume_weight > 0:
                        loss = loss + self.volume_weight * F.mse_loss(volume, vol_t[torch.from_numpy(i[idx])])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                    task.advance()
                held_logits = self._held_logits(net, held.i, held.j, held_t[0])
                held_loss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(held_logits), held_t[1].cpu()))
                held_auc = auc(held_logits, held.y)
                elapsed = time.perf_counter() - t0
                self.history_.append({"epoch": epoch, "train_loss": total / max(len(i), 1), "held_out_bce": held_loss,
                                      "held_out_auc": held_auc, "seconds": elapsed})
                log.info("epoch %d/%d: train loss %.4f, held-out BCE %.4f, AUC %.3f (%.0f s)", epoch, self.epochs,
                         total / len(i), held_loss, held_auc, elapsed)
                if held_loss < best - 1e-4:
                    best, best_epoch, bad = held_loss, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    bad += 1
                    if bad >= self.patience:
                        self.stopped_by_ = "held-out loss"
                        break
                if self.max_seconds is not None and elapsed >= self.max_seconds and epoch < self.epochs:
                    self.stopped_by_ = "time budget"
                    log.info("time budget of %.0f s spent after epoch %d", self.max_seconds, epoch)
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        self.net_ = net
        self.best_loss_, self.best_epoch_ = float(best), best_epoch

    def _held_logits(self, net: Any, i: np.ndarray, j: np.ndarray, feats: Any) -> np.ndarray:
        import torch

        net.eval()
        out = np.empty(len(i), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, len(i), 8192):
                logit, _ = net(*self._tensors(i[s: s + 8192]), *self._tensors(j[s: s + 8192]), feats[s: s + 8192])
                out[s: s + len(logit)] = logit.cpu().numpy()
        return out

    def _calibrate(self, held: Baskets, rng: np.random.Generator, k: int = 10,
                   max_events: int = 1000) -> Calibration | None:
        """Ranking score → P(partner in the basket | product in it), on held-out baskets (see calibration.py)."""
        sizes = held.sizes()
        ok = np.flatnonzero(sizes >= 2)
        if len(ok) == 0:
            return None
        bsk = np.sort(rng.choice(ok, size=min(max_events, len(ok)), replace=False))
        pos = held.indptr[bsk] + rng.integers(0, sizes[bsk])
        codes = held.indices[pos].astype(np.int64)
        top, scores = self._rank(codes, k)
        keys = np.repeat(np.arange(held.n_baskets), sizes).astype(np.int64) * held.n_items + held.indices
        want = np.repeat(bsk, k).astype(np.int64) * held.n_items + np.maximum(top.ravel(), 0)
        at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        hits = ((keys[at] == want) & (top.ravel() >= 0)).astype(np.float64)
        valid = np.isfinite(scores.ravel())
        event = np.repeat(np.arange(len(bsk)), k)
        cal = calibrate(scores.ravel()[valid], hits[valid], event[valid], k)
        log.info("calibration on %d held-out events: hit rate %.3f, ECE %.4f", cal.n_events, cal.hit_rate, cal.ece)
        return cal

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

    def refresh_evidence(self, baskets: Baskets) -> PairModel:
        """Read the co-purchase evidence from ``baskets`` (over this model's products) without retraining the
        network: a second stage trained on older evidence serves from the newest."""
        self._check_fitted()
        b = baskets.with_vocabulary(self.item_ids_)
        stats = CoPurchaseStats(min_count=1, half_life_days=self.half_life_days, metric="confidence").fit(b)
        self._use_evidence(stats, b.item_counts(), self._recent_table(b))
        return self

    def logits(self, i: np.ndarray, j: np.ndarray, hide_evidence: np.ndarray | None = None) -> np.ndarray:
        """The network's logits of ``i → j`` (codes of :attr:`item_ids_`); rows where ``hide_evidence`` is True
        read i as a product without sales (the cold-start input the network was trained on)."""
        return self._logits(i, j, hide_evidence=hide_evidence)

    def _logits(self, i: np.ndarray, j: np.ndarray, *, query_vectors: np.ndarray | None = None,
                hide_evidence: np.ndarray | None = None) -> np.ndarray:
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
                    if hide_evidence is not None:
                        feats[np.ix_(np.asarray(hide_evidence[s: s + 16384], bool), list(EVIDENCE_COLUMNS))] = 0.0
                    ti = self._tensors(bi)
                else:
                    qv = query_vectors[s: s + 16384]
                    allowed = (self.table_.item_weights > 0) & self.has_text_
                    nb = text_neighbours(self._vec64(), qv, allowed, self.n_neighbours)
                    feats = text_only_features(self.table_, qv, bj, self.vectors_, nb, self.recent_table_)
                    dev = self.device_
                    ti = (torch.tensor(qv, device=dev), torch.full((len(bj),), float(np.median(self.log_price_)),
                                                                    device=dev),
                          torch.zeros(len(bj), dtype=torch.int64, device=dev))
                u = self.net_.encode(*ti)
                v = self.net_.encode(*self._tensors(bj))
                out[s: s + len(bi)] = self.net_.score(u, v, torch.tensor(feats, device=self.device_)).cpu().numpy()
        return out

    def _candidates(self, codes: np.ndarray, query_vectors: np.ndarray | None = None,
                    allowed: np.ndarray | None = None) -> list[np.ndarray]:
        n = self.n_candidates
        popular = np.argsort(-self.item_counts_, kind="stable")[:n]
        qv = self.vectors_[codes] if query_vectors is None else query_vectors
        text, _ = cosine_top_k(np.asarray(qv, np.float64), self._vec64(), n, allowed=self.has_text_)
        cooc = self._partner_codes(codes, n) if query_vectors is None else [np.zeros(0, np.int64)] * len(codes)
        # partners of the nearest texts: where a new product's partners are most likely found
        with_evidence = (self.table_.item_weights > 0) & self.has_text_
        nb, _ = text_neighbours(self._vec64(), qv, with_evidence, 3, exclude=codes)
        nb_partners = self._partner_codes(nb.ravel(), max(n // 3, 1))
        out = []
        for row, code in enumerate(codes):
            parts = [popular, text[row][text[row] >= 0], cooc[row], *nb_partners[3 * row: 3 * row + 3]]
            cand = np.unique(np.concatenate(parts))
            if allowed is not None:
                cand = cand[allowed[cand]]
            if code < 0:  # a text query is never its own partner: drop the product whose text it is
                cand = cand[self.vectors_[cand].astype(np.float64) @ qv[row].astype(np.float64) < _SAME_TEXT]
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
        scores = scores + sum(self.bonuses(flat_i, flat_j, text_query=query_vectors is not None).values())
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

    def bonuses(self, i: np.ndarray, j: np.ndarray, *, text_query: bool = False) -> dict[str, np.ndarray]:
        """The terms the ranking score adds to the network's logit, by name (codes ``i → j``).

        ``popularity bonus``: ``popularity_correction * log(1 + sales of j)`` (the logQ correction);
        ``co-purchase bonus``: ``cooc_weight * log(P(j | i) + 0.001)`` (the hybrid; not for text queries).
        """
        out = {"popularity bonus": self.popularity_correction * np.log1p(self.item_counts_[j].astype(np.float64))}
        if self.cooc_weight and not text_query:
            # the hybrid: lean on the plain co-purchase rate where it exists
            wi = np.maximum(self.table_.item_weights[i], 1e-12)
            out["co-purchase bonus"] = self.cooc_weight * np.log(self.table_.counts(i, j) / wi + 1e-3)
        return out

    def ranking_scores(self, product_ids: Any, partner_ids: Any) -> np.ndarray:
        """The score ``recommend`` ranks by: the network's logit plus :meth:`bonuses` (not a probability;
        :meth:`probability` maps it to one when the model was calibrated)."""
        self._check_fitted()
        i = self._codes([str(p) for p in np.atleast_1d(product_ids)])
        j = self._codes([str(p) for p in np.atleast_1d(partner_ids)])
        return self._logits(i, j) + sum(self.bonuses(i, j).values())

    def probability(self, scores: Any) -> np.ndarray | None:
        """P(partner in the basket | product in it) for ranking scores, from the held-out calibration;
        None when the model has none (a checkpoint from before calibration)."""
        cal = getattr(self, "calibration_", None)
        return None if cal is None else cal.probability(scores)

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


def _last_time(b: Baskets) -> Any:
    return None if b.timestamps is None or not len(b.timestamps) else b.timestamps.max()
