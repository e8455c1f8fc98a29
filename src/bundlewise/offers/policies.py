"""Tabular contextual bandits over offers: ε-greedy, softmax (exact propensities) and Gaussian
Thompson sampling (Monte-Carlo propensities).

Contexts are grouped into *cells* by the fields in ``key`` (default placement × segment); each cell
keeps, per offer, a **discounted** count and reward sum: on every update in the cell all its
statistics are multiplied by ``decay`` first, so an observation ``m`` updates old weighs
``decay**m`` — an effective window of ``1 / (1 - decay)`` observations per cell, which is how
the policies follow drift.

Examples
--------
>>> pol = EpsilonGreedy(epsilon=0.2, random_state=0)
>>> ctx = {"placement": "home", "segment": "regular"}
>>> d = pol.select(ctx, ["none", "a", "b"])
>>> round(sum(d.probabilities.values()), 12), d.propensity > 0
(1.0, True)
>>> pol.update(d, d.offer_id, 3.0)
>>> d2 = pol.select(ctx, ["none", "a", "b"])
>>> round(d2.probabilities[d.offer_id], 4)  # greedy now: 1 - 0.2 + 0.2 / 3
0.8667
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.offers.base import MixingPolicy, check_range

logger = logging.getLogger(__name__)


class _TabularPolicy(MixingPolicy):
    """Per-cell discounted statistics; subclasses give the base probabilities."""

    def __init__(self, *, key: Sequence[str] = ("placement", "segment"), decay: float = 0.999,
                 exploration_cap: float | Mapping[str, float] = 1.0, new_offer_share: float = 0.05,
                 warmup: int = 20, prior_mean: float = 0.0, prior: Any = None, prior_weight: float = 0.0,
                 random_state: int | None = 0) -> None:
        self.key, self.decay, self.exploration_cap = key, decay, exploration_cap
        self.new_offer_share, self.warmup, self.prior_mean, self.random_state = (new_offer_share, warmup,
                                                                                 prior_mean, random_state)
        # prior: offer_id -> mean, or (context, offer_id) -> mean (e.g. ClickConversionModel.prior(...)),
        # evaluated once per cell and offer; prior_weight: how many observations it is worth
        self.prior, self.prior_weight = prior, prior_weight

    def _prior_means(self, context: Mapping[str, Any], cell: tuple, idx: np.ndarray) -> np.ndarray:
        if self.prior is None:
            return np.full(len(idx), float(self.prior_mean))
        if not hasattr(self, "prior_cache_"):
            self.prior_cache_: dict[tuple, float] = {}
            self.offer_names_: dict[int, str] = {}
        if len(self.offer_names_) != len(self.offer_index_):
            self.offer_names_ = {k: o for o, k in self.offer_index_.items()}
        out = np.empty(len(idx))
        for j, k in enumerate(idx.tolist()):
            v = self.prior_cache_.get((cell, k))
            if v is None:
                name = self.offer_names_[k]
                v = float(self.prior.get(name, self.prior_mean) if isinstance(self.prior, Mapping)
                          else self.prior(context, name))
                self.prior_cache_[(cell, k)] = v
            out[j] = v
        return out

    def _cell(self, context: Mapping[str, Any]) -> tuple:
        return tuple(context.get(f) for f in self.key)

    def _stats(self, cell: tuple, size: int) -> np.ndarray:
        if not hasattr(self, "stats_"):
            self.stats_: dict[tuple, np.ndarray] = {}
        st = self.stats_.get(cell)
        if st is None or st.shape[1] < size:
            grown = np.zeros((3, max(size, 8)))  # rows: discounted count, reward sum, squared-reward sum
            if st is not None:
                grown[:, : st.shape[1]] = st
            self.stats_[cell] = st = grown
        return st

    def _counts(self, context, cell, idx) -> np.ndarray:
        return self._stats(cell, len(self.offer_index_))[0, idx]

    def _values(self, context, cell, idx) -> np.ndarray:
        st = self._stats(cell, len(self.offer_index_))
        n, s = st[0, idx], st[1, idx]
        mu0 = self._prior_means(context, cell, idx) if self.prior is not None else self.prior_mean
        w = float(self.prior_weight)
        if w > 0:
            return (s + w * mu0) / (n + w)
        return np.where(n > 0, s / np.maximum(n, 1e-12), mu0)

    def _learn(self, context, cell, k, reward) -> None:
        st = self._stats(cell or self._cell(context), len(self.offer_index_))
        st *= self.decay
        st[:, k] += (1.0, reward, reward * reward)

    def means(self, context: Mapping[str, Any], offers: Sequence[str]) -> dict[str, float]:
        """The current (discounted) mean reward of each offer in the context's cell."""
        self._ensure_state()
        idx = self._index(list(offers))
        return dict(zip(offers, self._values(context, self._cell(context), idx).tolist(), strict=True))


class EpsilonGreedy(_TabularPolicy):
    """ε-greedy: the best mean with probability ``1 - ε``, otherwise uniform over the eligible offers.

    Exact propensity of offer ``a`` among ``K``: ``(1 - ε)·[a = greedy] + ε / K`` (before the shared
    new-offer/cap mixture of :mod:`bundlewise.offers.base`, which is exact too).
    """

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def _check_params(self) -> None:
        check_range("epsilon", self.epsilon, 0.0, 1.0, low_open=True)

    def _base(self, context, cell, idx, rng):
        v = self._values(context, cell, idx)
        p = np.full(len(idx), self.epsilon / len(idx))
        p[int(np.argmax(v))] += 1.0 - self.epsilon
        return p, None


class Softmax(_TabularPolicy):
    """Boltzmann exploration: ``P(a) ∝ exp(mean_a / temperature)``, exact propensities."""

    name = "softmax"

    def __init__(self, temperature: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.temperature = temperature

    def _check_params(self) -> None:
        check_range("temperature", self.temperature, 0.0, 1e9, low_open=True)

    def _base(self, context, cell, idx, rng):
        z = self._values(context, cell, idx) / self.temperature
        e = np.exp(z - z.max())
        return e / e.sum(), None


class ThompsonSampling(_TabularPolicy):
    """Gaussian Thompson sampling per cell with Monte-Carlo propensities.

    Posterior of an offer's mean: Normal(``(s + n0·μ0) / (n + n0)``, ``σ² / (n + n0)``), with σ² the
    cell's pooled (discounted) reward variance (at least ``min_variance``) and ``n0 = prior_strength``.
    The played offer is the argmax of one posterior draw; its propensity is estimated from
    ``n_draws`` *independent* draws (standard error ``sqrt(p(1-p)/n_draws)``), clipped below at
    ``min_propensity`` and renormalised, so no logged propensity is ever zero.
    """

    name = "thompson"

    def __init__(self, n_draws: int = 256, prior_strength: float = 1.0, prior_variance: float = 25.0,
                 min_variance: float = 1e-2, min_propensity: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_draws, self.prior_strength, self.prior_variance = n_draws, prior_strength, prior_variance
        self.min_variance, self.min_propensity = min_variance, min_propensity

    def _check_params(self) -> None:
        if int(self.n_draws) < 10:
            raise ConfigError(f"n_draws must be an integer >= 10; got {self.n_draws!r}")
        check_range("prior_strength", self.prior_strength, 0.0, 1e9, low_open=True)
        check_range("min_propensity", self.min_propensity, 0.0, 0.1, low_open=True)

    def posterior(self, context, idx) -> tuple[np.ndarray, np.ndarray]:
        cell = self._cell(context)
        st = self._stats(cell, len(self.offer_index_))
        n, s, ss = st[0], st[1], st[2]
        tot = n.sum()
        if tot > 2:
            pooled = (ss.sum() - (s[n > 0] ** 2 / n[n > 0]).sum()) / tot
            var = max(pooled, self.min_variance)
        else:
            var = self.prior_variance
        n0 = self.prior_strength
        mu0 = self._prior_means(context, cell, idx) if self.prior is not None else self.prior_mean
        mean = (s[idx] + n0 * mu0) / (n[idx] + n0)
        return mean, np.sqrt(var / (n[idx] + n0))

    def _base(self, context, cell, idx, rng):
        mean, sd = self.posterior(context, idx)
        draws = mean + sd * rng.standard_normal((int(self.n_draws) + 1, len(idx)))
        winners = np.argmax(draws, axis=1)
        p = np.bincount(winners[1:], minlength=len(idx)) / float(self.n_draws)
        p = np.maximum(p, self.min_propensity)
        return p / p.sum(), int(winners[0])


POLICIES = {"epsilon_greedy": EpsilonGreedy, "softmax": Softmax, "thompson": ThompsonSampling}


def make_policy(name: str, **params: Any) -> MixingPolicy:
    """Build a policy by name: ``epsilon_greedy``, ``softmax``, ``thompson`` or ``linear_thompson``.

    >>> make_policy("softmax", temperature=0.3).temperature
    0.3
    """
    from bundlewise.offers.linear import LinearThompson  # a sibling, imported late to keep the graph acyclic

    table = {**POLICIES, "linear_thompson": LinearThompson}
    if name not in table:
        raise ConfigError(f"unknown policy {name!r}; allowed: {sorted(table)}")
    return table[name](**params)
