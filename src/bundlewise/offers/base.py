"""The policy contract: :class:`Decision`, the :class:`Policy` protocol, the decision log, and the
mixing layer every policy shares (new-offer exploration, the per-placement exploration cap).

A policy's own rule gives *base* probabilities over the eligible offers (exact for ε-greedy and
softmax, Monte-Carlo for Thompson sampling). The shared layer then mixes, in this order:

1. **new offers**: with probability ``new_offer_share`` an offer seen fewer than ``warmup``
   (discounted) times in this cell is drawn uniformly — so a new offer is explored even when the
   rule is confident about the old ones;
2. **exploration cap**: if the probability of *not* playing the greedy offer (best mean) exceeds
   ``exploration_cap`` for the placement, the distribution is mixed with the greedy offer until
   it equals the cap.

Sampling follows the same mixture (pick a component, then an offer in it), so the logged
propensity ``probabilities[chosen]`` is the probability the policy really used.

Examples
--------
>>> d = Decision("a", 0.9, {"a": 0.9, "b": 0.1}, "eps:0", "greedy")
>>> log = DecisionLog()
>>> log.append(d, {"shopper_id": 1, "time": 0.0, "placement": "home"})
>>> log.to_frame()[["offer_id", "propensity"]].to_dict("records")
[{'offer_id': 'a', 'propensity': 0.9}]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bundlewise.errors import BundlewiseError, ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """One offer decision and the exact probability with which it was made.

    ``probabilities`` covers every eligible offer (they sum to one); ``propensity`` is the entry of
    the chosen offer. ``context`` and ``cell`` let :meth:`Policy.update` find what to learn.
    """

    offer_id: str
    propensity: float
    probabilities: dict[str, float]
    policy_version: str
    explanation: str
    context: Mapping[str, Any] | None = field(default=None, compare=False)
    cell: tuple = field(default=(), compare=False)


class Policy(Protocol):
    """What every offer policy does."""

    def select(self, context: Mapping[str, Any], eligible_offers: Sequence[str],
               rng: np.random.Generator | None = None) -> Decision: ...

    def update(self, decision: Decision, offer_id: str, reward: float) -> None: ...


class PropensityError(BundlewiseError, ValueError):
    """A logged decision has a missing, zero or out-of-range propensity (OPE would be invalid)."""


class DecisionLog:
    """Every decision with its propensity, its full probability vector and its context."""

    def __init__(self) -> None:
        self.rows_: list[dict] = []

    def append(self, decision: Decision, context: Mapping[str, Any] | None = None) -> None:
        ctx = context if context is not None else (decision.context or {})
        self.rows_.append({"decision_id": len(self.rows_), "shopper_id": ctx.get("shopper_id"),
                           "time": ctx.get("time"), "placement": ctx.get("placement"),
                           "segment": ctx.get("segment"), "offer_id": decision.offer_id,
                           "propensity": decision.propensity, "probabilities": dict(decision.probabilities),
                           "policy_version": decision.policy_version, "explanation": decision.explanation})

    def __len__(self) -> int:
        return len(self.rows_)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows_)

    def validate(self) -> None:
        """Raise :class:`PropensityError` if any propensity is missing, non-finite, <= 0 or > 1."""
        validate_propensities(self.to_frame())


def validate_propensities(frame: pd.DataFrame) -> None:
    """Refuse a decision table whose ``propensity`` column has a missing, zero or impossible value."""
    if "propensity" not in frame.columns:
        raise PropensityError(f"decision table has no 'propensity' column; columns: {list(frame.columns)}")
    p = pd.to_numeric(frame["propensity"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(p) | (p <= 0.0) | (p > 1.0 + 1e-12)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise PropensityError(f"{int(bad.sum())} decision(s) have a missing or invalid propensity; first at row "
                              f"{first}: {frame['propensity'].iloc[first]!r}; allowed: 0 < p <= 1")


def check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """Return ``value`` as float or raise :class:`ConfigError` naming the field and the allowed range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number in {_interval(low, high, low_open, high_open)}; "
                          f"got {value!r}") from None
    ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok or not np.isfinite(v):
        raise ConfigError(f"{name} must be in {_interval(low, high, low_open, high_open)}; got {value!r}")
    return v


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


class MixingPolicy:
    """Shared machinery; subclasses implement ``_base(...)``, ``_values(...)``, ``_counts(...)``, ``_learn(...)``."""

    name = "base"

    def _check_common(self) -> None:
        cap = self.exploration_cap
        caps = cap if isinstance(cap, Mapping) else {"*": cap}
        for k, v in caps.items():
            check_range(f"exploration_cap[{k!r}]" if k != "*" else "exploration_cap", v, 0.0, 1.0)
        check_range("new_offer_share", self.new_offer_share, 0.0, 1.0, high_open=True)
        check_range("decay", self.decay, 0.0, 1.0, low_open=True)
        if int(self.warmup) < 0:
            raise ConfigError(f"warmup must be an integer >= 0; got {self.warmup!r}")

    def _cap_for(self, placement: Any) -> float:
        cap = self.exploration_cap
        if isinstance(cap, Mapping):
            return float(cap.get(placement, cap.get("*", 1.0)))
        return float(cap)

    def _ensure_state(self) -> None:
        if not hasattr(self, "rng_"):
            self._check_common()
            self._check_params()
            self.rng_ = np.random.default_rng(self.random_state)
            self.n_updates_ = 0
            self.n_selects_ = 0
            self.offer_index_: dict[str, int] = {}

    def _check_params(self) -> None:  # subclasses validate their own fields
        pass

    def _index(self, offers: Sequence[str]) -> np.ndarray:
        idx = self.offer_index_
        for o in offers:
            if o not in idx:
                idx[o] = len(idx)
        return np.fromiter((idx[o] for o in offers), dtype=np.int64, count=len(offers))

    def select(self, context: Mapping[str, Any], eligible_offers: Sequence[str],
               rng: np.random.Generator | None = None) -> Decision:
        """Choose an offer for ``context`` among ``eligible_offers``; see the module docstring for the mixture."""
        self._ensure_state()
        if len(eligible_offers) == 0:
            raise ConfigError("select() got no eligible offers; pass at least one (e.g. 'none')")
        rng = self.rng_ if rng is None else rng
        self.n_selects_ += 1
        offers = list(eligible_offers)
        idx = self._index(offers)
        cell = self._cell(context)
        base, draw = self._base(context, cell, idx, rng)
        values = self._values(context, cell, idx)
        greedy = int(np.argmax(values))
        k = len(offers)
        new = self._counts(context, cell, idx) < self.warmup
        nu = self.new_offer_share if (new.any() and not new.all()) else 0.0
        p = (1.0 - nu) * base
        if nu:
            p = p + nu * new / new.sum()
        explore = 1.0 - p[greedy]
        cap = self._cap_for(context.get("placement"))
        alpha = 1.0 - cap / explore if explore > cap else 0.0
        if alpha:
            p = (1.0 - alpha) * p
            p[greedy] += alpha
        u = rng.random()
        if u < alpha:
            a, why = greedy, "greedy (exploration cap)"
        elif u < alpha + (1.0 - alpha) * nu:
            a, why = int(rng.choice(np.flatnonzero(new))), "new-offer exploration"
        else:
            a = draw if draw is not None else int(rng.choice(k, p=base / base.sum()))
            why = "greedy" if a == greedy else "exploration"
        probs = dict(zip(offers, p.tolist(), strict=True))
        version = f"{self.name}:{self.n_updates_}"
        return Decision(offers[a], float(p[a]), probs, version, f"{why}; mean {values[a]:.3g}",
                        context=context, cell=cell)

    def update(self, decision: Decision, offer_id: str | None = None, reward: float = 0.0) -> None:
        """Learn ``reward`` for ``offer_id`` (default: the decision's offer) in the decision's context."""
        self._ensure_state()
        oid = decision.offer_id if offer_id is None else offer_id
        k = int(self._index([oid])[0])
        self._learn(decision.context or {}, decision.cell, k, float(reward))
        self.n_updates_ += 1
