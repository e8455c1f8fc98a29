"""Decision-log reader (files), the offline evaluation around it, and the report section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bundlewise.errors import SourceFileError
from bundlewise.offers.base import PropensityError
from bundlewise.offers.experiment import run_online
from bundlewise.offers.logs import read_decision_log, simulated_log, write_decision_log
from bundlewise.offers.offline import offline_evaluate
from bundlewise.offers.policies import EpsilonGreedy
from bundlewise.offers.shopsim import OfferShopSimulator


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    sim = OfferShopSimulator(n_impressions=1500, random_state=3)
    return simulated_log(sim, run_online(sim, EpsilonGreedy(epsilon=0.4, random_state=0)), policy="epsilon_greedy")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_round_trip_through_every_file_format(log: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = write_decision_log(log, tmp_path / f"log{suffix}")
    back = read_decision_log(path)
    assert len(back) == len(log)
    assert back["reward"].sum() == pytest.approx(log["reward"].sum())
    assert back["eligible"].iloc[0] == log["eligible"].iloc[0]
    assert back["probabilities"].iloc[5] == pytest.approx(log["probabilities"].iloc[5])
    assert back["context"].iloc[0]["segment"] == json.loads(log["context"].iloc[0])["segment"]


def test_offer_ids_follow_the_warehouse_spelling(log: pd.DataFrame) -> None:
    ids = set(log["offer_id"])
    assert ids <= {"none", "complement:batteries", "complement:giftwrap"} | {
        f"bundle:{b}@{d}" for b in ("breakfast", "bbq", "bath") for d in ("0.05", "0.10", "0.20")}


@pytest.mark.parametrize("column, value, message", [
    ("propensity", -0.1, "row 4 (decision 'd-2'): column 'propensity' is -0.1"),
    ("propensity", np.nan, "column 'propensity' is nan"),
    ("probabilities", "[0.5, 0.2]", "row 4: column 'probabilities'"),
    ("eligible", "not json", "row 4: column 'eligible' is 'not json', not a JSON list"),
    ("offer_id", "bundle:zzz@0.10", "row 4: column 'offer_id' is 'bundle:zzz@0.10', not in 'eligible'"),
])
def test_bad_rows_name_file_row_and_column(log: pd.DataFrame, tmp_path: Path, column: str, value, message: str) -> None:
    bad = log.copy()
    bad["eligible"] = [json.dumps(v) for v in bad["eligible"]]
    bad["probabilities"] = [json.dumps(v) for v in bad["probabilities"]]
    bad[column] = bad[column].astype(object)
    bad.at[2, column] = value
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises((PropensityError, SourceFileError)) as info:
        read_decision_log(path)
    assert "bad.csv" in str(info.value) and message in str(info.value)


def test_a_file_needs_its_rewards(log: pd.DataFrame, tmp_path: Path) -> None:
    path = write_decision_log(log.drop(columns=["reward"]), tmp_path / "noreward.parquet")
    with pytest.raises(SourceFileError, match="lacks column.*'reward'"):
        read_decision_log(path)


def test_offline_evaluate_of_the_logger_itself_recovers_its_value() -> None:
    # a fixed 50/50 logger: evaluating "always offer x" on its log must find x's mean reward
    rng = np.random.default_rng(0)
    n = 4000
    chosen = rng.random(n) < 0.5
    reward = np.where(chosen, rng.normal(3.0, 1.0, n), rng.normal(1.0, 1.0, n))
    frame = read_decision_log(pd.DataFrame({
        "decision_id": [f"d{i}" for i in range(n)], "ts": pd.date_range("2026-01-01", periods=n, freq="min"),
        "placement": "cart", "offer_id": np.where(chosen, "x", "none"), "propensity": 0.5,
        "eligible": [["none", "x"]] * n, "probabilities": [[0.5, 0.5]] * n, "reward": reward}))
    table, info = offline_evaluate(frame, EpsilonGreedy(epsilon=0.02, warmup=0, random_state=0), n_bootstrap=50)
    est = table.set_index("estimator")["value"]
    later = slice(n // 2, n)
    x_mean = reward[later][chosen[later]].mean()
    assert est["logging policy (observed)"] == pytest.approx(reward[later].mean())
    assert est["snips"] == pytest.approx(0.99 * x_mean + 0.01 * reward[later][~chosen[later]].mean(), abs=0.1)
    assert info["n_learned"] == n // 2 and info["ess"] > 500


def test_report_section_shows_the_numbers(log: pd.DataFrame) -> None:
    from bundlewise.report.html import HtmlReport
    from bundlewise.report.offers import add_offers_section, offers_summary

    frame = read_decision_log(log)
    summary = offers_summary(frame, buckets=3)
    assert summary["impressions"].sum() == len(frame)
    assert summary["margin_per_impression"].mul(summary["impressions"]).sum() == pytest.approx(frame["reward"].sum())
    assert ((summary["low"] <= summary["margin_per_impression"]) & (summary["margin_per_impression"]
                                                                    <= summary["high"])).all()
    # ε = 0.4 over ~10 offers: about 0.4 · (1 - 1/10) of the decisions are exploration
    assert 0.25 < summary["exploration share"].mean() < 0.5
    html = add_offers_section(HtmlReport("t"), frame, buckets=3).render()
    assert "Offers that learn" in html and "<svg" in html and "exploration share" in html
