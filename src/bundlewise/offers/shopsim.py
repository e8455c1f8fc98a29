"""A shop simulator for offers, with a hidden purchase model, delayed purchases and a seasonal drift.

It is the yardstick of :mod:`bundlewise.offers`, so it shares **no code** with the policies: it
imports nothing from the policy, reward or OPE modules (a bug there cannot hide here).

Shoppers arrive one every ``arrival_gap_s`` seconds (on average) with a context: a placement
(``product_page``, ``cart``, ``home``, ``email``, ``ad_slot``), a segment (``bargain``, ``regular``,
``premium``), the items in the cart and the time. Each is shown one offer: a bundle at a discount
level, a complement of the cart, or ``none``. A hidden logistic model decides whether they buy the
offered items; the purchase comes ``Exp(mean_delay_s)`` seconds later, so some land after the
reward window. Independently of the offer, a shopper sometimes buys something else (organic
noise). Halfway (``drift_at``), the season changes: the barbecue bundle falls out of favour and
the bath bundle comes in. All randomness is drawn up front from ``random_state``, one uniform per
shopper and purpose ("common random numbers"), so every policy meets the same shoppers with the
same luck and comparisons are paired.

Examples
--------
>>> sim = OfferShopSimulator(n_impressions=1000, random_state=0)
>>> sim.context(0)["placement"] in PLACEMENTS
True
>>> m = sim.expected_margin_matrix()
>>> m.shape == (1000, len(sim.offer_ids_))
True
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError

logger = logging.getLogger(__name__)

PLACEMENTS = ("product_page", "cart", "home", "email", "ad_slot")
SEGMENTS = ("bargain", "regular", "premium")
DISCOUNTS = (0.05, 0.10, 0.20)
# bundle name -> (products, list price, unit cost of the whole bundle)
BUNDLES = {
    "breakfast": (("coffee", "croissant", "jam"), 12.0, 6.5),
    "bbq": (("charcoal", "sausages", "sauce"), 30.0, 18.0),
    "bath": (("soap", "towel", "candle"), 20.0, 9.0),
}
COMPLEMENTS = {"comp:batteries": (("batteries",), 8.0, 4.0), "comp:giftwrap": (("giftwrap",), 5.0, 1.5)}
CART_ITEMS = ("shirt", "toy", "lamp", "mug", "book")

_BASE = {"product_page": -1.6, "cart": -1.2, "home": -2.4, "email": -2.8, "ad_slot": -3.0}
# discount sensitivity per segment: logit gain per 10 points of discount
_SENS = {"bargain": 1.4, "regular": 0.6, "premium": 0.1}
_AFFINITY = {  # segment x bundle
    "bargain": {"breakfast": 0.8, "bbq": 0.0, "bath": -0.3},
    "regular": {"breakfast": 0.2, "bbq": 0.5, "bath": 0.1},
    "premium": {"breakfast": -0.4, "bbq": 0.4, "bath": 0.9},
}
_PLACEMENT_FIT = {  # placement x bundle
    "product_page": {"breakfast": 0.4, "bbq": 0.0, "bath": 0.0},
    "cart": {"breakfast": 0.6, "bbq": -0.4, "bath": 0.0},
    "home": {"breakfast": -0.2, "bbq": 0.7, "bath": 0.2},
    "email": {"breakfast": -0.3, "bbq": 0.6, "bath": 0.6},
    "ad_slot": {"breakfast": 0.0, "bbq": 0.3, "bath": 0.3},
}
# the season change: bundle -> logit shift before / after the drift point
_SEASON = {"breakfast": (0.0, 0.0), "bbq": (0.6, -1.6), "bath": (-0.8, 0.9)}


# the click stage: logit(P(click)) = logit(P(buy)) + gain, so every buyer clicked and P(buy | click) = P(buy) / P(click)
_CLICK_GAIN = {"product_page": 1.0, "cart": 0.5, "home": 1.6, "email": 1.3, "ad_slot": 2.2}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class OfferShopSimulator:
    """Shoppers, offers and a hidden model of who buys what and when.

    Parameters
    ----------
    n_impressions : int
        Number of shoppers (one impression each).
    drift_at : float
        Share of the horizon after which the season changes (0.5 = halfway); 1.0 = no drift.
    mean_delay_s : float
        Mean delay from the impression to the purchase (exponential).
    arrival_gap_s : float
        Mean gap between shoppers (exponential).
    new_offer_at : float or None
        If set, the offer ``bundle:bath@15`` exists only after this share of the horizon (tests
        that a new offer gets explored). ``None``: the catalogue is fixed.
    random_state : int
        Seed of everything.

    Attributes
    ----------
    offers_ : pandas.DataFrame
        ``offer_id, kind, bundle, discount, list_price, unit_cost, products``.
    offer_ids_ : list of str
        The offer ids, the column order of the matrices below.
    shoppers_ : pandas.DataFrame
        ``shopper_id, time, placement, segment, cart_size, cart_items, phase``.
    """

    def __init__(self, n_impressions: int = 50_000, drift_at: float = 0.5, mean_delay_s: float = 150.0,
                 arrival_gap_s: float = 2.0, new_offer_at: float | None = None, random_state: int = 0) -> None:
        if n_impressions < 1:
            raise ConfigError(f"n_impressions must be >= 1; got {n_impressions}")
        if not 0.0 <= drift_at <= 1.0:
            raise ConfigError(f"drift_at must be in [0, 1]; got {drift_at}")
        self.n_impressions, self.drift_at, self.mean_delay_s = n_impressions, drift_at, mean_delay_s
        self.arrival_gap_s, self.new_offer_at, self.random_state = arrival_gap_s, new_offer_at, random_state
        self._build()

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        rows = [{"offer_id": "none", "kind": "none", "bundle": "", "discount": 0.0, "list_price": 0.0,
                 "unit_cost": 0.0, "products": ()}]
        for name, (products, price, cost) in BUNDLES.items():
            for d in DISCOUNTS:
                rows.append({"offer_id": f"bundle:{name}@{round(d * 100)}", "kind": "bundle", "bundle": name,
                             "discount": d, "list_price": price, "unit_cost": cost, "products": products})
        for cid, (products, price, cost) in COMPLEMENTS.items():
            rows.append({"offer_id": cid, "kind": "complement", "bundle": "", "discount": 0.0, "list_price": price,
                         "unit_cost": cost, "products": products})
        if self.new_offer_at is not None:
            products, price, cost = BUNDLES["bath"]
            rows.append({"offer_id": "bundle:bath@15", "kind": "bundle", "bundle": "bath", "discount": 0.15,
                         "list_price": price, "unit_cost": cost, "products": products})
        self.offers_ = pd.DataFrame(rows)
        self.offer_ids_ = self.offers_["offer_id"].tolist()
        self._offer_pos = {o: k for k, o in enumerate(self.offer_ids_)}

        rng = np.random.default_rng(self.random_state)
        n = self.n_impressions
        time = np.cumsum(rng.exponential(self.arrival_gap_s, n))
        placement = rng.choice(len(PLACEMENTS), n, p=[0.3, 0.2, 0.25, 0.1, 0.15])
        segment = rng.choice(len(SEGMENTS), n, p=[0.35, 0.4, 0.25])
        cart_size = np.where(placement == 1, 1 + rng.poisson(1.5, n), rng.poisson(0.4, n))
        cart_items = [tuple(rng.choice(CART_ITEMS, min(c, len(CART_ITEMS)), replace=False)) for c in cart_size]
        phase = (np.arange(n) >= int(self.drift_at * n)).astype(int)
        self.shoppers_ = pd.DataFrame({"shopper_id": np.arange(n), "time": time,
                                       "placement": np.array(PLACEMENTS)[placement],
                                       "segment": np.array(SEGMENTS)[segment], "cart_size": cart_size,
                                       "cart_items": cart_items, "phase": phase})
        # the common random numbers: one per shopper and purpose
        self._u_buy = rng.random(n)
        self._delay = rng.exponential(self.mean_delay_s, n)
        self._organic = rng.random(n) < 0.06
        self._organic_margin = rng.gamma(2.0, 2.5, n)
        self._organic_delay = rng.exponential(self.mean_delay_s, n)
        self._p_buy = self._purchase_probabilities(placement, segment, cart_size, phase)
        self._eligible = self._eligibility(cart_size)
        self._time = time
        self._offer_rows = list(self.offers_.itertuples(index=False))  # respond() is called per impression
        logger.debug("simulated %d shoppers, %d offers", n, len(self.offer_ids_))

    def _purchase_probabilities(self, placement, segment, cart_size, phase) -> np.ndarray:
        n, offers = len(placement), self.offers_
        base = np.array([_BASE[p] for p in PLACEMENTS])[placement]
        p = np.zeros((n, len(offers)))
        for k, row in enumerate(offers.itertuples(index=False)):
            if row.kind == "none":  # the shopper may buy the breakfast bundle anyway, at full price
                p[:, k] = _sigmoid(base - 2.2)
            elif row.kind == "bundle":
                aff = np.array([_AFFINITY[s][row.bundle] for s in SEGMENTS])[segment]
                fit = np.array([_PLACEMENT_FIT[pl][row.bundle] for pl in PLACEMENTS])[placement]
                season = np.array(_SEASON[row.bundle])[phase]
                sens = np.array([_SENS[s] for s in SEGMENTS])[segment]
                p[:, k] = _sigmoid(base + aff + fit + season + sens * row.discount * 10.0)
            else:  # complements sell on the cart page, to shoppers with items in it
                boost = np.where(placement == 1, 1.9, 0.0) + 0.35 * np.minimum(cart_size, 4)
                p[:, k] = _sigmoid(base - 0.4 + boost + (0.3 if row.offer_id == "comp:giftwrap" else 0.0))
        return p

    def _eligibility(self, cart_size: np.ndarray) -> np.ndarray:
        n = len(cart_size)
        ok = np.ones((n, len(self.offer_ids_)), dtype=bool)
        kinds = self.offers_["kind"].to_numpy()
        ok[:, kinds == "complement"] = (cart_size > 0)[:, None]
        if self.new_offer_at is not None:
            ok[: int(self.new_offer_at * n), self._offer_pos["bundle:bath@15"]] = False
        return ok

    # ------------------------------------------------------------------ per shopper
    def context(self, i: int) -> dict:
        """The context of shopper ``i``: what a policy may see (not the phase)."""
        s = self.shoppers_
        return {"shopper_id": int(i), "time": float(s["time"].iat[i]), "placement": s["placement"].iat[i],
                "segment": s["segment"].iat[i], "cart_items": s["cart_items"].iat[i]}

    def contexts(self) -> list[dict]:
        """All contexts, in arrival order (faster than calling :meth:`context` in a loop)."""
        s = self.shoppers_
        return [{"shopper_id": int(i), "time": float(t), "placement": p, "segment": g, "cart_items": c}
                for i, t, p, g, c in zip(s["shopper_id"], s["time"], s["placement"], s["segment"],
                                         s["cart_items"], strict=True)]

    def eligible(self, i: int) -> list[str]:
        """The offers that may be shown to shopper ``i``."""
        return [o for o, ok in zip(self.offer_ids_, self._eligible[i], strict=True) if ok]

    def eligible_matrix(self) -> np.ndarray:
        """``(n_impressions, n_offers)`` booleans: which offer may be shown to whom."""
        return self._eligible.copy()

    def _margin_if_bought(self) -> np.ndarray:
        o = self.offers_
        m = (o["list_price"] * (1.0 - o["discount"]) - o["unit_cost"]).to_numpy()
        _, price, cost = BUNDLES["breakfast"]
        return np.where(o["kind"].to_numpy() == "none", price - cost, m)  # "none": breakfast at full price

    def expected_margin_matrix(self, window_s: float = 600.0) -> np.ndarray:
        """The hidden truth: expected attributed margin of each offer for each shopper.

        Margin of the offered items times the probability of buying them *within the window*, plus
        the organic purchase's expected margin (the same for every offer). Ineligible offers: NaN.
        """
        in_window = 1.0 - np.exp(-window_s / self.mean_delay_s)
        m = self._p_buy * self._margin_if_bought()[None, :] * in_window
        m += 0.06 * 5.0 * in_window  # organic: P(buy) x mean gamma(2, 2.5)
        return np.where(self._eligible, m, np.nan)

    def respond(self, i: int, offer_id: str) -> list[dict]:
        """The purchase events that follow showing ``offer_id`` to shopper ``i`` (possibly none).

        Each event: ``shopper_id, time, product_id, price_paid, unit_cost, discount`` where
        ``price_paid`` is the shelf price of the line and ``discount`` the amount the offer took off
        (so the margin of a line is ``price_paid - unit_cost - discount``).
        """
        k = self._offer_pos[offer_id]
        if not self._eligible[i, k]:
            raise ConfigError(f"offer {offer_id!r} is not eligible for shopper {i}; ask eligible({i})")
        t0 = float(self._time[i])
        events = []
        if self._u_buy[i] < self._p_buy[i, k]:
            row = self._offer_rows[k]
            if row.kind == "none":
                products, price, cost = BUNDLES["breakfast"]
                disc = 0.0
            else:
                products, price, cost, disc = row.products, row.list_price, row.unit_cost, row.discount
            share = 1.0 / len(products)  # the bundle's price and cost are split evenly over its lines
            for pid in products:
                events.append({"shopper_id": i, "time": t0 + self._delay[i], "product_id": pid,
                               "price_paid": price * share, "unit_cost": cost * share,
                               "discount": price * share * disc})
        if self._organic[i]:
            m = float(self._organic_margin[i])
            events.append({"shopper_id": i, "time": t0 + self._organic_delay[i], "product_id": "organic",
                           "price_paid": 2.0 * m, "unit_cost": m, "discount": 0.0})
        return events

    def click_probabilities(self) -> np.ndarray:
        """The hidden click model: ``(n_impressions, n_offers)`` P(click); 0 for ``none`` (nothing shown).

        ``logit P(click) = logit P(buy) + gain(placement)`` with the same uniform deciding both
        (``clicked = u < P(click)``, ``bought = u < P(buy)``): every buyer of an offer clicked it,
        and ``P(buy | click) = P(buy) / P(click)``. Drawing adds no randomness: every result
        elsewhere in the simulator is unchanged.
        """
        gain = np.array([_CLICK_GAIN[p] for p in PLACEMENTS])[
            pd.Categorical(self.shoppers_["placement"], categories=PLACEMENTS).codes]
        pb = np.clip(self._p_buy, 1e-12, 1 - 1e-12)
        pc = _sigmoid(np.log(pb / (1 - pb)) + gain[:, None])
        pc[:, self.offers_["kind"].to_numpy() == "none"] = 0.0
        return pc

    def impressions(self, offer_index: np.ndarray) -> pd.DataFrame:
        """One row per shopper shown ``offer_index[i]``: context, offer attributes, ``clicked``, ``purchased``.

        Also the hidden ``p_click``, ``p_purchase`` (P(buy | click)) and ``margin`` (of the offered
        items if bought), for evaluating models against the truth.
        """
        idx = np.asarray(offer_index)
        rows = np.arange(self.n_impressions)
        if not self._eligible[rows, idx].all():
            raise ConfigError("impressions got an ineligible offer; mask with eligible_matrix() first")
        pc = self.click_probabilities()[rows, idx]
        pb = self._p_buy[rows, idx]
        o = self.offers_.iloc[idx].reset_index(drop=True)
        s = self.shoppers_
        return pd.DataFrame({"shopper_id": s["shopper_id"], "time": s["time"], "placement": s["placement"],
                             "segment": s["segment"], "cart_size": s["cart_size"], "offer_id": o["offer_id"],
                             "offer_kind": o["kind"], "price": o["list_price"] * (1.0 - o["discount"]),
                             "discount": o["discount"], "margin": self._margin_if_bought()[idx],
                             "clicked": self._u_buy < pc, "purchased": self._u_buy < pb, "p_click": pc,
                             "p_purchase": np.divide(pb, pc, out=np.zeros_like(pb), where=pc > 0)})

    def realised_margin(self, offer_index: np.ndarray, window_s: float = 600.0) -> np.ndarray:
        """Attributed margin per impression when shopper ``i`` is shown offer ``offer_index[i]`` (vectorised)."""
        idx = np.asarray(offer_index)
        rows = np.arange(self.n_impressions)
        if not self._eligible[rows, idx].all():
            raise ConfigError("realised_margin got an ineligible offer; mask with eligible_matrix() first")
        bought = self._u_buy < self._p_buy[rows, idx]
        m = self._margin_if_bought()[idx] * bought * (self._delay <= window_s)
        return m + self._organic * self._organic_margin * (self._organic_delay <= window_s)
