"""Run a policy online against a simulator (delayed rewards), the fixed-offer baselines, regret and
drift recovery.

The simulator is duck-typed (``contexts()``, ``eligible_matrix()``, ``respond(i, offer)``,
``expected_margin_matrix(window_s)``, ``realised_margin(offer_index, window_s)``, ``offer_ids_``,
``offers_``, ``drift_at``); :class:`bundlewise.offers.shopsim.OfferShopSimulator` is one. A reward
is only learned once its window has closed, as in production.

Examples
--------
>>> from bundlewise.offers.shopsim import OfferShopSimulator
>>> from bundlewise.offers.policies import EpsilonGreedy
>>> sim = OfferShopSimulator(n_impressions=300, random_state=1)
>>> res = run_online(sim, EpsilonGreedy(random_state=0))
>>> len(res.reward), bool((res.propensity > 0).all())
(300, True)
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bundlewise.offers.base import DecisionLog
from bundlewise.offers.rewards import DEFAULT_WINDOW_S

logger = logging.getLogger(__name__)


@dataclass
class OnlineResult:
    """What one online run produced, per impression (offers in the simulator's ``offer_ids_`` order)."""

    offer_index: np.ndarray
    propensity: np.ndarray
    probabilities: np.ndarray  # (n, K); 0 for offers that were not eligible
    reward: np.ndarray  # realised attributed margin
    expected: np.ndarray  # the simulator's true expected margin of the chosen offer
    oracle: np.ndarray  # the best true expected margin for that shopper
    log: DecisionLog = field(repr=False)
    events: pd.DataFrame = field(repr=False)

    @property
    def regret(self) -> np.ndarray:
        """Cumulative expected (pseudo-)regret against the per-shopper best offer."""
        return np.cumsum(self.oracle - self.expected)


def run_online(sim, policy, window_s: float = DEFAULT_WINDOW_S, seed: int = 0) -> OnlineResult:
    """Show each shopper the policy's offer, learn each reward when its window closes."""
    offer_ids = list(sim.offer_ids_)
    pos = {o: k for k, o in enumerate(offer_ids)}
    elig = sim.eligible_matrix()
    truth = sim.expected_margin_matrix(window_s)
    contexts = sim.contexts()
    n, k = elig.shape
    rng = np.random.default_rng(seed)
    chosen = np.empty(n, dtype=np.int64)
    prop, reward, probs = np.empty(n), np.empty(n), np.zeros((n, k))
    log, pending, all_events = DecisionLog(), deque(), []
    eligible_lists = {}
    for i, ctx in enumerate(contexts):
        t = ctx["time"]
        while pending and pending[0][0] <= t:
            _, d, r = pending.popleft()
            policy.update(d, d.offer_id, r)
        row = elig[i]
        key = row.tobytes()
        offers = eligible_lists.get(key)
        if offers is None:
            offers = eligible_lists[key] = [o for o, ok in zip(offer_ids, row, strict=True) if ok]
        d = policy.select(ctx, offers, rng)
        log.append(d, ctx)
        events = sim.respond(i, d.offer_id)
        all_events.extend(events)
        r = sum(e["price_paid"] - e["unit_cost"] - e["discount"] for e in events if e["time"] - t <= window_s)
        pending.append((t + window_s, d, r))
        chosen[i], prop[i], reward[i] = pos[d.offer_id], d.propensity, r
        for o, p in d.probabilities.items():
            probs[i, pos[o]] = p
    rows = np.arange(n)
    return OnlineResult(chosen, prop, probs, reward, truth[rows, chosen], np.nanmax(truth, axis=1), log,
                        pd.DataFrame(all_events, columns=["shopper_id", "time", "product_id", "price_paid",
                                                          "unit_cost", "discount"]))


def fixed_offer_margins(sim, window_s: float = DEFAULT_WINDOW_S) -> pd.DataFrame:
    """Realised and expected margin per impression of showing one offer to everyone ("none" where ineligible)."""
    elig = sim.eligible_matrix()
    truth = sim.expected_margin_matrix(window_s)
    none = sim.offer_ids_.index("none")
    rows, out = np.arange(elig.shape[0]), []
    for k, oid in enumerate(sim.offer_ids_):
        idx = np.where(elig[:, k], k, none)
        out.append({"offer_id": oid, "realised": float(sim.realised_margin(idx, window_s).mean()),
                    "expected": float(truth[rows, idx].mean()), "purchase_rate":
                    float((sim.realised_margin(idx, window_s) > 0).mean())})
    return pd.DataFrame(out)


def naive_offer(sim, window_s: float = DEFAULT_WINDOW_S, share: float = 0.1) -> str:
    """"10 % off the top-lift bundle": the 10 %-off bundle that converted best over the first ``share`` of shoppers."""
    n = int(share * len(sim.shoppers_))
    best, best_rate = None, -1.0
    for k, oid in enumerate(sim.offer_ids_):
        if oid.startswith("bundle:") and oid.endswith("@10"):
            idx = np.full(len(sim.shoppers_), k)
            rate = float((sim.realised_margin(idx, window_s)[:n] > 0).mean())
            if rate > best_rate:
                best, best_rate = oid, rate
    return best


def recovery_impressions(ratio: np.ndarray, drift_index: int, window: int = 1000, level: float = 0.95,
                         before: int = 5000) -> int | None:
    """Impressions after the drift until the ``window``-mean of ``ratio`` (policy / oracle expected margin)
    is back to ``level`` × its mean over the ``before`` impressions preceding the drift; None if never."""
    pre = float(np.mean(ratio[max(0, drift_index - before): drift_index]))
    c = np.concatenate([[0.0], np.cumsum(ratio[drift_index:])])
    means = (c[window:] - c[:-window]) / window
    hit = np.flatnonzero(means >= level * pre)
    return int(hit[0]) if len(hit) else None


def compare(sim, learner, window_s: float = DEFAULT_WINDOW_S, seed: int = 0) -> tuple[pd.DataFrame, OnlineResult]:
    """Margin per impression of the learner, the best fixed offer (hindsight), the naive offer and no offers."""
    res = run_online(sim, learner, window_s, seed)
    fixed = fixed_offer_margins(sim, window_s).set_index("offer_id")
    best = fixed["realised"].idxmax()
    naive = naive_offer(sim, window_s)
    rows = [{"policy": f"learner ({getattr(learner, 'name', type(learner).__name__)})",
             "margin_per_impression": float(res.reward.mean()), "expected": float(res.expected.mean())},
            {"policy": f"best fixed offer ({best})", "margin_per_impression": float(fixed.at[best, "realised"]),
             "expected": float(fixed.at[best, "expected"])},
            {"policy": f"naive 10% off top-lift bundle ({naive})",
             "margin_per_impression": float(fixed.at[naive, "realised"]),
             "expected": float(fixed.at[naive, "expected"])},
            {"policy": "no offers", "margin_per_impression": float(fixed.at["none", "realised"]),
             "expected": float(fixed.at["none", "expected"])},
            {"policy": "oracle (per-shopper best, hidden)", "margin_per_impression": float("nan"),
             "expected": float(res.oracle.mean())}]
    table = pd.DataFrame(rows)
    table["vs_best_fixed"] = table["margin_per_impression"] / table["margin_per_impression"].iloc[1]
    return table, res


def time_split_ope(sim, logging_policy, split: float = 0.5, window_s: float = DEFAULT_WINDOW_S, seed: int = 0,
                   n_bootstrap: int = 200) -> tuple[pd.DataFrame, float]:
    """OPE on a time-split log: learn a target policy and a reward model on the early part, evaluate later.

    The target is deterministic: per placement × segment cell, the offer with the best SNIPS-style
    mean (reward / propensity weighted) in the early log. Truth: the simulator's expected margin of
    the target's offers on the late shoppers. Returns ``(table, truth)``; ``table`` has one row per
    estimator with value, bootstrap interval, relative error and the weights' effective sample
    size; est-SNIPS estimates the propensities per placement × segment cell (see
    :mod:`bundlewise.offers.ope` for when that is valid and the errors over seeds).
    """
    from bundlewise.offers import ope  # local: experiment is the only module that joins OPE and a simulator

    res = run_online(sim, logging_policy, window_s, seed)
    n, k = res.probabilities.shape
    cut = int(split * n)
    shoppers = sim.shoppers_
    keys = list(zip(shoppers["placement"], shoppers["segment"], strict=True))
    early, late = slice(0, cut), slice(cut, n)
    # target: argmax of the importance-weighted mean per cell, among the offers eligible there
    w = 1.0 / res.propensity[early]
    frame = pd.DataFrame({"key": keys[:cut], "a": res.offer_index[early], "wr": w * res.reward[early], "w": w})
    agg = frame.groupby(["key", "a"])[["wr", "w"]].sum()
    means = (agg["wr"] / agg["w"]).rename("m").reset_index()
    best = means.sort_values("m", ascending=False).drop_duplicates("key").set_index("key")["a"].to_dict()
    elig = sim.eligible_matrix()
    none = sim.offer_ids_.index("none")
    target = np.array([best.get(key, none) for key in keys])
    target = np.where(elig[np.arange(n), target], target, none)
    action_dist = np.zeros((n - cut, k))
    action_dist[np.arange(n - cut), target[late]] = 1.0
    table, _ = ope.tabular_reward_model(keys[:cut], res.offer_index[early], res.reward[early], k)
    q = ope.predict_tabular(table, keys[cut:], k)
    truth_matrix = sim.expected_margin_matrix(window_s)
    truth = float(truth_matrix[np.arange(cut, n), target[late]].mean())
    out = ope.evaluate(res.reward[late], res.offer_index[late], res.propensity[late], action_dist, q,
                       n_bootstrap=n_bootstrap, random_state=seed, keys=keys[cut:])
    out["ess"] = ope.effective_sample_size(res.offer_index[late], res.propensity[late], action_dist)
    out["truth"] = truth
    out["rel_error"] = (out["value"] - truth).abs() / abs(truth)
    return out, truth
