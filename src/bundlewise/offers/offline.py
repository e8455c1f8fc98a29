"""Off-policy evaluation of a named policy on a logged decision table (what ``bundlewise offers evaluate`` runs).

The log is split in time: the target policy learns from the first ``split`` share of the decisions
(each logged offer and its reward, in order), then is frozen and asked, for every later decision,
for its probabilities over the same eligible offers. The estimators of :mod:`bundlewise.offers.ope`
compare those with the logged propensities on the later part, side by side with the logging
policy's observed mean reward there. DM and DR use a per placement × segment reward model
cross-fitted (two interleaved folds) on the evaluated part itself — a model fitted before a drift
is what made DM wrong on the shop simulator. Only ``slot`` 0 rows are used (single-position
estimators).

Examples
--------
>>> from bundlewise.offers.experiment import run_online
>>> from bundlewise.offers.logs import read_decision_log, simulated_log
>>> from bundlewise.offers.policies import EpsilonGreedy
>>> from bundlewise.offers.shopsim import OfferShopSimulator
>>> sim = OfferShopSimulator(n_impressions=400, random_state=0)
>>> log = read_decision_log(simulated_log(sim, run_online(sim, EpsilonGreedy(epsilon=0.5, random_state=0))))
>>> table, info = offline_evaluate(log, EpsilonGreedy(epsilon=0.1), n_bootstrap=20)
>>> list(table["estimator"])[:2], info["n_evaluated"]
(['logging policy (observed)', 'ips'], 200)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError
from bundlewise.offers import ope
from bundlewise.offers.base import check_range

logger = logging.getLogger(__name__)

KEY = ("placement", "segment")


def log_contexts(frame: pd.DataFrame) -> list[dict]:
    """The context a policy sees for each logged decision: the stored context + placement, ids and time."""
    t = (pd.to_datetime(frame["ts"]).astype("datetime64[ns]").astype("int64") / 1e9).to_numpy(dtype=float)
    out = []
    for ctx, pl, sid, cid, ti in zip(frame["context"], frame["placement"], frame.get("session_id", [None] * len(t)),
                                     frame.get("customer_id", [None] * len(t)), t, strict=True):
        c = dict(json.loads(ctx) if isinstance(ctx, str) else (ctx or {}))
        c.update({"placement": pl, "time": float(ti), "session_id": sid, "customer_id": cid})
        c.setdefault("shopper_id", sid if sid is not None else cid)
        out.append(c)
    return out


def _crossfit_rewards(keys: list, action: np.ndarray, reward: np.ndarray, k: int, folds: int = 2) -> np.ndarray:
    q = np.zeros((len(keys), k))
    fold = np.arange(len(keys)) % folds
    for f in range(folds):
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        if len(tr) == 0 or len(te) == 0:
            continue
        table, _ = ope.tabular_reward_model([keys[i] for i in tr], action[tr], reward[tr], k)
        q[te] = ope.predict_tabular(table, [keys[i] for i in te], k)
    return q


def offline_evaluate(frame: pd.DataFrame, policy: Any, *, split: float = 0.5, estimators: Sequence[str] | None = None,
                     n_bootstrap: int = 200, seed: int = 0, min_ess: float = 200.0,
                     max_rel_halfwidth: float = 0.25) -> tuple[pd.DataFrame, dict]:
    """Estimates of ``policy``'s mean reward per decision on the later part of ``frame``.

    Parameters
    ----------
    frame : DataFrame
        A decision log as :func:`bundlewise.offers.logs.read_decision_log` returns it.
    policy : Policy
        A fresh policy (it learns from the first part).
    split : float
        Share of the decisions (in time order) the policy learns from, in [0, 1).
    estimators : list of str, optional
        Names from :data:`bundlewise.offers.ope.ESTIMATORS` (default: all).
    n_bootstrap, seed : int
        Bootstrap replicates and seed (of the intervals and of the policy's draws).
    min_ess, max_rel_halfwidth : float
        The support check (:func:`bundlewise.offers.ope.support_check`): rows failing it get
        ``reliable = False`` and a reason.

    Returns
    -------
    (DataFrame, dict)
        One row per estimator (``estimator, value, low, high, vs_logging, reliable, why``), the
        first the logging policy's observed value; and ``n_learned, n_evaluated, ess, offers``.
    """
    split = check_range("split", split, 0.0, 1.0, high_open=True)
    if int(n_bootstrap) < 10:
        raise ConfigError(f"n_bootstrap must be an integer >= 10; got {n_bootstrap!r}")
    log = frame[frame["slot"] == 0].reset_index(drop=True) if "slot" in frame else frame.reset_index(drop=True)
    if len(log) < 2:
        raise ConfigError(f"the decision log has {len(log)} decision(s) in slot 0; at least 2 are needed (an empty "
                          "offer_decisions table: serve offers first, or pass a decision log file with --log)")
    offers = sorted({o for e in log["eligible"] for o in e} | set(log["offer_id"]))
    pos = {o: k for k, o in enumerate(offers)}
    k = len(offers)
    contexts = log_contexts(log)
    action = log["offer_id"].map(pos).to_numpy(dtype=np.int64)
    reward = log["reward"].to_numpy(dtype=float)
    pscore = log["propensity"].to_numpy(dtype=float)
    cut = int(split * len(log))
    if cut >= len(log) - 1:
        raise ConfigError(f"split {split} leaves {len(log) - cut} decision(s) to evaluate; lower --split")
    rng = np.random.default_rng(seed)
    for i in range(cut):  # learn the logged offer's reward, in time order
        d = policy.select(contexts[i], list(log["eligible"].iat[i]), rng)
        policy.update(d, log["offer_id"].iat[i], float(reward[i]))
    dist = np.zeros((len(log) - cut, k))
    for j, i in enumerate(range(cut, len(log))):
        d = policy.select(contexts[i], list(log["eligible"].iat[i]), rng)
        for o, p in d.probabilities.items():
            dist[j, pos[o]] = p
    late = slice(cut, len(log))
    keys = [tuple(c.get(f) for f in KEY) for c in contexts[late]]
    r, a, p = reward[late], action[late], pscore[late]
    q = _crossfit_rewards(keys, a, r, k)
    table = ope.evaluate(r, a, p, dist, q, n_bootstrap=int(n_bootstrap), random_state=seed, keys=keys,
                         estimators=estimators)
    if "replay" in set(table["estimator"]) and not np.allclose(dist.max(axis=1), 1.0):
        table = table[table["estimator"] != "replay"]  # replay is for deterministic targets only
        logger.info("replay left out: the target policy is not deterministic")
    ess = ope.effective_sample_size(a, p, dist)
    table = ope.support_check(table, ess, min_ess=min_ess, max_rel_halfwidth=max_rel_halfwidth)
    boot = np.random.default_rng(seed).integers(0, len(r), size=(int(n_bootstrap), len(r)))
    lo, hi = np.quantile(r[boot].mean(axis=1), [0.025, 0.975])
    observed = pd.DataFrame([{"estimator": "logging policy (observed)", "value": float(r.mean()), "low": float(lo),
                              "high": float(hi), "reliable": True, "why": ""}])
    table = pd.concat([observed, table], ignore_index=True)
    table["vs_logging"] = table["value"] / float(r.mean()) if r.mean() != 0 else np.nan
    info = {"n_learned": cut, "n_evaluated": len(log) - cut, "ess": ess, "offers": offers}
    return table[["estimator", "value", "low", "high", "vs_logging", "reliable", "why"]], info
