"""Click / conversion models: ECE by hand, the model beats the per-offer rate on the simulator, ranking, priors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import ConfigError, NotFittedError
from bundlewise.offers.clickmodel import (
    ClickConversionModel,
    PerOfferRate,
    expected_calibration_error,
    rank_ad_candidates,
    time_split_scores,
)
from bundlewise.offers.policies import EpsilonGreedy, ThompsonSampling
from bundlewise.offers.shopsim import OfferShopSimulator


def test_ece_hand_computed() -> None:
    # bins: 0.05 -> [0, .1) with y 0: gap .05; 0.15, 0.18 -> [.1, .2) y (1, 0): |0.5 - 0.165| = .335 over 2;
    # 0.95 and 1.0 -> last bin, y (1, 1): |1 - 0.975| = .025 over 2
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0.05, 0.15, 0.18, 0.95, 1.0])
    expected = (1 * 0.05 + 2 * 0.335 + 2 * 0.025) / 5
    assert expected_calibration_error(y, p) == pytest.approx(expected)
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_click_stage_is_consistent_with_purchases() -> None:
    sim = OfferShopSimulator(2000, random_state=1)
    f = sim.impressions(np.full(2000, 4))
    assert not (f["purchased"] & ~f["clicked"]).any()  # every buyer clicked
    assert (f["p_click"] >= f["p_click"] * f["p_purchase"]).all()
    # the click stage draws nothing: the rest of the simulator is unchanged
    other = OfferShopSimulator(2000, random_state=1)
    assert np.allclose(sim.realised_margin(np.full(2000, 4)), other.realised_margin(np.full(2000, 4)))


@pytest.fixture(scope="module")
def ab_log() -> pd.DataFrame:
    sim = OfferShopSimulator(12_000, drift_at=1.0, random_state=0)
    rng = np.random.default_rng(0)
    shown = np.array([rng.choice(np.flatnonzero(r)) for r in sim.eligible_matrix()])
    return sim.impressions(shown)


def test_model_beats_per_offer_rate_on_time_split_auc(ab_log: pd.DataFrame) -> None:
    scores = time_split_scores(ab_log, {"model": ClickConversionModel(), "rate": PerOfferRate()})
    s = scores.set_index(["model", "target"])
    for target in ("click", "purchase | click"):
        assert s.at[("model", target), "auc"] > s.at[("rate", target), "auc"] + 0.03
        assert s.at[("model", target), "ece"] < 0.1  # ~1,000 test clicks: ECE carries sampling noise


def test_rank_ad_candidates_orders_by_expected_margin(ab_log: pd.DataFrame) -> None:
    model = ClickConversionModel().fit(ab_log)
    cand = ab_log[ab_log["offer_id"] != "none"].head(30).assign(req=np.repeat(np.arange(3), 10))
    ranked = rank_ad_candidates(model, cand, group="req", k=2)
    assert len(ranked) == 6 and ranked["rank"].tolist() == [1, 2] * 3
    for _, g in ranked.groupby("req"):
        assert g["expected_margin"].is_monotonic_decreasing
    assert np.allclose(ranked["expected_margin"], ranked["p_click"] * ranked["p_purchase"] * ranked["margin"])


def test_unfitted_model_says_so() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        ClickConversionModel().predict_click(pd.DataFrame())


def test_prior_sets_the_policies_opening_values(ab_log: pd.DataFrame) -> None:
    prior = {"a": 2.0, "b": 5.0}
    ctx = {"placement": "cart", "segment": "regular"}
    eg = EpsilonGreedy(epsilon=0.1, prior=prior, warmup=0, random_state=0)
    d = eg.select(ctx, ["a", "b"])
    assert d.probabilities["b"] == pytest.approx(0.95)  # b is greedy before any data
    eg2 = EpsilonGreedy(epsilon=0.1, prior=prior, prior_weight=1.0, warmup=0, random_state=0)
    eg2.update(eg2.select(ctx, ["a", "b"]), "b", 0.0)  # one zero: (0 + 1·5) / (1 + 1) = 2.5 > 2
    assert eg2.means(ctx, ["a", "b"]) == pytest.approx({"a": 2.0, "b": 2.5})
    model = ClickConversionModel().fit(ab_log)
    offers = ab_log.drop_duplicates("offer_id")[["offer_id", "price", "discount", "margin"]]
    fn = model.prior(offers)
    ts = ThompsonSampling(prior=fn, random_state=0)
    names = list(offers["offer_id"])
    ts.select(ctx, names)
    m, _ = ts.posterior(ctx, ts._index(names))
    want = np.array([fn(ctx, o) for o in names])
    assert fn(ctx, "none") == 0.0 and want.max() > 0
    assert np.allclose(m, want)  # no data yet: the posterior mean is the model's expected margin


def test_an_embedding_column_is_used_when_given(ab_log: pd.DataFrame) -> None:
    # a 2-d "text embedding" that encodes the bundle: the model must accept it and still predict probabilities
    vec = {o: np.array([float("bbq" in o), float("bath" in o)]) for o in ab_log["offer_id"].unique()}
    frame = ab_log.assign(emb=ab_log["offer_id"].map(vec))
    model = ClickConversionModel(embedding_column="emb").fit(frame)
    p = model.predict_click(frame.head(50))
    assert p.shape == (50,) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ConfigError, match="lack column.*emb"):
        model.predict_click(ab_log.head(5))  # the column is required at predict time too
