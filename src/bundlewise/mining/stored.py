"""The stored pair statistics of the last ``bundlewise mine`` run, as an in-memory partner index.

What the service and ``bundlewise complements`` answer from when no pair model is trained: the
exact numbers ``mine`` wrote to ``pair_stats`` (counts, lift, shrunk lift, confidences, q-values),
ranked like :meth:`CoPurchaseStats.recommend <bundlewise.mining.copurchase.CoPurchaseStats.recommend>`
(score descending, then partner id ascending), without refitting anything.

Examples
--------
>>> from bundlewise.ingest import Warehouse
>>> with Warehouse(":memory:") as wh:
...     _ = wh.con.execute("INSERT INTO pair_stats (run_id, product_a, product_b, n_ab, lift, shrunk_lift, "
...                        "confidence_ab, confidence_ba, q_value) VALUES (1, 'jam', 'tea', 4, 2.0, 1.5, "
...                        "0.8, 0.4, 0.01)")
...     pairs = StoredPairs.from_connection(wh.con)
>>> [(e.partner, e.n_together, e.confidence) for e in pairs.partners("tea", k=3)]
[('jam', 4, 0.4)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError, UnknownProductError, allowed

# the metrics a stored run can rank by (the directional one is P(partner | product))
STORED_METRICS = ("shrunk_lift", "lift", "confidence", "npmi", "jaccard", "cosine", "leverage", "count")
_COLUMNS = "product_a, product_b, n_ab, lift, shrunk_lift, confidence_ab, confidence_ba, q_value, npmi, jaccard, " \
           "cosine, leverage"


@dataclass(frozen=True)
class PairEvidence:
    """One partner of a product with the stored evidence of the pair."""

    product: str
    partner: str
    score: float            # the ranking metric's value
    n_together: int         # baskets holding both
    lift: float
    shrunk_lift: float
    confidence: float       # P(partner | product)
    q_value: float | None   # Benjamini-Hochberg over every possible pair


class StoredPairs:
    """Partner lists built once from ``pair_stats`` (one run: ``mine`` replaces the table whole).

    Attributes
    ----------
    run_id : int or None
        The mining run the rows belong to (None when the table is empty).
    params : dict
        That run's parameters (``min_count``, ``half_life_days``, ...).
    n_baskets : int
    n_pairs : int
    """

    def __init__(self, rows: dict[str, np.ndarray], run_id: int | None, params: dict[str, Any], n_baskets: int,
                 metric: str = "shrunk_lift"):
        if metric not in STORED_METRICS:
            raise ConfigError(f"metric is {metric!r}; allowed metrics are {allowed(STORED_METRICS)}")
        self.run_id, self.params, self.n_baskets, self.metric = run_id, params, n_baskets, metric
        a, b = rows["product_a"].astype(str), rows["product_b"].astype(str)
        self.n_pairs = len(a)
        self.item_ids_ = np.unique(np.concatenate([a, b])) if len(a) else np.array([], dtype=str)
        ca, cb = np.searchsorted(self.item_ids_, a), np.searchsorted(self.item_ids_, b)
        # both directions of each unordered pair: query -> partner
        query, partner = np.concatenate([ca, cb]), np.concatenate([cb, ca])
        self._n = np.concatenate([rows["n_ab"], rows["n_ab"]]).astype(np.int64)
        self._lift = np.concatenate([rows["lift"], rows["lift"]]).astype(float)
        self._shrunk = np.concatenate([rows["shrunk_lift"], rows["shrunk_lift"]]).astype(float)
        # confidence of the partner given the query: P(b | a) = confidence_ab for the a -> b direction
        self._conf = np.concatenate([rows["confidence_ab"], rows["confidence_ba"]]).astype(float)
        self._q = np.concatenate([rows["q_value"], rows["q_value"]]).astype(float)
        if metric == "confidence":
            score = self._conf
        elif metric == "count":
            score = self._n.astype(float)
        else:
            score = np.concatenate([rows[metric], rows[metric]]).astype(float)
        score = np.where(np.isnan(score), -np.inf, score)
        # group by query; inside a group best score first, ties by partner id (codes are sorted ids)
        order = np.lexsort((partner, -score, query))
        self._partner, self._score = partner[order], score[order]
        self._n, self._lift, self._shrunk = self._n[order], self._lift[order], self._shrunk[order]
        self._conf, self._q = self._conf[order], self._q[order]
        self._indptr = np.zeros(len(self.item_ids_) + 1, dtype=np.int64)
        np.cumsum(np.bincount(query, minlength=len(self.item_ids_)), out=self._indptr[1:])

    @classmethod
    def from_connection(cls, con: Any, metric: str = "shrunk_lift") -> StoredPairs:
        """Read the stored run through a DuckDB connection (parameters only, no request strings)."""
        tbl = con.execute(f"SELECT {_COLUMNS} FROM pair_stats").fetchnumpy()
        run = con.execute("SELECT run_id, params, n_baskets FROM mining_runs WHERE kind = 'pairs' "
                          "ORDER BY run_id DESC LIMIT 1").fetchall()
        run_id, params, n_baskets = (run[0][0], json.loads(run[0][1] or "{}"), int(run[0][2] or 0)) if run \
            else (None, {}, 0)
        # NULL metrics come back masked: NaN for numbers
        rows = {k: np.asarray(v).astype(str) if k.startswith("product_") else
                np.ma.filled(np.ma.asarray(v).astype(float), np.nan) for k, v in tbl.items()}
        return cls(rows, run_id, params, n_baskets, metric)

    def __contains__(self, product_id: object) -> bool:
        return self._code(str(product_id)) is not None

    def _code(self, product_id: str) -> int | None:
        pos = int(np.searchsorted(self.item_ids_, product_id))
        return pos if pos < len(self.item_ids_) and self.item_ids_[pos] == product_id else None

    def partners(self, product_id: str, k: int = 10, exclude: frozenset[str] | set[str] = frozenset()
                 ) -> list[PairEvidence]:
        """The ``k`` best partners of ``product_id`` (fewer when it has fewer), best first.

        Raises
        ------
        UnknownProductError
            The product is in no stored pair (never bought with anything ``min_count`` times).
        """
        code = self._code(str(product_id))
        if code is None:
            raise UnknownProductError(
                f"product {product_id!r} is in none of the {self.n_pairs:,} stored pairs of mining run "
                f"{self.run_id}; it was never bought together with another product often enough "
                f"(min_count {self.params.get('min_count', '?')}): rerun 'bundlewise mine' with a lower "
                "--min-count, or train a pair model")
        out: list[PairEvidence] = []
        for pos in range(self._indptr[code], self._indptr[code + 1]):
            partner = str(self.item_ids_[self._partner[pos]])
            if partner in exclude:
                continue
            q = float(self._q[pos])
            out.append(PairEvidence(str(product_id), partner, float(self._score[pos]), int(self._n[pos]),
                                    float(self._lift[pos]), float(self._shrunk[pos]), float(self._conf[pos]),
                                    None if np.isnan(q) else q))
            if len(out) >= k:
                break
        return out

    def evidence(self, product_id: str, partner_id: str) -> PairEvidence | None:
        """The stored evidence of one ordered pair, or None when it was not stored."""
        code = self._code(str(product_id))
        other = self._code(str(partner_id))
        if code is None or other is None:
            return None
        s, e = self._indptr[code], self._indptr[code + 1]
        hits = np.flatnonzero(self._partner[s:e] == other)
        if not len(hits):
            return None
        pos = s + int(hits[0])
        q = float(self._q[pos])
        return PairEvidence(str(product_id), str(partner_id), float(self._score[pos]), int(self._n[pos]),
                            float(self._lift[pos]), float(self._shrunk[pos]), float(self._conf[pos]),
                            None if np.isnan(q) else q)
