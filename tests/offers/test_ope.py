"""OPE estimators: hand-computed small cases, Open Bandit Pipeline as an oracle, known-truth accuracy."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import types

import numpy as np
import pytest

from bundlewise.errors import ConfigError
from bundlewise.offers import ope

R = np.array([1.0, 0.0, 2.0, 1.0])
A = np.array([0, 1, 0, 1])
P = np.array([0.5, 0.5, 0.25, 0.75])
PI = np.array([[0.8, 0.2]] * 4)
Q = np.array([[1.0, 0.5], [0.8, 0.2], [1.2, 0.6], [1.0, 1.0]])


def test_hand_computed_small_case() -> None:
    w = np.array([0.8 / 0.5, 0.2 / 0.5, 0.8 / 0.25, 0.2 / 0.75])  # 1.6, 0.4, 3.2, 0.2667
    assert ope.ips(R, A, P, PI) == pytest.approx((1.6 + 0 + 6.4 + 0.2 / 0.75) / 4)
    assert ope.snips(R, A, P, PI) == pytest.approx((1.6 + 6.4 + 0.2 / 0.75) / w.sum())
    dm_rows = [0.8 + 0.1, 0.64 + 0.04, 0.96 + 0.12, 1.0]
    assert ope.dm(PI, Q) == pytest.approx(np.mean(dm_rows))
    corr = [1.6 * (1 - 1.0), 0.4 * (0 - 0.2), 3.2 * (2 - 1.2), (0.2 / 0.75) * (1 - 1.0)]
    assert ope.dr(R, A, P, PI, Q) == pytest.approx(np.mean(dm_rows) + np.mean(corr))
    det = np.array([[1.0, 0.0]] * 4)
    assert ope.replay(R, A, det) == pytest.approx((1.0 + 2.0) / 2)  # rounds 0 and 2 match


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    r, a = rng.normal(1, 1, n), rng.integers(0, 2, n)
    p, pi = np.full(n, 0.5), np.tile([0.7, 0.3], (n, 1))
    lo, hi = ope.bootstrap_interval("snips", r, a, p, pi, random_state=1)
    assert lo < ope.snips(r, a, p, pi) < hi
    assert (lo, hi) == ope.bootstrap_interval("snips", r, a, p, pi, random_state=1)
    assert hi - lo < 0.3


def test_zero_propensity_and_bad_shapes_are_refused() -> None:
    with pytest.raises(ConfigError, match="pscore"):
        ope.ips(R, A, np.array([0.5, 0.0, 0.2, 0.1]), PI)
    with pytest.raises(ConfigError, match="shapes"):
        ope.ips(R, A[:3], P, PI)


def _obp_estimators():
    """obp's estimators module without obp.ope/__init__ (which needs seaborn and mypy_extensions)."""
    if importlib.util.find_spec("obp") is None:
        pytest.skip("Open Bandit Pipeline not installed (test oracle only): pip install --no-deps obp==0.4.1")
    import obp

    if "obp.ope" not in sys.modules:
        pkg = types.ModuleType("obp.ope")
        pkg.__path__ = [str(pathlib.Path(obp.__file__).parent / "ope")]
        sys.modules["obp.ope"] = pkg
    try:
        from obp.ope import estimators
    except ImportError as exc:  # e.g. torch missing
        pytest.skip(f"obp is installed but its estimators cannot be imported: {exc}")
    return estimators


def _synthetic_log(n: int, seed: int, k: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    beta, gamma, delta = rng.normal(size=(3, k)), rng.normal(size=(3, k)), rng.normal(size=(3, k))
    mu = 2.0 + 0.5 * np.tanh(x @ beta)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    pb = softmax(0.5 * x @ gamma)
    pe = softmax(0.5 * x @ gamma + 0.5 * x @ delta)  # the evaluated policy: shifted from the logger
    a = (pb.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    r = mu[np.arange(n), a] + rng.normal(0, 0.5, n)
    return x, a, r, pb[np.arange(n), a], pe, mu, (beta, gamma, delta)


def test_point_estimates_match_obp() -> None:
    est = _obp_estimators()
    x, a, r, p, pe, mu, _ = _synthetic_log(3000, seed=5)
    q = mu + np.random.default_rng(1).normal(0, 0.2, mu.shape)  # an imperfect reward model
    pe3, q3 = pe[:, :, None], q[:, :, None]
    assert ope.ips(r, a, p, pe) == pytest.approx(
        est.InverseProbabilityWeighting().estimate_policy_value(reward=r, action=a, pscore=p, action_dist=pe3),
        rel=1e-10)
    assert ope.snips(r, a, p, pe) == pytest.approx(est.SelfNormalizedInverseProbabilityWeighting()
                                                   .estimate_policy_value(reward=r, action=a, pscore=p,
                                                                          action_dist=pe3), rel=1e-10)
    assert ope.dm(pe, q) == pytest.approx(est.DirectMethod().estimate_policy_value(
        action_dist=pe3, estimated_rewards_by_reg_model=q3), rel=1e-10)
    assert ope.dr(r, a, p, pe, q) == pytest.approx(est.DoublyRobust().estimate_policy_value(
        reward=r, action=a, pscore=p, action_dist=pe3, estimated_rewards_by_reg_model=q3), rel=1e-10)
    det = np.eye(pe.shape[1])[pe.argmax(axis=1)]
    assert ope.replay(r, a, det) == pytest.approx(est.ReplayMethod().estimate_policy_value(
        reward=r, action=a, action_dist=det[:, :, None]), rel=1e-10)


def test_bootstrap_intervals_agree_with_obp() -> None:
    est = _obp_estimators()
    _, a, r, p, pe, _, _ = _synthetic_log(3000, seed=6)
    lo, hi = ope.bootstrap_interval("ips", r, a, p, pe, n_bootstrap=500, random_state=0)
    theirs = est.InverseProbabilityWeighting().estimate_interval(reward=r, action=a, pscore=p,
                                                                action_dist=pe[:, :, None],
                                                                n_bootstrap_samples=500, random_state=0)
    width = theirs["95.0% CI (upper)"] - theirs["95.0% CI (lower)"]
    # different resampling streams: the ends agree to a tenth of the width
    assert abs(lo - theirs["95.0% CI (lower)"]) < 0.1 * width
    assert abs(hi - theirs["95.0% CI (upper)"]) < 0.1 * width


def test_snips_and_dr_within_one_percent_of_known_truth_at_10k() -> None:
    x, a, r, p, pe, mu, (beta, gamma, delta) = _synthetic_log(10_000, seed=11)
    # the truth: the evaluated policy's expected reward over a million fresh contexts of the same law
    rng = np.random.default_rng(99)
    xs = rng.normal(size=(1_000_000, 3))
    z = 0.5 * xs @ gamma + 0.5 * xs @ delta
    e = np.exp(z - z.max(axis=1, keepdims=True))
    truth = float(((e / e.sum(axis=1, keepdims=True)) * (2.0 + 0.5 * np.tanh(xs @ beta))).sum(axis=1).mean())
    # a reward model fitted on the log (per-action least squares on [1, x]): imperfect, as in practice
    design = np.column_stack([np.ones(len(x)), x])
    q = np.column_stack([design @ np.linalg.lstsq(design[a == j], r[a == j], rcond=None)[0]
                         for j in range(pe.shape[1])])
    for name, value in {"snips": ope.snips(r, a, p, pe), "dr": ope.dr(r, a, p, pe, q)}.items():
        assert abs(value - truth) / truth <= 0.01, (name, value, truth)


def test_clipping_caps_the_weights() -> None:
    # weights 1.6, 0.4, 3.2, 0.267 -> clipped at 2: 1.6, 0.4, 2.0, 0.267
    assert ope.ips(R, A, P, PI, clip=2.0) == pytest.approx((1.6 + 0 + 4.0 + 0.2 / 0.75) / 4)


def test_est_snips_hand_computed_and_needs_keys() -> None:
    # cell c: actions 0, 0, 1 -> p̂ = 2/3, 2/3, 1/3; cell d: action 1 alone -> p̂ = 1
    r, a = np.array([1.0, 3.0, 5.0, 2.0]), np.array([0, 0, 1, 1])
    pi = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.0, 1.0]])
    w = np.array([0.5 / (2 / 3), 0.5 / (2 / 3), 0.5 / (1 / 3), 1.0])
    assert ope.est_snips(r, a, pi, ["c", "c", "c", "d"]) == pytest.approx((w * r).sum() / w.sum())
    with pytest.raises(ConfigError, match="keys"):
        ope.bootstrap_interval("est_snips", r, a, np.full(4, 0.5), pi)


def test_effective_sample_size_and_support_check() -> None:
    # weights 2, 0, 2, 0 -> ESS = 16 / 8 = 2
    a, p = np.array([0, 1, 0, 1]), np.full(4, 0.5)
    assert ope.effective_sample_size(a, p, np.tile([1.0, 0.0], (4, 1))) == pytest.approx(2.0)
    import pandas as pd

    table = pd.DataFrame({"estimator": ["snips", "dm"], "value": [1.0, 1.0], "low": [0.9, 0.2], "high": [1.1, 1.8]})
    checked = ope.support_check(table, ess=50.0, min_ess=200.0, max_rel_halfwidth=0.25).set_index("estimator")
    assert not checked.at["snips", "reliable"] and "effective sample size 50" in checked.at["snips", "why"]
    assert not checked.at["dm", "reliable"] and "half-width" in checked.at["dm", "why"]
    ok = ope.support_check(table.iloc[:1], ess=500.0)
    assert bool(ok["reliable"].iloc[0]) and ok["why"].iloc[0] == ""
