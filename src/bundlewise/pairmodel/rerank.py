"""``Reranker``: a second stage (LightGBM LambdaRank, grouped by query product) over candidate features,
with an explicit warm/cold gate.

How it learns (only from the baskets it is fitted on):

1. The fit baskets are split in time: the older ``1 - label_share`` give the *evidence* (co-purchase
   statistics, best sellers), the newest ``label_share`` the *labels*; the newest ``held_out_share``
   of the label baskets is held out (early stopping and the gate's decision), never trained on.
2. Candidates of a query product: its top co-purchase partners, the best sellers, its nearest texts
   and the partners of its nearest texts that sold. Each (query, candidate) row carries the feature
   groups of :data:`FEATURE_GROUPS`; its relevance is the number of label baskets holding both
   (clipped to 3).
3. **The gate**: a query with sales in the evidence is *warm* and goes to the warm ranker; one
   without is *cold* and goes to the cold ranker, trained on the label queries with their own
   evidence hidden (plus those genuinely new in the label period). With ``gate="auto"`` the cold
   ranker is kept only where it beats plain best sellers on the held-out baskets by ``gate_margin``, else cold queries
   back off to best sellers; ``"ranker"`` / ``"popularity"`` force either; ``"off"`` is one ranker
   for every query (the ablation).

At ``recommend`` time the evidence is recomputed on all fit baskets; count features are rates per
basket, so they mean the same on the longer history.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from bundlewise.mining import Baskets
>>> rng = np.random.default_rng(0)
>>> groups = [["tea", "pot", "cups"], ["seeds", "gloves", "can"]]
>>> days = np.arange(600).astype("datetime64[D]").astype("datetime64[us]")
>>> lists = [list(rng.choice(groups[i % 2], 2, replace=False)) for i in range(600)]
>>> b = Baskets.from_long(np.repeat(np.arange(600), 2).astype(str), np.array(lists).ravel(), np.repeat(days, 2))
>>> m = Reranker(n_estimators=20, min_data_in_leaf=2).fit(b)
>>> sorted(m.recommend(["tea"], k=2)[0][0].tolist())
['cups', 'pot']
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError, allowed
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.copurchase import CoPurchaseStats
from bundlewise.mining.metrics import shrunk_lift
from bundlewise.pairmodel.features import (
    CategoryEvidence,
    PairTable,
    log_prices,
    neighbour_evidence,
    pair_dots,
    ppmi_factors,
    text_neighbours,
)
from bundlewise.pairmodel.rerank_rows import (
    MAX_LABEL,
    Rows,
    concat_rows,
    group_recall,
    label_pairs,
    label_windows,
    rank_in,
)
from bundlewise.pairmodel.sampling import split_in_time
from bundlewise.recommend import Recommender, catalog_ids, top_k_rows
from bundlewise.vectors import catalog_vectors, cosine_top_k, normalize_rows

log = logging.getLogger(__name__)

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "copurchase": ("log_rate_ij", "conf_ij", "conf_ji", "log_lift", "log_rate_i", "has_pair", "cooc_rank"),
    "recent": ("conf_ij_recent", "log_rate_j_recent"),
    "decayed": ("conf_ij_decayed", "decayed_rank"),
    "text": ("text_cos", "text_rank"),
    "neighbour": ("nbr_conf", "nbr_log_rate"),
    "popularity": ("log_rate_j", "pop_rank"),
    "price": ("log_price_ratio",),
    "category": ("same_category", "same_top_category", "cat_conf", "cat_log_lift"),
    "network": ("pair_logit",),
    "ids": ("id_cos", "id_rank"),
}
FEATURES = tuple(name for names in FEATURE_GROUPS.values() for name in names)
GATES = ("auto", "ranker", "popularity", "off")
_QUERY_CHUNK = 512
_RATE = 1e4  # count features are per 10,000 baskets


@dataclass(frozen=True)
class RerankerConfig(_ConfigBase):
    """Every parameter of :class:`Reranker` (the one place its defaults are written).

    Examples
    --------
    >>> RerankerConfig(gate="off").gate
    'off'
    >>> RerankerConfig.from_dict({"gates": "off"})
    Traceback (most recent call last):
    ...
    bundlewise.errors.ConfigError: unknown reranker key(s) 'gates'; allowed keys are ...
    """

    _name: ClassVar[str] = "reranker"

    label_share: float = 0.1
    label_windows: int = 3
    held_out_share: float = 0.25
    n_candidates: int = 50
    n_neighbours: int = 10
    recent_half_life_days: float | None = 30.0
    decayed_half_life_days: float | None = None
    network_epochs: int = 0
    network_max_positives: int = 40_000
    id_dim: int = 0
    gate: str = "auto"
    gate_margin: float = 0.02
    drop_groups: tuple[str, ...] = ()
    max_queries: int = 4000
    n_estimators: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    early_stopping_rounds: int = 30
    random_state: int = 0

    def __post_init__(self) -> None:
        for name in ("label_share", "held_out_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise ConfigError(f"{name} is {value!r}; it must be in (0, 1), e.g. 0.3")
        if isinstance(self.label_windows, bool) or not isinstance(self.label_windows, int) or not (
                self.label_windows >= 1 and self.label_windows * self.label_share < 1.0):
            raise ConfigError(f"label_windows is {self.label_windows!r}; it must be an integer >= 1 with "
                              f"label_windows * label_share < 1 (label_share is {self.label_share!r})")
        for name in ("n_candidates", "n_neighbours", "max_queries", "n_estimators", "num_leaves",
                     "min_data_in_leaf", "early_stopping_rounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} is {value!r}; it must be an integer >= 1")
        for name in ("network_epochs", "network_max_positives", "id_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} is {value!r}; it must be an integer >= 0 (0 leaves the network or the "
                                  "ID embeddings out)")
        if not isinstance(self.learning_rate, (int, float)) or self.learning_rate <= 0:
            raise ConfigError(f"learning_rate is {self.learning_rate!r}; it must be > 0, e.g. 0.05")
        for name in ("recent_half_life_days", "decayed_half_life_days"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"{name} is {value!r}; it must be > 0 days or None")
        if not isinstance(self.gate_margin, (int, float)) or self.gate_margin < 0:
            raise ConfigError(f"gate_margin is {self.gate_margin!r}; it must be >= 0, e.g. 0.02")
        if self.gate not in GATES:
            raise ConfigError(f"gate is {self.gate!r}; allowed values are {allowed(GATES)}")
        unknown = sorted(set(self.drop_groups) - set(FEATURE_GROUPS))
        if unknown:
            raise ConfigError(f"unknown feature group(s) {allowed(unknown)} in drop_groups; allowed groups are "
                              f"{allowed(list(FEATURE_GROUPS))}")
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, int) or self.random_state < 0:
            raise ConfigError(f"random_state is {self.random_state!r}; it must be an integer >= 0")


_DEFAULTS = RerankerConfig()


@dataclass
class _Evidence:
    """The co-purchase evidence the features read (the evidence period while training, all data after)."""

    stats: CoPurchaseStats
    table: PairTable
    recent: PairTable | None
    decayed: CoPurchaseStats | None
    decayed_table: PairTable | None
    category: CategoryEvidence
    counts: np.ndarray
    pop_order: np.ndarray
    factors: np.ndarray  # ID embeddings (ppmi_factors); zero rows without co-purchases

    @classmethod
    def of(cls, b: Baskets, cfg: RerankerConfig, category: np.ndarray, category_known: np.ndarray) -> _Evidence:
        stats = CoPurchaseStats(min_count=1, metric="confidence").fit(b)
        table = PairTable.from_stats(stats)
        recent = decayed = decayed_table = None
        if b.timestamps is not None and b.n_baskets:
            if cfg.recent_half_life_days is not None:
                recent = PairTable.from_stats(CoPurchaseStats(min_count=1, half_life_days=cfg.recent_half_life_days)
                                              .fit(b))
            if cfg.decayed_half_life_days is not None:
                decayed = CoPurchaseStats(min_count=1, metric="confidence",
                                          half_life_days=cfg.decayed_half_life_days).fit(b)
                decayed_table = PairTable.from_stats(decayed)
        counts = b.item_counts().astype(np.float64)
        order = np.lexsort((np.arange(len(counts)), -counts))
        return cls(stats, table, recent, decayed, decayed_table,
                   CategoryEvidence.of(table, category, category_known, cfg.n_candidates), counts,
                   order[counts[order] > 0], ppmi_factors(table, cfg.id_dim, cfg.random_state))


class Reranker(Recommender):
    """Second-stage LambdaRank over co-purchase, recent, text, neighbour, popularity, price and category
    features, with a warm/cold gate (see the module doc).

    Parameters
    ----------
    label_share, held_out_share : float
        Newest share of the fit baskets giving labels; newest share of those held out.
    label_windows : int
        Label windows of ``label_share`` each, rolling back in time, each with the evidence before it: more
        labels at the short horizon the ranker serves (the next weeks), not one long window.
    n_candidates : int
        Candidates per source (co-purchase partners, best sellers, nearest texts).
    n_neighbours : int
        Nearest texts whose co-purchases give the neighbour features.
    recent_half_life_days : float, optional
        Half-life of the recent view of the evidence (None drops it: the recent columns are zero).
    decayed_half_life_days : float, optional
        Half-life of the decayed view (co-occurrence's tuned form: P(j | i) with older baskets fading); its
        top partners are candidates too. None drops it.
    network_epochs, network_max_positives : int
        With ``network_epochs > 0`` a :class:`~bundlewise.pairmodel.model.PairModel` of that many epochs and
        positives is trained on the evidence baskets and its logit is a feature (the ``network`` group; needs
        the catalogue's ``embedding`` column). 0 leaves it out.
    id_dim : int
        Size of the warm products' ID embeddings (:func:`~bundlewise.pairmodel.features.ppmi_factors` of the
        evidence): their cosine is a feature and their nearest neighbours are candidates (the ``ids``
        group). 0 (the default) leaves them out: on both validation blocks 32 dimensions changed warm and
        cold Recall@10 by under 0.001 (bench/README.md, "Second-stage ranker").
    gate : {"auto", "ranker", "popularity", "off"}
        How cold queries are answered (see the module doc).
    gate_margin : float
        With ``gate="auto"`` the cold ranker must beat best sellers by this relative margin on the held-out
        baskets, else cold queries back off to best sellers.
    drop_groups : tuple of str
        Feature groups of :data:`FEATURE_GROUPS` left out (the ablation).
    max_queries : int
        At most this many label queries per ranker (a seeded sample).
    n_estimators, learning_rate, num_leaves, min_data_in_leaf, early_stopping_rounds
        LightGBM's (one thread, deterministic).
    random_state : int
    """

    def __init__(self, label_share: float = _DEFAULTS.label_share, label_windows: int = _DEFAULTS.label_windows,
                 held_out_share: float = _DEFAULTS.held_out_share,
                 n_candidates: int = _DEFAULTS.n_candidates, n_neighbours: int = _DEFAULTS.n_neighbours,
                 recent_half_life_days: float | None = _DEFAULTS.recent_half_life_days,
                 decayed_half_life_days: float | None = _DEFAULTS.decayed_half_life_days,
                 network_epochs: int = _DEFAULTS.network_epochs,
                 network_max_positives: int = _DEFAULTS.network_max_positives, id_dim: int = _DEFAULTS.id_dim,
                 gate: str = _DEFAULTS.gate,
                 gate_margin: float = _DEFAULTS.gate_margin,
                 drop_groups: tuple[str, ...] = _DEFAULTS.drop_groups, max_queries: int = _DEFAULTS.max_queries,
                 n_estimators: int = _DEFAULTS.n_estimators, learning_rate: float = _DEFAULTS.learning_rate,
                 num_leaves: int = _DEFAULTS.num_leaves, min_data_in_leaf: int = _DEFAULTS.min_data_in_leaf,
                 early_stopping_rounds: int = _DEFAULTS.early_stopping_rounds,
                 random_state: int = _DEFAULTS.random_state):
        self.label_share = label_share
        self.label_windows = label_windows
        self.held_out_share = held_out_share
        self.n_candidates = n_candidates
        self.n_neighbours = n_neighbours
        self.recent_half_life_days = recent_half_life_days
        self.decayed_half_life_days = decayed_half_life_days
        self.network_epochs = network_epochs
        self.network_max_positives = network_max_positives
        self.id_dim = id_dim
        self.gate = gate
        self.gate_margin = gate_margin
        self.drop_groups = drop_groups
        self.max_queries = max_queries
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state

    def _config(self) -> RerankerConfig:
        params = self.get_params(deep=False)
        params["drop_groups"] = tuple(params["drop_groups"])
        return RerankerConfig(**params)  # the one set of rules

    # ------------------------------------------------------------------ fitting
    def fit(self, baskets: Baskets, catalog: pd.DataFrame | None = None) -> Reranker:
        """Learn from ``baskets`` (ordered in time) and the catalogue (``embedding``, ``price``,
        ``category_path``; what is missing leaves its features at zero)."""
        cfg = self._config()
        self._set_products(baskets, catalog)
        b = baskets.with_vocabulary(self.item_ids_)
        windows = label_windows(b, cfg.label_share, cfg.label_windows)
        dropped = (*cfg.drop_groups, *(() if cfg.network_epochs else ("network",)), *(() if cfg.id_dim else ("ids",)))
        self.columns_ = [k for k, name in enumerate(FEATURES) if not any(name in FEATURE_GROUPS[g] for g in dropped)]
        self.network_ = self._fit_network(windows[-1][0], catalog, cfg)  # the oldest evidence: no window's labels
        rng = np.random.default_rng(cfg.random_state)
        parts: dict[str, list[Rows]] = {"warm": [], "cold": []}
        for w, (evidence, labels) in enumerate(windows):  # newest first: its newest baskets are the held-out ones
            self.evidence_ = _Evidence.of(evidence, cfg, self.category_, self.category_known_)
            if self.network_ is not None:
                self.network_.refresh_evidence(evidence)
            if w == 0:
                labels, held_labels = split_in_time(labels, cfg.held_out_share)
                held_sets = {m: self._examples(held_labels, m, rng, cfg) for m in ("warm", "cold")}
            for m in ("warm", "cold"):
                parts[m].append(self._examples(labels, m, rng, cfg))
        train_sets = {m: concat_rows(*parts[m]) for m in ("warm", "cold")}
        if cfg.gate == "off":
            both = (concat_rows(train_sets["warm"], train_sets["cold"]),
                    concat_rows(held_sets["warm"], held_sets["cold"]))
            self.models_ = {"warm": self._train(*both, cfg)}
            self.models_["cold"] = self.models_["warm"]
        else:
            self.models_ = {m: self._train(train_sets[m], held_sets[m], cfg) for m in ("warm", "cold")}
        self.held_recall_ = {m: group_recall(held_sets[m], self._scores(self.models_[m], held_sets[m].x))
                             for m in ("warm", "cold")}
        self.held_recall_["cold_popularity"] = group_recall(held_sets["cold"], -held_sets["cold"].x[
            :, FEATURES.index("pop_rank")])
        if cfg.gate == "auto":
            ranker, popular = self.held_recall_["cold"], self.held_recall_["cold_popularity"]
            self.cold_backoff_ = not ranker > popular * (1.0 + cfg.gate_margin)  # the simpler answer wins ties
        else:
            self.cold_backoff_ = cfg.gate == "popularity"
        log.info("reranker held-out recall@10: %s; cold queries %s", self.held_recall_,
                 "back off to best sellers" if self.cold_backoff_ else "go to the cold ranker")
        self.evidence_ = _Evidence.of(b, cfg, self.category_, self.category_known_)  # serve from every fit basket
        if self.network_ is not None:
            self.network_.refresh_evidence(b)
        return self

    def serve_from(self, baskets: Baskets, catalog: pd.DataFrame | None, models: dict[str, Any],
                   columns: list[int], cold_backoff: bool) -> Reranker:
        """Serve trained boosters (a saved ranker, :mod:`~bundlewise.pairmodel.rerank_io`) from these
        baskets and catalogue: the evidence is rebuilt as ``fit`` leaves it. No network logit."""
        cfg = self._config()
        self._set_products(baskets, catalog)
        self.columns_, self.models_, self.cold_backoff_ = list(columns), dict(models), bool(cold_backoff)
        self.network_, self.held_recall_ = None, {}
        self.evidence_ = _Evidence.of(baskets.with_vocabulary(self.item_ids_), cfg, self.category_,
                                      self.category_known_)
        return self

    def _fit_network(self, evidence: Baskets, catalog: pd.DataFrame | None, cfg: RerankerConfig) -> Any:
        """The pair network whose logit is the ``network`` feature, trained on the evidence baskets only (its
        logits on the label baskets are then as unseen as they will be on the future)."""
        if not cfg.network_epochs:
            return None
        if catalog is None or "embedding" not in catalog:
            raise ConfigError("network_epochs > 0 needs the catalogue's text embeddings (an 'embedding' column, "
                              "as the evaluation's catalogue has); embed the texts first or set network_epochs=0")
        from bundlewise.pairmodel.model import PairModel

        net = PairModel(epochs=cfg.network_epochs, max_positives=cfg.network_max_positives,
                        random_state=cfg.random_state).fit(evidence, catalog)
        if not np.array_equal(net.item_ids_.astype(str), self.item_ids_.astype(str)):
            raise RuntimeError("the pair network's products differ from the ranker's")  # one catalog_ids rule
        return net

    def _set_products(self, baskets: Baskets, catalog: pd.DataFrame | None) -> None:
        ids = catalog_ids(baskets, catalog)
        n = len(ids)
        self.item_ids_ = ids
        vectors = np.zeros((n, 1), dtype=np.float64)
        has_text = np.zeros(n, dtype=bool)
        price = np.full(n, np.nan)
        cats = np.full(n, "", dtype=object)
        if catalog is not None and len(catalog):
            pos = np.searchsorted(ids.astype(str), catalog["product_id"].astype(str).to_numpy())
            if "embedding" in catalog:  # texts are embedded upstream (the evaluation's cache); no encoder here
                raw = catalog_vectors(catalog)
                vectors = np.zeros((n, raw.shape[1]), dtype=np.float64)
                vectors[pos], has_text[pos] = raw, True
            if "price" in catalog:
                price[pos] = pd.to_numeric(catalog["price"], errors="coerce").to_numpy(dtype=np.float64)
            if "category_path" in catalog:
                cats[pos] = catalog["category_path"].fillna("").astype(str).str.strip().str.lower().to_numpy()
        self.vectors_ = normalize_rows(vectors).astype(np.float64)
        self.has_text_ = has_text
        self.log_price_ = log_prices(price).astype(np.float64)
        self.price_known_ = np.isfinite(price) & (price > 0)
        _, self.category_ = np.unique(cats, return_inverse=True)
        self.category_known_ = cats != ""
        tops = np.array([re.split(r"\s*[>/|]\s*", c)[0] for c in cats], dtype=object)
        _, self.top_category_ = np.unique(tops, return_inverse=True)

    def _examples(self, labels: Baskets, mode: str, rng: np.random.Generator, cfg: RerankerConfig) -> Rows:
        """Rows of the label queries of ``mode`` (warm: with evidence; cold: evidence hidden or absent)."""
        keys, w, n_both, events = label_pairs(labels)
        queries = np.flatnonzero(events > 0)
        warm = self.evidence_.counts[queries] > 0
        queries = queries[warm] if mode == "warm" else queries  # a warm query also serves as a cold one
        if len(queries) > cfg.max_queries:
            queries = np.sort(rng.choice(queries, cfg.max_queries, replace=False))
        rows = self._rows(queries, np.full(len(queries), mode == "warm"))
        n = len(self.item_ids_)
        pk = rows.i * n + rows.j
        pos = np.minimum(np.searchsorted(keys, pk), max(len(keys) - 1, 0))
        found = (keys[pos] == pk) if len(keys) else np.zeros(len(pk), dtype=bool)
        rows.weight = np.where(found, w[pos] if len(w) else 0.0, 0.0)
        rows.y = np.minimum(np.where(found, n_both[pos] if len(n_both) else 0, 0), MAX_LABEL).astype(np.int64)
        rows.query_events = events[rows.queries]
        return rows.keep_groups_with_positives()

    # ------------------------------------------------------------------ candidates and features
    def _rows(self, queries: np.ndarray, warm: np.ndarray, allowed_mask: np.ndarray | None = None) -> Rows:
        ev, n_c = self.evidence_, self.n_candidates
        popular = ev.pop_order[: n_c + 1]
        cooc = np.full((len(queries), n_c), -1, dtype=np.int64)
        decayed = np.full((len(queries), n_c), -1, dtype=np.int64)
        by_id = np.full((len(queries), n_c), -1, dtype=np.int64)
        if warm.any():
            cooc[warm], _ = ev.stats._rank(queries[warm], n_c, None)
            if ev.decayed is not None:
                decayed[warm], _ = ev.decayed._rank(queries[warm], n_c, None)
            if ev.factors.shape[1]:
                has = np.abs(ev.factors).sum(axis=1) > 0
                by_id[warm], _ = cosine_top_k(ev.factors[queries[warm]], ev.factors, n_c, allowed=has,
                                              exclude=queries[warm])
        by_category = ev.category.top(self.category_, self.category_known_, queries, n_c)
        text, _ = cosine_top_k(self.vectors_[queries], self.vectors_, n_c, allowed=self.has_text_, exclude=queries)
        text[~self.has_text_[queries]] = -1
        with_ev = (ev.counts > 0) & self.has_text_
        nb, nb_w = text_neighbours(self.vectors_, self.vectors_[queries], with_ev, self.n_neighbours,
                                   exclude=queries)
        nb[~self.has_text_[queries]] = -1
        top_nb = nb[:, :3]
        flat = top_nb.ravel()
        nb_partners = np.full((len(flat), max(n_c // 3, 1)), -1, dtype=np.int64)
        if (flat >= 0).any():
            nb_partners[flat >= 0], _ = ev.stats._rank(flat[flat >= 0], max(n_c // 3, 1), None)
        nb_partners = nb_partners.reshape(len(queries), -1)
        cand = np.concatenate([cooc, decayed, np.tile(popular, (len(queries), 1)), text, nb_partners, by_category,
                               by_id], axis=1)
        i_all, j_all, cooc_rank, text_rank, decayed_rank, id_rank = [], [], [], [], [], []
        for row, q in enumerate(queries):
            c = np.unique(cand[row])
            c = c[(c >= 0) & (c != q)]
            if allowed_mask is not None:
                c = c[allowed_mask[c]]
            i_all.append(np.full(len(c), q))
            j_all.append(c)
            cooc_rank.append(rank_in(cooc[row], c, n_c))
            text_rank.append(rank_in(text[row], c, n_c))
            decayed_rank.append(rank_in(decayed[row], c, n_c))
            id_rank.append(rank_in(by_id[row], c, n_c))
        lengths = np.array([len(c) for c in j_all], dtype=np.int64)
        i = np.concatenate(i_all) if i_all else np.zeros(0, np.int64)
        j = np.concatenate(j_all) if j_all else np.zeros(0, np.int64)
        qrow = np.repeat(np.arange(len(queries)), lengths)
        ranks = {name: np.concatenate(r) if r else np.zeros(0)
                 for name, r in (("cooc_rank", cooc_rank), ("text_rank", text_rank), ("decayed_rank", decayed_rank),
                                 ("id_rank", id_rank))}
        x = self._features(i, j, warm[qrow], (nb[qrow], nb_w[qrow]), ranks)
        return Rows(queries, lengths, i, j, x)

    def _features(self, i: np.ndarray, j: np.ndarray, warm: np.ndarray, neighbours: tuple[np.ndarray, np.ndarray],
                  ranks: dict[str, np.ndarray]) -> np.ndarray:
        ev = self.evidence_
        total = max(ev.table.total_weight, 1.0)
        wij = np.where(warm, ev.table.counts(i, j), 0.0)
        wi = np.where(warm, ev.table.item_weights[i], 0.0)
        wj = ev.table.item_weights[j]
        conf_ij = np.where(wi > 0, wij / np.maximum(wi, 1e-12), 0.0)
        conf_ji = np.where(wj > 0, wij / np.maximum(wj, 1e-12), 0.0)
        lift = shrunk_lift(wij, np.maximum(wi, 1e-9), np.maximum(wj, 1e-9), total)
        if ev.recent is not None:
            rij, ri = np.where(warm, ev.recent.counts(i, j), 0.0), np.where(warm, ev.recent.item_weights[i], 0.0)
            conf_recent = np.where(ri > 0, rij / np.maximum(ri, 1e-12), 0.0)
            rate_j_recent = np.log1p(_RATE * ev.recent.item_weights[j] / max(ev.recent.total_weight, 1e-12))
        else:
            conf_recent, rate_j_recent = np.zeros(len(i)), np.zeros(len(i))
        if ev.decayed_table is not None:
            dij = np.where(warm, ev.decayed_table.counts(i, j), 0.0)
            di = np.where(warm, ev.decayed_table.item_weights[i], 0.0)
            conf_decayed = np.where(di > 0, dij / np.maximum(di, 1e-12), 0.0)
        else:
            conf_decayed = np.zeros(len(i))
        # the query's own evidence is always left out of its category's (hidden for a cold row, it must not
        # come back through the category), so a training query read as cold sees what a new product would
        cat_conf, cat_lift = ev.category.conf(ev.table, self.category_, self.category_known_, i, j,
                                              ev.table.counts(i, j), ev.table.item_weights[i])
        nbr_conf, nbr_n = neighbour_evidence(ev.table, j, neighbours)
        pop_rank = np.full(len(ev.counts), len(ev.pop_order), dtype=np.float64)
        pop_rank[ev.pop_order] = np.arange(len(ev.pop_order))
        known_price = self.price_known_[i] & self.price_known_[j]
        known_cat = self.category_known_[i] & self.category_known_[j]
        cols = {
            "log_rate_ij": np.log1p(_RATE * wij / total), "conf_ij": conf_ij, "conf_ji": conf_ji,
            "log_lift": np.where(wij > 0, np.log(lift), 0.0), "log_rate_i": np.log1p(_RATE * wi / total),
            "has_pair": (wij > 0).astype(np.float64), "cooc_rank": ranks["cooc_rank"],
            "conf_ij_recent": conf_recent, "log_rate_j_recent": rate_j_recent,
            "conf_ij_decayed": conf_decayed, "decayed_rank": ranks["decayed_rank"],
            "text_cos": pair_dots(self.vectors_, i, j), "text_rank": ranks["text_rank"],
            "nbr_conf": nbr_conf, "nbr_log_rate": np.log1p(_RATE * nbr_n / total),
            "log_rate_j": np.log1p(_RATE * wj / total), "pop_rank": np.log1p(pop_rank[j]),
            "log_price_ratio": np.where(known_price, self.log_price_[j] - self.log_price_[i], 0.0),
            "same_category": np.where(known_cat, (self.category_[i] == self.category_[j]) * 2.0 - 1.0, 0.0),
            "same_top_category": np.where(known_cat, (self.top_category_[i] == self.top_category_[j]) * 2.0 - 1.0,
                                          0.0),
            "cat_conf": cat_conf, "cat_log_lift": cat_lift,
            # a cold row reads the network's cold-start input (its own evidence hidden), as it was trained
            "pair_logit": (self.network_.logits(i, j, hide_evidence=~warm) if self.network_ is not None and len(i)
                           else np.zeros(len(i))),
            "id_cos": (np.where(warm, pair_dots(ev.factors, i, j), 0.0)
                       if ev.factors.shape[1] else np.zeros(len(i))),
            "id_rank": ranks["id_rank"],
        }
        return np.stack([cols[name] for name in FEATURES], axis=1).astype(np.float32)

    # ------------------------------------------------------------------ learning
    def _train(self, train: Rows, held: Rows, cfg: RerankerConfig) -> Any:
        import lightgbm as lgb

        if not len(train.lengths):
            return None  # no label query of this kind: scored by popularity
        params = {"objective": "lambdarank", "learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves,
                  "min_data_in_leaf": cfg.min_data_in_leaf, "lambdarank_truncation_level": 20,
                  "label_gain": list(range(MAX_LABEL + 1)), "eval_at": [10], "metric": "ndcg",
                  "num_threads": 1, "deterministic": True, "force_row_wise": True, "seed": cfg.random_state,
                  "verbose": -1}
        train_set = lgb.Dataset(train.x[:, self.columns_], train.y, group=train.lengths, weight=train.row_weight(),
                                free_raw_data=True)
        callbacks, valid = [], []
        if len(held.lengths):
            valid = [lgb.Dataset(held.x[:, self.columns_], held.y, group=held.lengths, reference=train_set)]
            callbacks = [lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)]
        booster = lgb.train(params, train_set, num_boost_round=cfg.n_estimators, valid_sets=valid,
                            callbacks=callbacks)
        log.info("reranker: %d groups, %d rows, %d trees", len(train.lengths), len(train.y),
                 booster.best_iteration or booster.current_iteration())
        return booster

    def _scores(self, booster: Any, x: np.ndarray) -> np.ndarray:
        if booster is None or not len(x):
            return -x[:, FEATURES.index("pop_rank")].astype(np.float64) if len(x) else np.zeros(0)
        return booster.predict(x[:, self.columns_], num_threads=1,
                               num_iteration=booster.best_iteration or None).astype(np.float64)

    # ------------------------------------------------------------------ ranking
    def _rank(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        # in chunks of queries: ~300 candidate rows each, so memory stays flat however many are asked
        parts = [self._rank_chunk(codes[s: s + _QUERY_CHUNK], k, allowed) for s in range(0, len(codes), _QUERY_CHUNK)]
        if not parts:
            return np.full((0, k), -1, dtype=np.int64), np.full((0, k), np.nan)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _rank_chunk(self, codes: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        ev = self.evidence_
        warm = ev.counts[codes] > 0
        top = np.full((len(codes), k), -1, dtype=np.int64)
        vals = np.full((len(codes), k), np.nan)
        backoff = ~warm if self.cold_backoff_ else np.zeros(len(codes), dtype=bool)
        for mode, mask in (("warm", warm), ("cold", ~warm & ~backoff)):
            if not mask.any():
                continue
            rows = self._rows(codes[mask], np.full(int(mask.sum()), mode == "warm"), allowed)
            scores = self._scores(self.models_[mode], rows.x)
            width = max(int(rows.lengths.max()) if len(rows.lengths) else 0, 1)
            mat = np.full((len(rows.lengths), width), -np.inf)
            col = np.full(mat.shape, -1, dtype=np.int64)
            offs = np.concatenate([[0], np.cumsum(rows.lengths)])
            for r in range(len(rows.lengths)):
                mat[r, : rows.lengths[r]] = scores[offs[r]: offs[r + 1]]
                col[r, : rows.lengths[r]] = rows.j[offs[r]: offs[r + 1]]
            pos, v = top_k_rows(mat, k)
            top[mask] = np.where(pos >= 0, np.take_along_axis(col, np.maximum(pos, 0), axis=1), -1)
            vals[mask] = v
        self._backfill(codes, top, vals, allowed)
        return top, vals

    def _backfill(self, codes: np.ndarray, top: np.ndarray, vals: np.ndarray, allowed: np.ndarray | None) -> None:
        """Lists shorter than k (and backed-off cold queries) get best sellers, scored below every ranked one."""
        k = top.shape[1]
        order = self.evidence_.pop_order if allowed is None else self.evidence_.pop_order[
            allowed[self.evidence_.pop_order]]
        for row, code in enumerate(codes):
            have = top[row][top[row] >= 0]
            if len(have) == k:
                continue
            extra = order[: k + len(have) + 1]
            extra = extra[(extra != code) & ~np.isin(extra, have)][: k - len(have)]
            floor = float(np.nanmin(vals[row])) if len(have) else 0.0
            top[row, len(have): len(have) + len(extra)] = extra
            vals[row, len(have): len(have) + len(extra)] = floor - 1.0 - np.arange(len(extra)) / (k + 1)
