"""Offers that learn: contextual bandits over bundle offers, margin rewards, off-policy evaluation.

- :mod:`~bundlewise.offers.base`: the :class:`Decision` / :class:`Policy` contract and the decision log;
- :mod:`~bundlewise.offers.policies`: ε-greedy, softmax (exact propensities), Thompson sampling;
- :mod:`~bundlewise.offers.linear`: linear Thompson sampling over context features;
- :mod:`~bundlewise.offers.rewards`: decisions + purchase events → margin rewards;
- :mod:`~bundlewise.offers.ope`: replay, IPS, SNIPS, DM, DR, est-SNIPS with bootstrap intervals, ESS
  and the support check;
- :mod:`~bundlewise.offers.logs`: the decision log from a warehouse or a file, with rewards;
- :mod:`~bundlewise.offers.offline`: a named policy evaluated off-policy on a decision log;
- :mod:`~bundlewise.offers.clickmodel`: calibrated click / conversion models, ad-slot ranking;
- :mod:`~bundlewise.offers.shopsim`: the shop simulator (shares no code with the policies);
- :mod:`~bundlewise.offers.experiment`: online runs, baselines, regret, drift recovery.
"""

from bundlewise.offers.base import Decision, DecisionLog, Policy, PropensityError, validate_propensities
from bundlewise.offers.linear import LinearThompson
from bundlewise.offers.policies import EpsilonGreedy, Softmax, ThompsonSampling, make_policy
from bundlewise.offers.rewards import join_rewards

__all__ = ["Decision", "DecisionLog", "EpsilonGreedy", "LinearThompson", "Policy", "PropensityError", "Softmax",
           "ThompsonSampling", "join_rewards", "make_policy", "validate_propensities"]
