"""Co-purchase metrics, one named and vectorised function each.

Notation for a pair of products a, b over ``n`` baskets: ``n_ab`` baskets hold both,
``n_a`` hold a, ``n_b`` hold b. Every function accepts arrays (counts, or summed basket
weights when time decay is on) and broadcasts. Which to choose:

* **support** — how common the pair is; favours popular products.
* **confidence** — P(b | a): "customers who bought a also bought b"; directional and
  inflated for popular b.
* **lift** — how many times more often than independence; symmetric; favours rare,
  tightly linked pairs (discoverability) and is noisy for small counts → **shrunk_lift**.
* **leverage** — lift's additive cousin (share of baskets above independence); favours
  pairs that move volume.
* **conviction** — directional; infinite when a always comes with b.
* **jaccard**, **cosine** — overlap measures between popularity-driven counts and lift.
* **npmi** — lift on a log scale normalised to [-1, 1]; comparable across datasets.
* **fisher_p_value** / **bh_q_values** — is the association real, or chance?

Examples
--------
>>> float(lift(2, 3, 3, 5))   # a and b in 3 of 5 baskets each, together in 2
1.1111111111111112
"""

from __future__ import annotations

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.mining import _native

ArrayLike = np.ndarray | float | int


def _f(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def support(n_ab: ArrayLike, n: ArrayLike) -> np.ndarray:
    """P(a and b) = n_ab / n. Range [0, 1]."""
    return _f(n_ab) / _f(n)


def confidence(n_ab: ArrayLike, n_a: ArrayLike) -> np.ndarray:
    """P(b | a) = n_ab / n_a, the rule a → b. Range [0, 1]."""
    return _f(n_ab) / _f(n_a)


def lift(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: ArrayLike) -> np.ndarray:
    """P(a, b) / (P(a) P(b)) = n_ab n / (n_a n_b). 1 = independent; range [0, ∞)."""
    return _f(n_ab) * _f(n) / (_f(n_a) * _f(n_b))


def leverage(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: ArrayLike) -> np.ndarray:
    """P(a, b) - P(a) P(b). 0 = independent; range [-0.25, 0.25]."""
    nn = _f(n)
    return _f(n_ab) / nn - (_f(n_a) / nn) * (_f(n_b) / nn)


def conviction(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: ArrayLike) -> np.ndarray:
    """(1 - P(b)) / (1 - P(b | a)) for the rule a → b. 1 = independent; ∞ when a always brings b."""
    miss = 1.0 - confidence(n_ab, n_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (1.0 - _f(n_b) / _f(n)) / miss
    return np.where(miss <= 0.0, np.inf, out)


def jaccard(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike) -> np.ndarray:
    """n_ab / (n_a + n_b - n_ab): baskets with both over baskets with either. Range [0, 1]."""
    return _f(n_ab) / (_f(n_a) + _f(n_b) - _f(n_ab))


def cosine(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike) -> np.ndarray:
    """n_ab / sqrt(n_a n_b) (Ochiai). Range [0, 1]."""
    return _f(n_ab) / np.sqrt(_f(n_a) * _f(n_b))


def npmi(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: ArrayLike) -> np.ndarray:
    """Normalised pointwise mutual information log(lift) / -log P(a, b) (Bouma 2009).

    Range [-1, 1]: -1 never together, 0 independent, 1 always together.
    """
    p_ab = support(n_ab, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(lift(n_ab, n_a, n_b, n))
        out = pmi / -np.log(p_ab)
    out = np.where(p_ab <= 0.0, -1.0, out)
    return np.where(p_ab >= 1.0, 1.0, out)


def expected_count(n_a: ArrayLike, n_b: ArrayLike, n: ArrayLike) -> np.ndarray:
    """Baskets expected to hold both under independence: n_a n_b / n."""
    return _f(n_a) * _f(n_b) / _f(n)


def shrunk_lift(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: ArrayLike, prior: float = 5.0) -> np.ndarray:
    """Lift shrunk towards 1 for small counts: (n_ab + α) / (E + α), E = n_a n_b / n.

    The posterior mean of λ when n_ab ~ Poisson(λ E) and λ ~ Gamma(α, α), a prior of mean 1
    (independence) worth α pseudo-baskets (a one-component version of DuMouchel's 1999
    gamma-Poisson shrinker). A pair seen twice where 0.1 was expected has lift 20 but shrunk
    lift (2+5)/(0.1+5) ≈ 1.4; with 200 seen and 10 expected, 13.6. Default α = 5.
    """
    e = expected_count(n_a, n_b, n)
    return (_f(n_ab) + prior) / (e + prior)


def fisher_log_p_value(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: int) -> np.ndarray:
    """Natural log of :func:`fisher_p_value`, exact where the p-value itself underflows to 0.

    Rank by it (or by ``-log10 p = -fisher_log_p_value / ln 10``) when many pairs are "p = 0".
    """
    k, ka, kb = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (n_ab, n_a, n_b))
    k, ka, kb = np.broadcast_arrays(k, ka, kb)
    return _native.hypergeom_logsf(k.ravel(), ka.ravel(), kb.ravel(), int(n)).reshape(k.shape)


def fisher_p_value(n_ab: ArrayLike, n_a: ArrayLike, n_b: ArrayLike, n: int) -> np.ndarray:
    """One-sided Fisher exact test of positive association: P(X >= n_ab), X ~ Hypergeom(n, n_a, n_b).

    Counts must be integers (unweighted baskets). Range [0, 1].
    """
    return np.exp(fisher_log_p_value(n_ab, n_a, n_b, n))


def bh_q_values(p_values: ArrayLike, n_tests: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg q-values (FDR-adjusted p-values), same order as the input.

    ``n_tests`` is the size of the family when only some tests were computed (e.g. the
    pairs seen often enough): the others count as p = 1, which keeps the q-values
    conservative. Default: ``len(p_values)``.
    """
    p = _f(p_values).ravel()
    m = len(p) if n_tests is None else int(n_tests)
    if m < len(p):
        raise ConfigError(f"n_tests is {m}, smaller than the number of p-values ({len(p)}); it must be >= {len(p)} "
                          "(the size of the whole family of tests) or None")
    if len(p) == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty_like(p)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
