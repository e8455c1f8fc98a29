"""Click and conversion models: calibrated P(click | offer, context) and P(purchase | click), and ad-slot ranking.

:class:`ClickConversionModel` is two logistic regressions — over one-hot offer, placement and
segment, their crosses (offer × placement, offer × segment, segment × discount), price, discount,
time of day and day of week, and optionally a product text embedding column — each calibrated
by isotonic regression on the *latest* ``calibration_share`` of its training rows (a time-ordered
split: the calibration data come after the data the regression saw, as the data it will score
do). :class:`PerOfferRate` is the baseline: each offer's smoothed click and conversion rates.

Truth: public click logs that carry the products offered are scarce, so models are trained and
tested on the shop simulator's impressions (:meth:`bundlewise.offers.shopsim.OfferShopSimulator.
impressions`), whose hidden click and purchase probabilities are known; ``bench/bench_clickmodel.py``
reports time-split AUC and expected calibration error against the baseline and the margin per
impression of :func:`rank_ad_candidates`.

Uses: :meth:`ClickConversionModel.prior` gives the tabular policies a prior mean per offer
(``EpsilonGreedy(prior=...)``); :func:`rank_ad_candidates` orders ad-slot candidates by expected
margin per impression ``P(click) · P(buy | click) · margin``.

Examples
--------
>>> import numpy as np
>>> expected_calibration_error(np.array([0, 1, 1, 0]), np.array([0.05, 0.95, 0.55, 0.45]))
0.25
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError, NotFittedError
from bundlewise.offers.base import check_range

logger = logging.getLogger(__name__)

CATEGORICAL = ("offer_id", "placement", "segment")
NEEDED = ("time", "offer_id", "placement", "segment", "price", "discount")


def expected_calibration_error(y_true, y_prob, n_bins: int = 10) -> float:
    """ECE: ``Σ_b (n_b / n) · |mean(y in b) - mean(p in b)|`` over ``n_bins`` equal-width bins of ``p``.

    Bins are ``[0, 0.1), [0.1, 0.2), …, [0.9, 1.0]`` for 10 bins (1.0 falls in the last one).
    """
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_prob, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ConfigError(f"y_true and y_prob must be 1-d of the same non-zero length; got {y.shape}, {p.shape}")
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    gap = np.abs(np.bincount(b, weights=y, minlength=n_bins) - np.bincount(b, weights=p, minlength=n_bins))
    return float(gap.sum() / len(y))  # Σ n_b/n · |Σy/n_b - Σp/n_b| = Σ |Σy - Σp| / n


def _check_frame(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"impressions lack column(s) {missing}; they have {list(frame.columns)}")


def _design(frame: pd.DataFrame, embedding_column: str | None, segments: list[str]) -> pd.DataFrame:
    """The columns the encoder sees: categoricals, crosses, numbers, time of day / week."""
    t = frame["time"]
    if np.issubdtype(np.asarray(t).dtype, np.datetime64):
        ts = pd.Series(pd.to_datetime(np.asarray(t)))
    else:  # seconds (the simulator): measured from an arbitrary Monday midnight
        ts = pd.Series(pd.Timestamp("2026-01-05") + pd.to_timedelta(np.asarray(t, dtype=float), unit="s"))
    hour = (ts.dt.hour + ts.dt.minute / 60.0).to_numpy()
    d = pd.DataFrame({c: frame[c].astype(str).to_numpy() for c in CATEGORICAL})
    d["offer_x_placement"] = d["offer_id"] + "|" + d["placement"]
    d["offer_x_segment"] = d["offer_id"] + "|" + d["segment"]
    d["dow"] = ts.dt.day_of_week.astype(str).to_numpy()
    disc = frame["discount"].fillna(0.0).to_numpy(dtype=float)
    d["discount"] = disc
    for s in segments:  # the training rows' segments: the same columns at predict time
        d[f"discount_x_{s}"] = np.where(d["segment"] == s, disc, 0.0)
    d["log_price"] = np.log1p(frame["price"].fillna(0.0).clip(lower=0).to_numpy(dtype=float))
    d["hour_sin"], d["hour_cos"] = np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)
    if embedding_column is not None:
        _check_frame(frame, [embedding_column])
        emb = np.vstack([np.asarray(v, dtype=float) for v in frame[embedding_column]])
        for j in range(emb.shape[1]):
            d[f"emb_{j}"] = emb[:, j]
    return d


class _Calibrated:
    """A logistic regression fitted on the earlier rows, isotonic-calibrated on the later ones."""

    def __init__(self, C: float, calibration_share: float, embedding_column: str | None, random_state: int):
        self.C, self.calibration_share = C, calibration_share
        self.embedding_column, self.random_state = embedding_column, random_state

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> _Calibrated:
        from sklearn.compose import ColumnTransformer
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        self.segments_ = sorted(set(frame["segment"].astype(str)))
        x = _design(frame, self.embedding_column, self.segments_)
        cats = [*CATEGORICAL, "offer_x_placement", "offer_x_segment", "dow"]
        nums = [c for c in x.columns if c not in cats]
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cats),
                                 ("num", StandardScaler(), nums)])
        n_cal = int(round(self.calibration_share * len(x)))
        fit_rows = slice(0, len(x) - n_cal)
        if len(set(y[fit_rows])) < 2:
            self.constant_ = float(np.mean(y))
            return self
        self.constant_ = None
        self.pipe_ = make_pipeline(enc, LogisticRegression(C=self.C, max_iter=2000))
        self.pipe_.fit(x.iloc[fit_rows], y[fit_rows])
        self.iso_ = None
        cal = slice(len(x) - n_cal, len(x))
        if n_cal >= 50 and len(set(y[cal])) == 2:
            raw = self.pipe_.predict_proba(x.iloc[cal])[:, 1]
            self.iso_ = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(raw, y[cal])
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(len(frame), self.constant_)
        raw = self.pipe_.predict_proba(_design(frame, self.embedding_column, self.segments_))[:, 1]
        return self.iso_.predict(raw) if self.iso_ is not None else raw


class ClickConversionModel:
    """Calibrated P(click | offer, context) and P(purchase | click); sklearn-style.

    Parameters
    ----------
    C : float
        Inverse L2 strength of both logistic regressions.
    calibration_share : float
        Latest share of the (time-ordered) training rows held out to fit the isotonic calibration;
        0 = uncalibrated.
    embedding_column : str, optional
        A column of equal-length vectors (a product text embedding) added to the features.
    random_state : int

    Attributes
    ----------
    click_, conversion_ : fitted models; ``n_impressions_``, ``n_clicks_``.

    Examples
    --------
    >>> import numpy as np
    >>> from bundlewise.offers.shopsim import OfferShopSimulator
    >>> sim = OfferShopSimulator(3000, random_state=0)
    >>> frame = sim.impressions(np.full(3000, 4))  # everyone shown offer 4 (a bundle)
    >>> m = ClickConversionModel().fit(frame)
    >>> p = m.predict_click(frame.head(3))
    >>> bool(((p > 0) & (p < 1)).all())
    True
    """

    def __init__(self, C: float = 1.0, calibration_share: float = 0.2, embedding_column: str | None = None,
                 random_state: int = 0) -> None:
        self.C, self.calibration_share = C, calibration_share
        self.embedding_column, self.random_state = embedding_column, random_state

    def fit(self, frame: pd.DataFrame, clicked: str = "clicked", purchased: str = "purchased") -> ClickConversionModel:
        """Fit on shown-offer impressions (rows with ``offer_id == 'none'`` are left out: nothing to click)."""
        check_range("C", self.C, 0.0, 1e9, low_open=True)
        check_range("calibration_share", self.calibration_share, 0.0, 0.9)
        _check_frame(frame, NEEDED + (clicked, purchased))
        f = frame[frame["offer_id"].astype(str) != "none"].sort_values("time", kind="stable").reset_index(drop=True)
        if len(f) < 10:
            raise ConfigError(f"ClickConversionModel needs at least 10 shown-offer impressions; got {len(f)}")
        yc = f[clicked].to_numpy(dtype=int)
        args = (self.C, self.calibration_share, self.embedding_column, self.random_state)
        self.click_ = _Calibrated(*args).fit(f, yc)
        fc = f[yc == 1].reset_index(drop=True)
        if len(fc) < 10:
            raise ConfigError(f"ClickConversionModel needs at least 10 clicks to model conversion; got {len(fc)}")
        self.conversion_ = _Calibrated(*args).fit(fc, fc[purchased].to_numpy(dtype=int))
        self.n_impressions_, self.n_clicks_ = len(f), len(fc)
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "click_"):
            raise NotFittedError("ClickConversionModel is not fitted; call fit(impressions) first")

    def predict_click(self, frame: pd.DataFrame) -> np.ndarray:
        """P(click) per row."""
        self._fitted()
        return self.click_.predict(frame)

    def predict_purchase(self, frame: pd.DataFrame) -> np.ndarray:
        """P(purchase | click) per row."""
        self._fitted()
        return self.conversion_.predict(frame)

    def expected_margin(self, frame: pd.DataFrame, margin: str = "margin") -> np.ndarray:
        """``P(click) · P(purchase | click) · margin`` per row (0 for ``none``)."""
        _check_frame(frame, [margin])
        v = self.predict_click(frame) * self.predict_purchase(frame) * frame[margin].to_numpy(dtype=float)
        return np.where(frame["offer_id"].astype(str).to_numpy() == "none", 0.0, v)

    def prior(self, offers: pd.DataFrame, *, margin: str = "margin") -> Callable[[Mapping[str, Any], str], float]:
        """A policy prior: ``(context, offer_id) -> expected margin per impression``.

        ``offers`` has one row per offer: ``offer_id, price, discount`` and ``margin``. Unknown
        offers and ``none`` get 0.
        """
        self._fitted()
        _check_frame(offers, ["offer_id", "price", "discount", margin])
        table = offers.set_index("offer_id")

        def value(context: Mapping[str, Any], offer_id: str) -> float:
            if offer_id not in table.index or offer_id == "none":
                return 0.0
            row = table.loc[offer_id]
            frame = pd.DataFrame([{"time": float(context.get("time") or 0.0), "offer_id": offer_id,
                                   "placement": context.get("placement"), "segment": context.get("segment"),
                                   "price": float(row["price"]), "discount": float(row["discount"]),
                                   margin: float(row[margin])}])
            return float(self.expected_margin(frame, margin)[0])

        return value


class PerOfferRate:
    """Baseline: each offer's click rate and click-to-purchase rate, smoothed towards the overall rate.

    ``rate = (events + prior_strength · overall) / (trials + prior_strength)``.
    """

    def __init__(self, prior_strength: float = 10.0) -> None:
        self.prior_strength = prior_strength

    def fit(self, frame: pd.DataFrame, clicked: str = "clicked", purchased: str = "purchased") -> PerOfferRate:
        _check_frame(frame, ("offer_id", clicked, purchased))
        f = frame[frame["offer_id"].astype(str) != "none"]
        k = float(self.prior_strength)
        c = f[clicked].astype(float)
        self.click_overall_ = float(c.mean()) if len(f) else 0.0
        g = c.groupby(f["offer_id"]).agg(["sum", "count"])
        self.click_ = ((g["sum"] + k * self.click_overall_) / (g["count"] + k)).to_dict()
        fc = f[f[clicked].astype(bool)]
        b = fc[purchased].astype(float)
        self.purchase_overall_ = float(b.mean()) if len(fc) else 0.0
        g = b.groupby(fc["offer_id"]).agg(["sum", "count"])
        self.purchase_ = ((g["sum"] + k * self.purchase_overall_) / (g["count"] + k)).to_dict()
        return self

    def predict_click(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["offer_id"].map(self.click_).fillna(self.click_overall_).to_numpy(dtype=float)

    def predict_purchase(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["offer_id"].map(self.purchase_).fillna(self.purchase_overall_).to_numpy(dtype=float)

    def expected_margin(self, frame: pd.DataFrame, margin: str = "margin") -> np.ndarray:
        v = self.predict_click(frame) * self.predict_purchase(frame) * frame[margin].to_numpy(dtype=float)
        return np.where(frame["offer_id"].astype(str).to_numpy() == "none", 0.0, v)


def rank_ad_candidates(model: Any, candidates: pd.DataFrame, *, margin: str = "margin", group: str | None = None,
                       k: int | None = None) -> pd.DataFrame:
    """Ad-slot candidates by expected margin per impression, best first (within ``group``, e.g. a request id).

    Adds ``p_click``, ``p_purchase`` (given a click), ``expected_margin`` and ``rank`` (1 = best);
    ``k`` keeps the best ``k`` per group. ``model`` is a fitted :class:`ClickConversionModel` or
    :class:`PerOfferRate`.
    """
    _check_frame(candidates, [margin])
    out = candidates.copy()
    out["p_click"] = model.predict_click(out)
    out["p_purchase"] = model.predict_purchase(out)
    out["expected_margin"] = out["p_click"] * out["p_purchase"] * out[margin].astype(float)
    keys = [group] if group is not None else []
    out = out.sort_values(keys + ["expected_margin"], ascending=[True] * len(keys) + [False], kind="stable")
    out["rank"] = out.groupby(group).cumcount() + 1 if group is not None else np.arange(1, len(out) + 1)
    if k is not None:
        out = out[out["rank"] <= int(k)]
    return out.reset_index(drop=True)


def time_split_scores(frame: pd.DataFrame, models: Mapping[str, Any], test_share: float = 0.2) -> pd.DataFrame:
    """Fit each model on the earliest ``1 - test_share`` of ``frame`` (by ``time``), score the rest:
    AUC and ECE of P(click) on the shown offers and of P(purchase | click) on the clicks."""
    from sklearn.metrics import roc_auc_score

    check_range("test_share", test_share, 0.0, 1.0, low_open=True, high_open=True)
    f = frame[frame["offer_id"].astype(str) != "none"].sort_values("time", kind="stable").reset_index(drop=True)
    cut = int(len(f) * (1 - test_share))
    train, test = f.iloc[:cut], f.iloc[cut:]
    clicks = test[test["clicked"].astype(bool)]
    rows = []
    for name, model in models.items():
        model.fit(train)
        for target, data, y, p in (("click", test, test["clicked"], model.predict_click(test)),
                                   ("purchase | click", clicks, clicks["purchased"], model.predict_purchase(clicks))):
            y = y.to_numpy(dtype=int)
            rows.append({"model": name, "target": target, "n_test": len(data),
                         "auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
                         "ece": expected_calibration_error(y, p)})
    return pd.DataFrame(rows)
