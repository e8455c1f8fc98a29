"""Linear Thompson sampling over context features, with Monte-Carlo propensities.

Each offer ``a`` has a Bayesian ridge model ``reward ≈ x·θ_a`` with precision ``A_a`` and vector
``b_a``; an update of offer ``a`` first forgets (``A ← γA + (1-γ)λI``, ``b ← γb``, γ = ``decay``),
then adds ``x xᵀ`` and ``r x``. For a given context the sampled score of offer ``a`` is exactly
Normal(``x·θ̂_a``, ``v² xᵀA_a⁻¹x``), so the propensity is estimated by drawing ``n_draws``
independent score vectors (cheap: one univariate normal per offer and draw) and counting argmax
wins; estimates are clipped below at ``min_propensity`` and renormalised.

Examples
--------
>>> pol = LinearThompson(random_state=0)
>>> d = pol.select({"placement": "cart", "segment": "bargain", "cart_items": ("mug",)}, ["none", "x"])
>>> 0 < d.propensity <= 1
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.offers.base import MixingPolicy, check_range

logger = logging.getLogger(__name__)

PLACEMENTS = ("product_page", "cart", "home", "email", "ad_slot")
SEGMENTS = ("bargain", "regular", "premium")


def default_features(placements: Sequence[str] = PLACEMENTS,
                     segments: Sequence[str] = SEGMENTS) -> Callable[[Mapping[str, Any]], np.ndarray]:
    """Bias, one-hot placement, one-hot segment, placement × segment one-hot, and log(1 + cart size).

    >>> f = default_features()
    >>> x = f({"placement": "cart", "segment": "premium", "cart_items": ("a", "b")})
    >>> x.shape, float(x[0])
    ((25,), 1.0)
    """
    pi = {p: i for i, p in enumerate(placements)}
    si = {s: i for i, s in enumerate(segments)}
    n_p, n_s = len(placements), len(segments)
    dim = 1 + n_p + n_s + n_p * n_s + 1

    def features(context: Mapping[str, Any]) -> np.ndarray:
        x = np.zeros(dim)
        x[0] = 1.0
        p, s = pi.get(context.get("placement")), si.get(context.get("segment"))
        if p is not None:
            x[1 + p] = 1.0
        if s is not None:
            x[1 + n_p + s] = 1.0
        if p is not None and s is not None:
            x[1 + n_p + n_s + p * n_s + s] = 1.0
        x[-1] = np.log1p(len(context.get("cart_items") or ()))
        return x

    return features


class LinearThompson(MixingPolicy):
    """Linear Thompson sampling with forgetting; see the module docstring.

    Parameters
    ----------
    features : callable or None
        ``context -> 1-d array``; ``None`` uses :func:`default_features`.
    noise_scale : float
        ``v``: the posterior scale (reward noise standard deviation).
    ridge : float
        ``λ``: prior precision.
    n_draws, min_propensity : int, float
        Monte-Carlo propensity draws and their clip.
    decay, exploration_cap, new_offer_share, warmup, random_state
        As for the tabular policies.
    """

    name = "linear_thompson"

    def __init__(self, features: Callable[[Mapping[str, Any]], np.ndarray] | None = None, noise_scale: float = 3.0,
                 ridge: float = 1.0, n_draws: int = 256, min_propensity: float = 1e-3, decay: float = 0.9995,
                 exploration_cap: float | Mapping[str, float] = 1.0, new_offer_share: float = 0.05,
                 warmup: int = 20, random_state: int | None = 0) -> None:
        self.features, self.noise_scale, self.ridge, self.n_draws = features, noise_scale, ridge, n_draws
        self.min_propensity, self.decay, self.exploration_cap = min_propensity, decay, exploration_cap
        self.new_offer_share, self.warmup, self.random_state = new_offer_share, warmup, random_state

    def _check_params(self) -> None:
        check_range("noise_scale", self.noise_scale, 0.0, 1e9, low_open=True)
        check_range("ridge", self.ridge, 0.0, 1e9, low_open=True)
        check_range("min_propensity", self.min_propensity, 0.0, 0.1, low_open=True)
        if int(self.n_draws) < 10:
            raise ConfigError(f"n_draws must be an integer >= 10; got {self.n_draws!r}")
        self.features_ = self.features or default_features()
        self.arms_: dict[int, list] = {}  # offer index -> [A, b, A_inv or None, theta or None, count]

    def _cell(self, context: Mapping[str, Any]) -> tuple:
        return ()

    def _arm(self, k: int, dim: int) -> list:
        arm = self.arms_.get(k)
        if arm is None:
            arm = self.arms_[k] = [self.ridge * np.eye(dim), np.zeros(dim), None, None, 0.0]
        if arm[2] is None:  # the inverse is refreshed lazily, once per update of this arm
            arm[2] = np.linalg.inv(arm[0])
            arm[3] = arm[2] @ arm[1]
        return arm

    def _moments(self, context, idx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tag = (self.n_selects_, idx.tobytes(), self.n_updates_)
        if getattr(self, "_last", (None,))[0] == tag:  # select() asks three times for the same context
            return self._last[1]
        x = self.features_(context)
        arms = [self._arm(int(k), len(x)) for k in idx]
        mean = np.array([x @ a[3] for a in arms])
        var = np.array([x @ a[2] @ x for a in arms])
        out = mean, self.noise_scale * np.sqrt(np.maximum(var, 0.0)), np.array([a[4] for a in arms])
        self._last = (tag, out)
        return out

    def _base(self, context, cell, idx, rng):
        mean, sd, _ = self._moments(context, idx)
        draws = mean + sd * rng.standard_normal((int(self.n_draws) + 1, len(idx)))
        winners = np.argmax(draws, axis=1)
        p = np.bincount(winners[1:], minlength=len(idx)) / float(self.n_draws)
        p = np.maximum(p, self.min_propensity)
        return p / p.sum(), int(winners[0])

    def _values(self, context, cell, idx):
        return self._moments(context, idx)[0]

    def _counts(self, context, cell, idx):
        return self._moments(context, idx)[2]

    def _learn(self, context, cell, k, reward) -> None:
        x = self.features_(context)
        arm = self._arm(k, len(x))
        g = self.decay
        arm[0] = g * arm[0] + (1.0 - g) * self.ridge * np.eye(len(x)) + np.outer(x, x)
        arm[1] = g * arm[1] + reward * x
        arm[2] = arm[3] = None
        arm[4] = g * arm[4] + 1.0
