"""A calibrated reservation-price model of bundle demand (mixed bundling, per 1,000 shoppers).

The model of one shopper visit, for the products ``1..k`` of a candidate bundle:

1. **Market membership** (the hurdle): the shopper is in the market for product ``i`` with
   probability ``m_i``; memberships are correlated through a latent normal so that
   ``P(in both i and j) = m_ij`` — a *shared need* (a camping trip needs tent and pegs).
2. **Reservation prices** of in-market shoppers are log-normal,
   ``v_i = p_i * exp(sigma_i * (z_i - x0_i))`` with ``z`` standard normal, correlated through a
   Gaussian copula with correlation ``rho_ij`` (*correlated valuations*). Out of the market, ``v_i = 0``.
3. **Choice**: the best surplus among nothing, any subset bought separately at the regular
   prices, and the bundle of all ``k`` at the bundle price (ties go to the separate purchase).

Calibration (``fit``), per product: the purchase rate ``r_i`` = share of baskets holding it, at
the calibration price ``p_i`` (the basket-weighted geometric mean of the observed prices, or
the catalogue price); the own-price elasticity ``e_i`` (from the elasticities table, e.g.
:func:`bundlewise.bundles.elasticity.estimate_elasticities`; missing → the documented prior
``prior_elasticity``). With ``q`` the in-market conversion at ``p_i`` (prior ``conversion``), the
model matches both: ``m_i = r_i / q``, ``x0_i = Phi^-1(1 - q)``, ``sigma_i = mills(x0_i) / |e_i|``.

Per pair, co-purchase above independence is split between shared need and correlated
valuations — the known trap is to read all of it as correlation, which predicts little
bundle value and under-discounts. The two are told apart by price variation: under a shared
need ``P(B | A bought)`` does not move when A's price moves; under correlated valuations a
cut on A brings in low-valuation A buyers and ``P(B | A)`` falls. ``rho_ij`` maximises that
per-period pseudo-likelihood (both directions, half weight each; the level of ``P(B | A)`` is
profiled out, only its movement with prices counts) plus a normal prior
``N(0, rho_prior_sd^2)``, on a grid; for each ``rho`` the joint membership ``m_ij`` matches the
joint purchase rate exactly. Without price variation the likelihood is flat and the prior
attributes the excess to shared need, unless the co-purchase is too strong for membership
alone (``m_ij <= min(m_i, m_j)``), which forces correlation. Values are additive, so the model
has no substitutes; a pair whose purchase rates rise with each other's price (a positive
cross-price elasticity, per-period regression) is flagged by :meth:`substitutes`, and
:func:`~bundlewise.bundles.pricing.price_bundles` does not bundle it.

**Shoppers who buy nothing never appear in orders.** The market is the observed baskets (one
basket = one shopper visit) and every rate is per basket; the model predicts how the shoppers
who came would choose, not extra visits a bundle might attract (conservative for uplift).
Profit is therefore per 1,000 observed baskets.

Simulation: only shoppers in the market for at least one of the products are drawn (the others
buy nothing either way), then weighted by their share, so rare products are as precise as common
ones; the same draws serve every bundle price (common random numbers).

Uncertainty: a parametric bootstrap of the calibration inputs (multinomial basket counts of
every purchase pattern, normal elasticity draws with their standard error, ``rho`` from its
grid posterior), each replicate scored on ``n_boot_draws`` shoppers; the percentile interval is
re-centred on the full-draw estimate so the smaller samples' Monte Carlo error does not shift it.

Examples
--------
>>> import pandas as pd
>>> from bundlewise.mining import Baskets
>>> baskets = Baskets.from_lists([["a", "b"], ["a"], ["b"], ["c"]] * 50)
>>> catalog = pd.DataFrame({"product_id": ["a", "b", "c"], "price": [10.0, 20.0, 5.0],
...                         "cost": [6.0, 12.0, 3.0]})
>>> model = BundleDemandModel(n_draws=4000, n_boot=20).fit(baskets, catalog)
>>> curve = model.profit_curve(("a", "b"), [0.0, 0.1, 0.2])
>>> curve.columns.tolist()
['discount', 'profit', 'low', 'high']
>>> float(curve["profit"].iloc[0])
0.0
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtri

from bundlewise.bundles import _valuation as val
from bundlewise.bundles._pairs import (
    RESPONSE_MODES,
    RHO_GRID,
    pair_posterior,
    pair_summary,
    pool_responses,
    response_mean,
    response_mode,
    response_sd,
    response_weights,
)
from bundlewise.bundles._panel import basket_periods, n_weeks
from bundlewise.bundles.elasticity import PRIOR_ELASTICITY, PRIOR_ELASTICITY_SD, elasticities_for
from bundlewise.bundles.margins import lerner_prior
from bundlewise.errors import ConfigError, DataValidationError, NotFittedError, UnknownProductError, allowed
from bundlewise.mining import Baskets

log = logging.getLogger(__name__)

DEFAULT_ASSUMED_MARGIN_RATE = 0.3
ATTRIBUTIONS = ("auto", "need", "valuation")


class BundleDemandModel:
    """Reservation-price demand for bundles of 2 or 3 products, calibrated from baskets.

    Parameters
    ----------
    n_draws : int
        Simulated shoppers for the expected profit (common random numbers across prices).
    n_boot : int
        Bootstrap replicates of the calibration inputs for the interval (0: no interval).
    random_state : int
        Seed; the draws of a product set depend only on it and the products.
    conversion : float
        Prior share of in-market shoppers who buy at the observed price (``q``, in (0, 1)).
    prior_elasticity, prior_elasticity_sd : float
        Own-price elasticity of products absent from the elasticities table, and its spread.
        Default :data:`~bundlewise.bundles.elasticity.PRIOR_ELASTICITY` ± ``PRIOR_ELASTICITY_SD``
        (-2.5 ± 1.0: the meta-analytic mean of Bijmolt, van Heerde & Pieters (2005), -2.62, and the
        -2 to -3 of the Dominick's orange-juice panel). It matters: a discount pays only where the
        margin rate is above about ``1 / |elasticity|`` (the inverse-elasticity rule), so with an
        assumed 30 % margin a prior of -1.5 would rule out nearly every bundle.
    rho_prior_sd : float
        Spread of the normal prior on valuation correlations (centred on 0: shared need first).
    n_boot_draws : int
        Shoppers per bootstrap replicate.
    interval : float
        Coverage of the ``low``/``high`` interval.
    attribution : {"auto", "need", "valuation"}
        How co-purchase above independence is explained: ``auto`` (price variation + prior, the
        default), ``need`` (shared need only, ``rho = 0`` unless infeasible) or ``valuation``
        (correlated valuations only, independent memberships: the known trap, for comparisons).
    max_price_gap : float, optional
        A catalogue price more than this factor away from the mean price paid is replaced by the
        price paid as the regular price (``params_["price_source"] == "observed"``; logged).
        None: always the catalogue price.
    elasticity_input : {"arc", "point"}
        ``arc`` (default): the table holds log-log slopes over the observed (promotion) prices, each
        turned into the point elasticity of the demand curve with that slope
        (:func:`~bundlewise.bundles._valuation.point_from_arc`; used as is, the model under-discounts:
        ``bench/bench_bundles.py``). ``point``: the values are point elasticities, used as is.
    calibrate_response : {"pooled", "pair", "off"}
        Scale what a bundle changes for shoppers not already buying every product by how the data's
        attach rates answered cuts on the partner's price (:meth:`response`), per direction; those
        who already buy everything keep the whole discount. ``"pooled"`` (default, needs
        ``pair_stats``) shrinks each pair toward what pairs of its attach level showed
        (:func:`~bundlewise.bundles._pairs.pool_responses`), ``"pair"`` toward 1 (True means it).
    lerner_prior : bool
        Where the catalogue has costs, pull each elasticity toward the one its margin implies at a
        near-optimal regular price (:func:`~bundlewise.bundles.margins.lerner_prior`; default True).

    Attributes
    ----------
    item_ids_ : array of str
        Products of the baskets (sorted).
    n_baskets_ : int
        Shopper visits the rates are per.
    params_ : DataFrame
        Per product: ``price`` (regular), ``price_source`` (catalog or observed), ``calib_price``,
        ``rate``, ``elasticity`` (the point value at ``calib_price`` the model uses), ``elasticity_se``,
        ``elasticity_source``, ``elasticity_arc`` (as given, after clipping), ``elasticity_regular``
        (the model's point elasticity at the regular price), ``conversion``, ``market_share`` (m),
        ``x0``, ``sigma``, ``cost``.
    n_periods_ : int
        Price periods seen (1 without a ``prices`` panel).
    """

    def __init__(self, n_draws: int = 20000, n_boot: int = 200, random_state: int = 0, *, conversion: float = 0.5,
                 prior_elasticity: float = PRIOR_ELASTICITY,
                 prior_elasticity_sd: float = PRIOR_ELASTICITY_SD, rho_prior_sd: float = 0.3,
                 n_boot_draws: int = 4000, interval: float = 0.9, attribution: str = "auto",
                 max_price_gap: float | None = 1.5, elasticity_input: str = "arc",
                 calibrate_response: bool | str = "pooled", lerner_prior: bool = True):
        self.n_draws = n_draws
        self.n_boot = n_boot
        self.random_state = random_state
        self.conversion = conversion
        self.prior_elasticity = prior_elasticity
        self.prior_elasticity_sd = prior_elasticity_sd
        self.rho_prior_sd = rho_prior_sd
        self.n_boot_draws = n_boot_draws
        self.interval = interval
        self.attribution = attribution
        self.max_price_gap = max_price_gap
        self.elasticity_input = elasticity_input
        self.calibrate_response = calibrate_response
        self.lerner_prior = lerner_prior

    # -- fitting -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        checks = [("n_draws", self.n_draws >= 100, ">= 100"), ("n_boot", self.n_boot >= 0, ">= 0"),
                  ("conversion", 0 < self.conversion < 1, "in (0, 1)"),
                  ("prior_elasticity", self.prior_elasticity < 0, "< 0"),
                  ("prior_elasticity_sd", self.prior_elasticity_sd >= 0, ">= 0"),
                  ("rho_prior_sd", self.rho_prior_sd > 0, "> 0"), ("n_boot_draws", self.n_boot_draws >= 100, ">= 100"),
                  ("interval", 0 < self.interval < 1, "in (0, 1)"),
                  ("max_price_gap", self.max_price_gap is None or self.max_price_gap > 1, "> 1 or None"),
                  ("elasticity_input", self.elasticity_input in ("arc", "point"), "'arc' or 'point'"),
                  ("calibrate_response", self.calibrate_response in (True, False, *RESPONSE_MODES),
                   f"one of {allowed(RESPONSE_MODES)} (True: 'pair', False: 'off')")]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} is {getattr(self, name)!r}; it must be {rule}")
        if self.attribution not in ATTRIBUTIONS:
            raise ConfigError(f"attribution is {self.attribution!r}; allowed values are {allowed(ATTRIBUTIONS)}")

    def fit(self, baskets: Baskets, catalog: pd.DataFrame, elasticities: pd.DataFrame | None = None,
            pair_stats: pd.DataFrame | None = None, *, prices: pd.DataFrame | None = None) -> BundleDemandModel:
        """Calibrate every product of ``baskets``.

        Parameters
        ----------
        baskets : Baskets
            One basket per shopper visit (``timestamps`` needed to use ``prices``).
        catalog : DataFrame
            ``product_id, price`` (the regular price), optionally ``cost`` (see
            :func:`bundlewise.ingest.load_catalog`).
        elasticities : DataFrame, optional
            ``product_id, elasticity`` and optionally ``se`` (the format of
            :func:`~bundlewise.bundles.elasticity.estimate_elasticities`). None: the prior for all.
        pair_stats : DataFrame, optional
            ``CoPurchaseStats.pair_stats()`` of the same baskets; only cross-checked (joint counts
            are recounted from ``baskets``, per period) — a mismatch is logged.
        prices : DataFrame, optional
            Observed prices per period: ``product_id, period, price`` with ``period`` the start
            timestamp of the period (e.g. ``price_panel_from_warehouse``). A basket belongs to the
            latest period starting at or before it. Identifies shared need vs correlated valuations.

        Returns
        -------
        BundleDemandModel
            ``self``.
        """
        self._check_params()
        if not isinstance(baskets, Baskets) or baskets.n_baskets == 0:
            raise DataValidationError("baskets are empty; the demand model needs the observed shopper visits")
        missing = [c for c in ("product_id", "price") if c not in catalog.columns]
        if missing:
            raise DataValidationError(f"the catalog lacks column(s) {allowed(missing)}; pass "
                                      "bundlewise.ingest.load_catalog(wh) or a frame with product_id, price[, cost]")
        ids = np.asarray(baskets.item_ids, dtype=object).astype(str)
        n = baskets.n_baskets
        incidence = sp.csr_matrix((np.ones(baskets.nnz, dtype=np.int8), baskets.indices, baskets.indptr),
                                  shape=(n, len(ids))).tocsc()
        counts = baskets.item_counts()
        period, priced, period_prices = basket_periods(baskets, ids, prices)
        cat = catalog.assign(product_id=catalog["product_id"].astype(str)).drop_duplicates("product_id")
        cat = cat.set_index("product_id").reindex(ids)
        regular = pd.to_numeric(cat["price"], errors="coerce").to_numpy(float)
        cost = (pd.to_numeric(cat["cost"], errors="coerce").to_numpy(float) if "cost" in cat
                else np.full(len(ids), np.nan))
        n_per = np.bincount(period, minlength=period_prices.shape[0]).astype(float)
        calib = regular.copy()
        if len(priced):  # basket-weighted geometric mean of the prices of the periods with a price
            seen = np.isfinite(period_prices)
            w = n_per[:, None] * seen
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.exp((w * np.log(np.where(seen, period_prices, 1.0))).sum(axis=0) / w.sum(axis=0))
            calib[priced] = np.where(np.isfinite(mean), mean, regular[priced])
        source = np.where(np.isfinite(regular), "catalog", "observed").astype(object)
        regular = np.where(np.isfinite(regular), regular, calib)
        if self.max_price_gap is not None:
            # A catalogue price far from every price paid (list price vs quantity tiers, a stale
            # price) would put the bundle where the calibrated curve is an extrapolation.
            far = np.abs(np.log(regular / calib)) > np.log(self.max_price_gap)
            if far.any():
                log.warning("%d product(s) have a catalog price more than %gx away from the mean price paid; the "
                            "price paid is used as their regular price (e.g. %s: %.2f vs %.2f)", int(far.sum()),
                            self.max_price_gap, ids[far][0], regular[far][0], calib[far][0])
                regular = np.where(far, calib, regular)
                source[far] = "observed"
        el, el_se, el_src = elasticities_for(ids, elasticities, self.prior_elasticity, self.prior_elasticity_sd)
        rate = counts / n
        el_arc = el.copy()
        if len(priced) and self.elasticity_input == "arc":  # a log-log slope over promotions: to the point value
            seen = np.isfinite(period_prices) & (n_per[:, None] > 0) & (el_src[priced] != "prior")[None, :]
            lr = np.log(np.where(seen, period_prices, 1.0) / calib[priced][None, :])
            el[priced] = val.point_from_arc(el[priced], lr, seen, rate[priced], self.conversion)
            el_se[priced] *= el[priced] / el_arc[priced]
        m, x0, sigma = val.marginal_from_rate(rate, el, self.conversion)
        if self.lerner_prior and np.isfinite(cost).any():  # known margins say where elasticities should be
            e_reg = -val.mills(x0 + np.log(regular / calib) / sigma) / sigma
            new, new_se, self.lerner_ = lerner_prior(e_reg, el_se * e_reg / el, regular, cost,
                                                      np.isin(el_src, ("own", "given")))
            el, el_se = np.minimum(el * new / e_reg, -val.MIN_ABS_ELASTICITY), new_se * el / e_reg
            m, x0, sigma = val.marginal_from_rate(rate, el, self.conversion)
        self.item_ids_ = ids
        self.n_baskets_ = n
        self.n_periods_ = period_prices.shape[0]
        self.params_ = pd.DataFrame({"product_id": ids, "price": regular, "price_source": source,
                                     "calib_price": calib, "rate": rate,
                                     "elasticity": el, "elasticity_se": el_se, "elasticity_source": el_src,
                                     "elasticity_arc": el_arc,
                                     "elasticity_regular": -val.mills(x0 + np.log(regular / calib) / sigma) / sigma,
                                     "conversion": np.full(len(ids), float(self.conversion)),
                                     "market_share": m, "x0": x0, "sigma": sigma, "cost": cost})
        self._incidence = incidence
        self._period = period
        self._price_col = np.full(len(ids), -1, dtype=np.int64)
        self._price_col[priced] = np.arange(len(priced))
        self._period_prices = np.where(np.isnan(period_prices), calib[priced][None, :], period_prices)
        self._weeks = n_weeks(baskets)
        self._pairs: dict[tuple[int, int], dict[str, Any]] = {}
        if pair_stats is not None and len(pair_stats):
            self._check_pair_stats(pair_stats)
            if response_mode(self) == "pooled" and (prior := pool_responses(self, pair_stats)) is not None:
                log.info("attach-rate response pooled over %d directions: %.2f %+.2f x attach level (sd %.2f)",
                         prior["n_directions"], prior["intercept"], prior["slope"], prior["sd"])
        log.info("demand model: %d products over %d baskets, %d price period(s)", len(ids), n, self.n_periods_)
        return self

    def _prices_over_periods(self, code: int) -> np.ndarray:
        """The price of a product in every period (its calibration price where none was observed)."""
        col = self._price_col[code]
        if col >= 0:
            return self._period_prices[:, col]
        return np.full(self.n_periods_, self.params_["calib_price"].iat[code])

    def _check_pair_stats(self, pair_stats: pd.DataFrame) -> None:
        row = pair_stats.iloc[0]
        a, b = str(row["item_a"]), str(row["item_b"])
        if a in set(self.item_ids_) and b in set(self.item_ids_):
            n_ab = int(self._patterns(self._codes((a, b)))[0][3])
            if n_ab != int(row["n_ab"]):
                # legitimate with a basket-size cap or time decay in the statistics; worth a note only
                log.info("pair_stats n_ab of %s+%s is %d but the baskets give %d: built from other baskets",
                            a, b, int(row["n_ab"]), n_ab)

    # -- calibration of a product set ---------------------------------------------------------------
    def _require_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError("this BundleDemandModel is not fitted yet; call fit() first")

    def _codes(self, products: Sequence[str]) -> np.ndarray:
        self._require_fitted()
        products = [str(p) for p in products]
        if not 2 <= len(products) <= 3 or len(set(products)) != len(products):
            raise ConfigError(f"a bundle is 2 or 3 distinct products; got {products!r}")
        idx = np.searchsorted(self.item_ids_, products)
        idx = np.minimum(idx, len(self.item_ids_) - 1)
        bad = [p for p, i in zip(products, idx, strict=True) if self.item_ids_[i] != p]
        if bad:
            raise UnknownProductError(f"product(s) {allowed(bad)} never appear in the fitted baskets; the demand "
                                      "model can only price products with purchases")
        return idx

    def _patterns(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Baskets per purchase pattern (bit i = product i bought): overall, and per period."""
        k = len(codes)
        pattern = np.zeros(self.n_baskets_, dtype=np.int64)
        for bit, c in enumerate(codes):
            col = self._incidence[:, int(c)]
            pattern[col.indices] += 1 << bit
        per = np.bincount(self._period * (1 << k) + pattern, minlength=self.n_periods_ << k)
        per = per.reshape(self.n_periods_, 1 << k)
        return per.sum(axis=0), per

    def _pair(self, i: int, j: int) -> dict[str, Any]:
        """Valuation correlation posterior of products ``i < j`` (:func:`~bundlewise.bundles._pairs.pair_posterior`)."""
        return pair_posterior(self, i, j)

    def pair_parameters(self, a: str, b: str) -> dict[str, float]:
        """Calibrated parameters of a pair: membership and valuation correlation, and the share of the
        excess co-purchase explained by shared need.

        Returns
        -------
        dict
            ``rate_a, rate_b, rate_ab, m_a, m_b, m_ab, rho, rho_sd, shared_need_share``, and
            ``cross_elasticity, cross_se``: the mean cross-price elasticity of the two purchase rates
            (NaN without price variation). The model's values are additive, so its cross-price
            elasticity is 0; clearly positive means substitutes (a cut on A takes sales from B),
            which the model cannot price — see :meth:`substitutes`. ``response`` (the pair's mean) and
            ``response_ab`` / ``response_ba``: how much of the bundle effect on buyers of only ``a`` / only
            ``b`` the attach rates back (:meth:`response`).
        """
        return pair_summary(self, a, b)

    def response(self, products: Sequence[str]) -> float:
        """Share of the model's bundle effect on shoppers not already buying everything that the data back.

        Per pair, :func:`~bundlewise.bundles._valuation.conditional_response`: how the attach rates
        moved when the partner's price was cut, against how the model says they should have (1
        without price variation or with ``calibrate_response=False``); a triple takes the mean of its
        pairs. On independent markets (``bench.markets.diagnose``) pairs already bought together by
        half their buyers showed slopes of -0.4 to +0.05 where the model expected -1.0 to -1.3,
        and unrelated pairs agreed (-3.3 vs -3.8).
        """
        return response_mean(self, self._codes(products))

    def substitutes(self, products: Sequence[str], z: float = 2.5) -> tuple[str, str, float] | None:
        """The first pair of ``products`` whose purchase rates move together with the other's price
        (cross-price elasticity ``> z`` standard errors above 0): substitutes, outside the model's
        family of additive values, so a bundle discount would be mispriced. None if no such pair.
        """
        codes = self._codes(products)
        for a in range(len(codes)):
            for b in range(a + 1, len(codes)):
                pair = self._pair(int(codes[a]), int(codes[b]))
                cross, se = pair["cross_elasticity"], pair["cross_se"]
                if np.isfinite(cross) and cross > z * se:
                    return str(self.item_ids_[codes[a]]), str(self.item_ids_[codes[b]]), float(cross)
        return None

    def _set_params(self, codes: np.ndarray, rng: np.random.Generator | None, n_rep: int = 1
                    ) -> list[dict[str, np.ndarray]]:
        """Membership / valuation parameters of a product set: the point estimate (``rng`` None), or
        ``n_rep`` bootstrap replicates (vectorised over replicates)."""
        k = len(codes)
        P = self.params_
        counts = np.tile(self._patterns(codes)[0], (n_rep, 1))
        el = np.tile(P["elasticity"].to_numpy()[codes], (n_rep, 1))
        if rng is not None:
            counts = rng.multinomial(self.n_baskets_, counts[0] / counts[0].sum(), size=n_rep)
            el = np.minimum(el + rng.standard_normal((n_rep, k)) * P["elasticity_se"].to_numpy()[codes],
                            -val.MIN_ABS_ELASTICITY)
        bits = (np.arange(1 << k)[:, None] >> np.arange(k)[None, :]) & 1
        rate = counts @ bits / self.n_baskets_  # (R, k)
        m, x0, sigma = val.marginal_from_rate(rate, el, P["conversion"].to_numpy()[codes])
        rho = np.tile(np.eye(k), (n_rep, 1, 1))
        member = rho.copy()
        joint = np.zeros((n_rep, k, k))
        for a in range(k):
            for b in range(a + 1, k):
                pair = self._pair(int(codes[a]), int(codes[b]))
                r = np.full(n_rep, pair["rho"]) if rng is None else rng.choice(RHO_GRID, size=n_rep,
                                                                                p=pair["posterior"])
                r_ab = counts @ (bits[:, a] & bits[:, b]) / self.n_baskets_
                m_ab = r_ab / np.maximum(val.bvn_upper(x0[:, a], x0[:, b], r), 1e-12)
                m_ab = np.clip(m_ab, np.maximum(0.0, m[:, a] + m[:, b] - 1), np.minimum(m[:, a], m[:, b]))
                rho[:, a, b] = rho[:, b, a] = r
                joint[:, a, b] = joint[:, b, a] = m_ab
                member[:, a, b] = member[:, b, a] = val.bvn_latent_corr(m[:, a], m[:, b], m_ab)
        return [{"m": m[i], "x0": x0[i], "sigma": sigma[i], "rho": val.nearest_correlation(rho[i]),
                 "member": val.nearest_correlation(member[i]), "m_joint": joint[i]} for i in range(n_rep)]

    def _rng(self, products: Sequence[str], stream: int) -> np.random.Generator:
        key = zlib.crc32("+".join(products).encode())
        return np.random.default_rng(np.random.SeedSequence([self.random_state, key, stream]))

    def _sample(self, codes: np.ndarray, par: dict[str, np.ndarray], n: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, float]:
        """Valuations of ``n`` shoppers in the market for at least one product, and the share of all
        shoppers they stand for. Shoppers in no market buy nothing with or without the bundle, so
        sampling only the others keeps rare products as precise as common ones. Pairs draw their
        membership cell exactly; triples by rejection from the latent normal (at least ``n`` kept on
        average: the share is >= max m)."""
        k = len(codes)
        if k == 2:
            m_a, m_b, m_ab = float(par["m"][0]), float(par["m"][1]), float(par["m_joint"][0, 1])
            cells = np.clip(np.array([m_a - m_ab, m_b - m_ab, m_ab]), 0.0, None)
            share = float(cells.sum())
            cell = rng.choice(3, size=n, p=cells / share)
            inside = np.stack([cell != 1, cell != 0], axis=1)
        else:
            n_total = int(min(np.ceil(n / max(float(par["m"].max()), 1e-9)), 20 * n))
            zm = rng.standard_normal((n_total, k)) @ np.linalg.cholesky(par["member"]).T
            inside = zm > ndtri(1.0 - np.clip(par["m"], 1e-12, 1 - 1e-12))
            keep = inside.any(axis=1)
            inside = inside[keep]
            share = len(inside) / n_total
        z = rng.standard_normal((len(inside), k)) @ np.linalg.cholesky(par["rho"]).T
        calib = self.params_["calib_price"].to_numpy()[codes]
        return np.where(inside, calib * np.exp(par["sigma"] * (z - par["x0"])), 0.0), share

    # -- answers ---------------------------------------------------------------------------------
    def costs(self, products: Sequence[str], assumed_margin_rate: float = DEFAULT_ASSUMED_MARGIN_RATE
              ) -> tuple[np.ndarray, list[str]]:
        """Unit cost of each product (shape (k,)): the catalogue ``cost``, else ``price * (1 - assumed_margin_rate)``;
        and per product ``"cost"`` or ``"assumed"``."""
        codes = self._codes(products)
        cost, price = self.params_["cost"].to_numpy()[codes], self.params_["price"].to_numpy()[codes]
        known = np.isfinite(cost)
        return np.where(known, cost, price * (1 - assumed_margin_rate)), ["cost" if k else "assumed" for k in known]

    def regular_prices(self, products: Sequence[str]) -> np.ndarray:
        """Regular (catalogue) price of each product; raises if one is unknown."""
        codes = self._codes(products)
        prices = self.params_["price"].to_numpy()[codes]
        if not np.isfinite(prices).all() or (prices <= 0).any():
            bad = [p for p, x in zip(products, prices, strict=True) if not (np.isfinite(x) and x > 0)]
            raise DataValidationError(f"product(s) {allowed(bad)} have no positive price in the catalog; "
                                      "ingest a products file with prices")
        return prices

    def evaluate(self, products: Sequence[str], bundle_prices: Sequence[float] | np.ndarray,
                 costs: Sequence[float] | np.ndarray | None = None, *, interval: bool = True) -> pd.DataFrame:
        """Expected outcomes per 1,000 shoppers for each bundle price of a product set.

        Returns
        -------
        DataFrame
            One row per bundle price: ``bundle_price, discount, profit`` (incremental margin vs no
            bundle), ``low, high`` (NaN without interval), ``take_rate`` (share buying the bundle),
            ``attach_rate_without``, ``attach_rate_with`` (share of buyers of the first product who
            end up with all the others), ``units`` (bundles per 1,000 shoppers). ``attrs``:
            ``base_profit`` (margin per 1,000 shoppers without bundle).
        """
        products = tuple(str(p) for p in products)
        codes = self._codes(products)
        prices = self.regular_prices(products)
        cost = self.costs(products)[0] if costs is None else np.asarray(costs, float)
        if cost.shape != prices.shape:
            raise ConfigError(f"costs has {cost.size} value(s) for {len(products)} products; give one per product")
        bp = np.asarray(bundle_prices, float).ravel()
        values, share = self._sample(codes, self._set_params(codes, None)[0], self.n_draws, self._rng(products, 0))
        base, with_b, take, all_b, first = val.mixed_bundle_choice(values, prices, cost, bp,
                                                                   response_weights(self, codes))
        out = pd.DataFrame({"bundle_price": bp, "discount": 1 - bp / prices.sum(),
                            "profit": 1000 * share * (with_b - base), "low": np.nan, "high": np.nan,
                            "take_rate": share * take, "attach_rate_without": all_b[0] / max(first[0], 1e-12),
                            "attach_rate_with": all_b[1:] / np.maximum(first[1:], 1e-12),
                            "units": 1000 * share * take})
        if interval and self.n_boot > 0:
            low, high = self._interval(products, codes, prices, cost, bp, out["profit"].to_numpy())
            out["low"], out["high"] = low, high
        out.attrs["base_profit"] = 1000 * share * float(base)
        return out

    def _interval(self, products: tuple[str, ...], codes: np.ndarray, prices: np.ndarray, cost: np.ndarray,
                  bp: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reps = self._replicates(products, codes, prices, cost, bp)
        alpha = (1 - self.interval) / 2
        lo, mid, hi = np.quantile(reps, [alpha, 0.5, 1 - alpha], axis=0)
        return point + lo - mid, point + hi - mid

    def _replicates(self, products: tuple[str, ...], codes: np.ndarray, prices: np.ndarray, cost: np.ndarray,
                    bp: np.ndarray) -> np.ndarray:
        """Bootstrap profit per 1,000 shoppers, shape (n_boot, len(bp)); the response drawn with its sd too."""
        draws = self._rng(products, 1)
        reps = np.empty((self.n_boot, len(bp)))
        mean, sd = response_weights(self, codes), response_sd(self, codes)
        noise = sd * self._rng(products, 3).standard_normal(self.n_boot)
        for r, par in enumerate(self._set_params(codes, self._rng(products, 2), self.n_boot)):
            values, share = self._sample(codes, par, self.n_boot_draws, draws)
            base, with_b, *_ = val.mixed_bundle_choice(values, prices, cost, bp, np.clip(mean + noise[r], 0, 1))
            reps[r] = 1000 * share * (with_b - base)
        return reps

    def profit_quantile(self, products: Sequence[str], bundle_prices: Sequence[float] | np.ndarray,
                        costs: Sequence[float] | np.ndarray, q: float, point: np.ndarray | None = None
                        ) -> np.ndarray:
        """The ``q`` quantile of the incremental margin per 1,000 shoppers at each bundle price (the
        bootstrap's spread re-centred on the full-draw estimate, as the interval is); ``point``: that
        estimate when the caller already has it (:meth:`evaluate`'s ``profit``)."""
        products = tuple(str(p) for p in products)
        codes = self._codes(products)
        prices = self.regular_prices(products)
        bp = np.asarray(bundle_prices, float).ravel()
        cost = np.asarray(costs, float)
        if point is None:
            point = self.evaluate(products, bp, cost, interval=False)["profit"].to_numpy()
        if self.n_boot <= 0:
            return point
        reps = self._replicates(products, codes, prices, cost, bp)
        lo, mid = np.quantile(reps, [q, 0.5], axis=0)
        return point + lo - mid

    def profit_curve(self, products: Sequence[str], discounts: Sequence[float] | np.ndarray,
                     costs: Sequence[float] | np.ndarray | None = None) -> pd.DataFrame:
        """Expected incremental margin per 1,000 shoppers vs the discount off the sum of regular prices.

        Parameters
        ----------
        products : sequence of str
            2 or 3 product ids.
        discounts : sequence of float
            Discounts in [0, 1) (vectorised: one pass over the simulated shoppers).
        costs : sequence of float, optional
            Unit costs; default :meth:`costs` (catalogue, else the assumed margin rate).

        Returns
        -------
        DataFrame
            ``discount, profit, low, high`` (the interval from the bootstrap; NaN when ``n_boot=0``).
        """
        prices = self.regular_prices(products)
        d = np.asarray(discounts, float).ravel()
        if ((d < 0) | (d >= 1)).any():
            raise ConfigError(f"discounts must be in [0, 1); got {d.min():.3g}..{d.max():.3g}")
        out = self.evaluate(products, (1 - d) * prices.sum(), costs)
        out["discount"] = d
        return out[["discount", "profit", "low", "high"]]

    def weekly_shoppers(self) -> float:
        """Baskets per week of the fitted data (all baskets when there are no timestamps)."""
        self._require_fitted()
        return self.n_baskets_ / self._weeks
