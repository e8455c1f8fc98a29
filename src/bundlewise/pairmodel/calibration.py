"""From the pair model's ranking score to a probability that means something.

The ranking score (network logit + popularity bonus + co-purchase bonus) is a sum of log-odds
learnt against *sampled* negatives: its sigmoid is no rate of anything. The calibration maps it
to **P(the partner is in the basket | the product is)**, measured on held-out baskets: the
model, with only the older evidence, ranks each held-out basket's products; each of the top
``k`` partners is a hit when the basket holds it; a one-feature logistic regression (Platt
scaling) on those (score, hit) rows is the map. Its error is reported as the expected
calibration error (ECE, 10 equal-count bins) on the other half of the held-out events.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.normal(size=4000)
>>> y = (rng.random(4000) < 1 / (1 + np.exp(-(2 * s - 1)))).astype(float)
>>> a, b = fit_platt(s, y)
>>> round(a, 1), round(b, 1)
(2.0, -1.0)
>>> expected_calibration_error(1 / (1 + np.exp(-(a * s + b))), y) < 0.03
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """``P = sigmoid(a * score + b)``; ``ece`` measured on events not used to fit ``a, b``."""

    a: float
    b: float
    ece: float
    n_events: int
    k: int
    hit_rate: float

    def probability(self, score: np.ndarray | float) -> np.ndarray:
        z = self.a * np.asarray(score, dtype=np.float64) + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Calibration | None:
        return None if not d else cls(**{k: d[k] for k in ("a", "b", "ece", "n_events", "k", "hit_rate")})


def fit_platt(scores: np.ndarray, y: np.ndarray, iterations: int = 50, l2: float = 1e-6) -> tuple[float, float]:
    """``(a, b)`` minimising the log loss of ``sigmoid(a * score + b)`` (Newton's method)."""
    x = np.asarray(scores, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    mu, sd = float(x.mean()) if len(x) else 0.0, float(x.std()) if len(x) else 1.0
    sd = sd or 1.0
    z = np.stack([(x - mu) / sd, np.ones_like(x)], axis=1)  # standardised: Newton is stable
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -700, 700)))
        grad = z.T @ (p - t) + l2 * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    a = w[0] / sd
    return float(a), float(w[1] - a * mu)


def expected_calibration_error(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Mean |predicted − observed| over ``n_bins`` equal-count bins of ``p``, weighted by bin size."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(p) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    err = 0.0
    for part in np.array_split(order, min(n_bins, len(p))):
        err += len(part) * abs(float(p[part].mean()) - float(y[part].mean()))
    return err / len(p)


def calibrate(scores: np.ndarray, hits: np.ndarray, event: np.ndarray, k: int) -> Calibration:
    """Fit on the even events, measure the ECE on the odd ones, then refit on all.

    ``scores`` / ``hits`` are rows (one per ranked partner); ``event`` numbers each row's event.
    """
    even = event % 2 == 0
    a, b = fit_platt(scores[even], hits[even])
    ece = expected_calibration_error(1.0 / (1.0 + np.exp(-(a * scores[~even] + b))), hits[~even])
    a, b = fit_platt(scores, hits)
    return Calibration(a, b, float(ece), int(len(np.unique(event))), int(k), float(np.mean(hits)) if len(hits)
                       else float("nan"))


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN without both classes."""
    from scipy.stats import rankdata

    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(scores)
    return float((r[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
