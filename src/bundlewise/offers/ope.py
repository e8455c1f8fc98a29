"""Off-policy evaluation: replay, IPS, SNIPS, DM and DR, vectorised, with bootstrap intervals.

Shapes follow Open Bandit Pipeline (single position): ``reward``, ``action``, ``pscore`` are
``(n,)`` arrays from the log (``pscore`` = the logging policy's propensity of the logged action),
``action_dist`` is ``(n, K)`` — the evaluated policy's probabilities — and ``estimated_rewards``
is ``(n, K)``, a reward model's prediction ``q̂(x_i, a)``. Every estimator is a ratio of sums of
per-round terms ``num_i / den_i``, which makes the bootstrap one vectorised resampling.

- replay: mean reward over rounds where the (deterministic) evaluated policy picks the logged action;
- IPS: ``mean(w r)``, ``w = π(a_i|x_i) / pscore_i``;
- SNIPS: ``sum(w r) / sum(w)``;
- DM: ``mean(Σ_a π(a|x_i) q̂(x_i, a))``;
- DR: DM plus ``mean(w (r - q̂(x_i, a_i)))``.

Examples
--------
>>> import numpy as np
>>> r = np.array([1.0, 0.0, 2.0]); a = np.array([0, 1, 0]); p = np.array([0.5, 0.5, 0.25])
>>> pi = np.array([[1.0, 0.0]] * 3)
>>> float(ips(r, a, p, pi))  # (1/0.5 + 0 + 2/0.25) / 3
3.3333333333333335
>>> float(snips(r, a, p, pi))  # (2 + 8) / (2 + 0 + 4)
1.6666666666666667
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError

logger = logging.getLogger(__name__)

ESTIMATORS = ("replay", "ips", "snips", "dm", "dr")


def _check(reward, action, pscore, action_dist):
    reward, action = np.asarray(reward, dtype=float), np.asarray(action, dtype=np.int64)
    action_dist = np.asarray(action_dist, dtype=float)
    n = len(reward)
    if action.shape != (n,) or action_dist.ndim != 2 or action_dist.shape[0] != n:
        raise ConfigError(f"shapes disagree: reward {reward.shape}, action {action.shape}, action_dist "
                          f"{action_dist.shape}; expected (n,), (n,), (n, K)")
    if pscore is not None:
        pscore = np.asarray(pscore, dtype=float)
        if pscore.shape != (n,) or not np.all((pscore > 0) & (pscore <= 1)):
            raise ConfigError("pscore must be (n,) with 0 < p <= 1; a zero or missing propensity makes IPS undefined")
    return reward, action, pscore, action_dist


def _terms(name: str, reward, action, pscore, action_dist, estimated_rewards=None, clip: float | None = None):
    """Per-round numerator and denominator of estimator ``name``."""
    reward, action, pscore, action_dist = _check(reward, action, pscore, action_dist)
    rows = np.arange(len(reward))
    pi_a = action_dist[rows, action]
    if name == "replay":
        match = (action == np.argmax(action_dist, axis=1)).astype(float)
        return reward * match, match
    if name in ("dm", "dr"):
        if estimated_rewards is None:
            raise ConfigError(f"{name} needs estimated_rewards of shape (n, K); got None")
        q = np.asarray(estimated_rewards, dtype=float)
        if q.shape != action_dist.shape:
            raise ConfigError(f"estimated_rewards has shape {q.shape}; expected {action_dist.shape}")
        dm = (action_dist * q).sum(axis=1)
        if name == "dm":
            return dm, np.ones_like(dm)
    if pscore is None:
        raise ConfigError(f"{name} needs pscore (the logged propensities)")
    w = pi_a / pscore
    if clip is not None:
        w = np.minimum(w, clip)
    if name == "ips":
        return w * reward, np.ones_like(w)
    if name == "snips":
        return w * reward, w
    if name == "dr":
        return dm + w * (reward - q[rows, action]), np.ones_like(w)
    raise ConfigError(f"unknown estimator {name!r}; allowed: {list(ESTIMATORS)}")


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    d = den.sum()
    return float(num.sum() / d) if d > 0 else 0.0


def replay(reward, action, action_dist) -> float:
    """Replay (Li et al. 2011) for a deterministic evaluated policy; 0.0 when nothing matches."""
    return _ratio(*_terms("replay", reward, action, None, action_dist))


def ips(reward, action, pscore, action_dist, clip: float | None = None) -> float:
    """Inverse propensity scoring; ``clip`` caps the weights (biased, less variance)."""
    return _ratio(*_terms("ips", reward, action, pscore, action_dist, clip=clip))


def snips(reward, action, pscore, action_dist) -> float:
    """Self-normalised IPS."""
    return _ratio(*_terms("snips", reward, action, pscore, action_dist))


def dm(action_dist, estimated_rewards) -> float:
    """Direct method: the reward model's value of the evaluated policy."""
    n = len(action_dist)
    return _ratio(*_terms("dm", np.zeros(n), np.zeros(n, dtype=np.int64), None, action_dist, estimated_rewards))


def dr(reward, action, pscore, action_dist, estimated_rewards) -> float:
    """Doubly robust: DM corrected by the importance-weighted residual of the logged action."""
    return _ratio(*_terms("dr", reward, action, pscore, action_dist, estimated_rewards))


def bootstrap_interval(name: str, reward, action, pscore, action_dist, estimated_rewards=None, *,
                       n_bootstrap: int = 200, alpha: float = 0.05, random_state: int = 0) -> tuple[float, float]:
    """Percentile bootstrap ``(low, high)`` of estimator ``name`` over resampled rounds (vectorised)."""
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1); got {alpha}")
    num, den = _terms(name, reward, action, pscore, action_dist, estimated_rewards)
    rng = np.random.default_rng(random_state)
    n = len(num)
    stats = np.empty(n_bootstrap)
    chunk = max(1, 2_000_000 // max(n, 1))  # bound the (chunk, n) index matrix
    for s in range(0, n_bootstrap, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_bootstrap - s), n))
        d = den[idx].sum(axis=1)
        stats[s: s + len(idx)] = np.divide(num[idx].sum(axis=1), d, out=np.zeros(len(idx)), where=d > 0)
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def evaluate(reward, action, pscore, action_dist, estimated_rewards=None, *, n_bootstrap: int = 200,
             alpha: float = 0.05, random_state: int = 0) -> pd.DataFrame:
    """All estimators (DM/DR only with ``estimated_rewards``) with bootstrap intervals, one row each."""
    names = [e for e in ESTIMATORS if estimated_rewards is not None or e not in ("dm", "dr")]
    rows = []
    for name in names:
        num, den = _terms(name, reward, action, pscore, action_dist, estimated_rewards)
        lo, hi = bootstrap_interval(name, reward, action, pscore, action_dist, estimated_rewards,
                                    n_bootstrap=n_bootstrap, alpha=alpha, random_state=random_state)
        rows.append({"estimator": name, "value": _ratio(num, den), "low": lo, "high": hi})
    return pd.DataFrame(rows)


def tabular_reward_model(keys, action, reward, n_actions: int, prior_strength: float = 5.0) -> tuple[dict, float]:
    """A shrunken mean reward per (key, action) for DM/DR: ``(table, global_mean)``.

    ``table[(key, a)] = (sum_r + k·mean_a) / (n + k)`` with ``mean_a`` the action's overall mean
    and ``k = prior_strength``; look up unseen pairs with the action mean (or the global mean).
    """
    frame = pd.DataFrame({"key": list(keys), "a": np.asarray(action), "r": np.asarray(reward, dtype=float)})
    g = float(frame["r"].mean()) if len(frame) else 0.0
    per_a = frame.groupby("a")["r"].mean().reindex(range(n_actions)).fillna(g).to_numpy()
    agg = frame.groupby(["key", "a"])["r"].agg(["sum", "count"])
    table = {}
    for (key, a), s, c in zip(agg.index, agg["sum"], agg["count"], strict=True):
        table[(key, int(a))] = (s + prior_strength * per_a[int(a)]) / (c + prior_strength)
    for a in range(n_actions):
        table[("*", a)] = per_a[a]
    return table, g


def predict_tabular(table: dict, keys, n_actions: int) -> np.ndarray:
    """``(n, K)`` predictions of :func:`tabular_reward_model`'s table for the rows' keys."""
    return np.array([[table.get((k, a), table[("*", a)]) for a in range(n_actions)] for k in keys])
