"""Markets with a hidden shopper model, and a year of their orders in the Online Retail layout.

A market is a catalogue cut into *groups*: complements (a shared need: a shopper who has it is likely to
want every member, and values them more together), substitutes (a second member adds little) and single,
unrelated products. Every shopper (a visit) draws a segment, a need per group, an interest per product and a
valuation per interesting product from one of several families (log-normal with a group factor,
logit/Gumbel, a mixture of segments, or a discrete one that can be enumerated exactly). Each week the
shopper buys the subset of products with the largest surplus (value minus price) at that week's prices;
one who buys nothing leaves no trace. The shop's list prices are near, not at, the single-product profit
optimum; promotions cut single products or whole groups for a week.

Nothing here reads ``bundlewise.bundles``: the model is independent of the pricing code it checks.

Example
-------
>>> m = make_market("pairs-lognormal", seed=1, invoices=2000)
>>> orders = simulate_orders(m)
>>> orders["InvoiceNo"].nunique() > 1000
True
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EPS = 1e-6  # surplus penalty per product: of two equally good subsets the smaller one is bought
COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands")
CATEGORIES = ("Home > Kitchen", "Home > Decor", "Garden", "Stationery", "Toys", "Bath", "Party")
_ADJ = ("VINTAGE", "RETRO", "CLASSIC", "RUSTIC", "PAINTED", "FLORAL", "SPOTTY", "STRIPED", "GLASS", "WOODEN",
        "ENAMEL", "CERAMIC", "FELT", "LACE", "METAL", "PAPER")
_COLOUR = ("RED", "BLUE", "GREEN", "PINK", "IVORY", "BLACK", "WHITE", "CREAM", "GOLD", "SILVER", "TEAL")
_NOUN = ("MUG", "LANTERN", "TEA TOWEL", "CANDLE", "JAR", "BUNTING", "NOTEBOOK", "TRAY", "CLOCK", "BAG",
         "PLATE", "BOWL", "FRAME", "CUSHION", "BOX", "HEART", "SIGN", "BASKET", "TIN", "APRON", "DOORMAT")


@dataclass
class Group:
    """Products sharing one need. ``kind``: complement, substitute or single."""

    kind: str
    members: tuple[int, ...]
    need: np.ndarray  # P(need) per segment (singles: unused)
    q: np.ndarray  # P(interest | need) per member
    synergy: float = 0.0  # complements: value of a set x (1 + synergy * (interesting members - 1))
    rho: float = 0.0  # substitutes: share of a second member's value still wanted
    corr: float = 0.0  # correlation of members' valuations (log-normal/Gumbel factor; discrete: shared level)


@dataclass
class Market:
    name: str
    seed: int
    family: str  # lognormal | gumbel | mixture | discrete
    ids: list[str]
    titles: list[str]
    categories: list[str]
    worth: np.ndarray  # valuation scale per product
    sigma: np.ndarray  # valuation spread per product
    base: np.ndarray  # P(interest) without the need, per product
    cost: np.ndarray
    groups: list[Group]
    seg_weight: np.ndarray
    seg_mult: np.ndarray  # valuation multiplier per segment
    seg_country: tuple[str, ...]
    price: np.ndarray = field(default_factory=lambda: np.zeros(0))  # list prices, set by the shop
    invoices: int = 35000
    weeks: int = 52
    levels: tuple[float, ...] = (0.55, 1.0, 1.6)
    level_p: tuple[float, ...] = (0.3, 0.45, 0.25)

    @property
    def n(self) -> int:
        return len(self.ids)

    def group_of(self) -> np.ndarray:
        out = np.empty(self.n, dtype=int)
        for g, grp in enumerate(self.groups):
            out[list(grp.members)] = g
        return out

    def relation(self, products: list[int]) -> str:
        """'related' (one complement group), 'substitutes' (one substitute group) or 'unrelated'."""
        gid = self.group_of()[list(products)]
        if len(set(gid)) == 1 and len(products) > 1:
            return "related" if self.groups[gid[0]].kind == "complement" else "substitutes"
        return "unrelated"


# --------------------------------------------------------------------------- regimes

REGIMES: dict[str, dict] = {
    # strong shared need in pairs, a few substitutes, many unrelated products
    "pairs-lognormal": dict(family="lognormal", layout=[("complement", 2)] * 6 + [("substitute", 2)] * 2
                            + [("single", 1)] * 8, q=(0.55, 0.9), base=(0.01, 0.04), need=(0.06, 0.14)),
    # triples under logit/Gumbel valuations
    "triples-gumbel": dict(family="gumbel", layout=[("complement", 3)] * 4 + [("substitute", 3)]
                           + [("single", 1)] * 6, q=(0.5, 0.85), base=(0.01, 0.04), need=(0.06, 0.12)),
    # segments that differ in need and willingness to pay; groups of 2-4
    "segments-mixed": dict(family="mixture", layout=[("complement", 2), ("complement", 3), ("complement", 4),
                                                     ("complement", 2), ("substitute", 2), ("substitute", 2)]
                           + [("single", 1)] * 8, q=(0.45, 0.85), base=(0.01, 0.05), need=(0.03, 0.2)),
    # weak shared need: related products are only mildly more likely together
    "weak-need": dict(family="lognormal", layout=[("complement", 2)] * 4 + [("complement", 3)] * 2
                      + [("single", 1)] * 8, q=(0.15, 0.35), base=(0.04, 0.1), need=(0.08, 0.16)),
    # mostly substitutes: bundling them gives margin away
    "substitutes": dict(family="gumbel", layout=[("substitute", 2)] * 4 + [("substitute", 3)] * 2
                        + [("complement", 2)] * 2 + [("single", 1)] * 6, q=(0.5, 0.85), base=(0.01, 0.04),
                        need=(0.06, 0.14)),
    # small market of discrete valuations (exact enumeration possible; tests)
    "tiny-discrete": dict(family="discrete", layout=[("complement", 2), ("substitute", 2), ("single", 1)],
                          q=(0.6, 0.9), base=(0.02, 0.05), need=(0.15, 0.25)),
}


def make_market(regime: str, seed: int, invoices: int = 35000, weeks: int = 52) -> Market:
    """Draw a market of a regime (``REGIMES``) and set the shop's list prices; deterministic in ``seed``."""
    spec = REGIMES[regime]
    rng = np.random.default_rng([seed, sorted(REGIMES).index(regime)])
    n = sum(size for _, size in spec["layout"])
    perm = rng.permutation(n)  # group members are not neighbours in the catalogue
    family = spec["family"]
    n_seg = 3 if family == "mixture" else 1
    seg_weight = np.array([0.5, 0.3, 0.2]) if n_seg == 3 else np.array([1.0])
    seg_mult = np.array([0.7, 1.0, 1.6]) if n_seg == 3 else np.array([1.0])
    groups, start = [], 0
    for kind, size in spec["layout"]:
        members = tuple(int(i) for i in perm[start:start + size])
        start += size
        need = rng.uniform(*spec["need"], size=n_seg)
        if n_seg == 3:  # needs differ by segment, and the premium segment is not the needy one
            need = need * rng.permutation(np.array([1.4, 1.0, 0.5]))
        groups.append(Group(
            kind=kind, members=members, need=need, q=rng.uniform(*spec["q"], size=size),
            synergy=float(rng.uniform(0.0, 0.25)) if kind == "complement" else 0.0,
            rho=float(rng.uniform(0.0, 0.25)) if kind == "substitute" else 0.0,
            corr=float(rng.uniform(0.1, 0.6)),
        ))
    base = rng.uniform(*spec["base"], size=n)
    for grp in groups:  # unrelated products are bought on their own more often
        if grp.kind == "single":
            base[list(grp.members)] = rng.uniform(0.03, 0.12, size=len(grp.members))
    worth = np.exp(rng.uniform(np.log(2.0), np.log(40.0), size=n))
    cost = worth * rng.uniform(0.08, 0.65, size=n)  # margins from thin to fat
    ids = [str(x) for x in rng.choice(np.arange(20000, 90000), size=n, replace=False)]
    titles = _titles(rng, n)
    cats = [""] * n
    for grp in groups:
        shared = CATEGORIES[rng.integers(len(CATEGORIES))]
        for i in grp.members:
            cats[i] = shared if rng.random() < 0.7 else CATEGORIES[rng.integers(len(CATEGORIES))]
    m = Market(name=regime, seed=seed, family=family, ids=ids, titles=titles, categories=cats, worth=worth,
               sigma=rng.uniform(0.3, 0.7, size=n), base=base, cost=cost, groups=groups, seg_weight=seg_weight,
               seg_mult=seg_mult, seg_country=COUNTRIES[:n_seg], invoices=invoices, weeks=weeks)
    m.price = shop_prices(m, rng)
    return m


def _titles(rng: np.random.Generator, n: int) -> list[str]:
    combos = list(itertools.product(_ADJ, _COLOUR, _NOUN))
    pick = rng.choice(len(combos), size=n, replace=False)
    return [" ".join(combos[i]) for i in pick]


# --------------------------------------------------------------------------- shoppers

def subset_masks(k: int) -> np.ndarray:
    """[2**k, k] booleans: row t is the subset with bit i set for member i."""
    t = np.arange(2 ** k)
    return ((t[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)


def sample_segments(m: Market, rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.choice(len(m.seg_weight), size=size, p=m.seg_weight)


def sample_group(m: Market, g: int, seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Valuations [shoppers, members] of group ``g``; 0 where the shopper has no interest."""
    grp, size = m.groups[g], len(seg)
    idx = np.array(grp.members)
    k = len(idx)
    if grp.kind == "single":
        interest = rng.random((size, k)) < m.base[idx]
    else:
        need = rng.random(size) < grp.need[seg]
        interest = (need[:, None] & (rng.random((size, k)) < grp.q)) | (rng.random((size, k)) < m.base[idx])
    scale = m.worth[idx] * m.seg_mult[seg][:, None]
    c = grp.corr
    if m.family in ("lognormal", "mixture"):
        z = np.sqrt(c) * rng.standard_normal((size, 1)) + np.sqrt(1 - c) * rng.standard_normal((size, k))
        val = scale * np.exp(m.sigma[idx] * z - m.sigma[idx] ** 2 / 2)
    elif m.family == "gumbel":
        # logit valuations: worth + spread * (shared + own) Gumbel shocks, centred; negative = not wanted
        gum = np.sqrt(c) * rng.gumbel(size=(size, 1)) + np.sqrt(1 - c) * rng.gumbel(size=(size, k))
        val = np.maximum(scale * (1.0 + m.sigma[idx] * (gum - 0.5772 * (np.sqrt(c) + np.sqrt(1 - c)))), 0.0)
    elif m.family == "discrete":
        levels, p = np.array(m.levels), np.array(m.level_p)
        shared = rng.random(size) < c
        lev = np.where(shared[:, None], rng.choice(len(levels), size=(size, 1), p=p),
                       rng.choice(len(levels), size=(size, k), p=p))
        val = scale * levels[lev]
    else:
        raise ValueError(f"unknown valuation family {m.family!r}")
    return np.where(interest, val, 0.0)


def enumerate_group(m: Market, g: int, seg: int) -> tuple[np.ndarray, np.ndarray]:
    """Every shopper type of group ``g`` in segment ``seg`` (discrete family): valuations and probabilities."""
    if m.family != "discrete":
        raise ValueError("exact enumeration needs the discrete valuation family")
    grp = m.groups[g]
    idx = np.array(grp.members)
    k = len(idx)
    levels, lp = np.array(m.levels), np.array(m.level_p)
    if grp.kind == "single":
        p_int = {0: m.base[idx]}
        p_need = {0: 1.0}
    else:
        p_int = {0: m.base[idx], 1: 1 - (1 - grp.q) * (1 - m.base[idx])}
        p_need = {0: 1 - grp.need[seg], 1: grp.need[seg]}
    vals, probs = [], []
    for pattern in subset_masks(k):
        pw = sum(p_need[nd] * np.prod(np.where(pattern, p_int[nd], 1 - p_int[nd])) for nd in p_need)
        for lev in itertools.product(range(len(levels)), repeat=k):
            lev = np.array(lev)
            pl = (1 - grp.corr) * np.prod(lp[lev]) + (grp.corr * lp[lev[0]] if np.all(lev == lev[0]) else 0.0)
            vals.append(np.where(pattern, m.worth[idx] * m.seg_mult[seg] * levels[lev], 0.0))
            probs.append(pw * pl)
    return np.array(vals), np.array(probs)


def group_surplus(m: Market, g: int, V: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Surplus [shoppers, 2**k] of every subset of group ``g``'s members at ``prices`` (per member)."""
    grp = m.groups[g]
    k = len(grp.members)
    masks = subset_masks(k)
    value = V @ masks.T.astype(float)
    if grp.kind == "complement":
        n_int = (V > 0).astype(float) @ masks.T.astype(float)
        value = value * (1 + grp.synergy * np.maximum(n_int - 1, 0))
    elif grp.kind == "substitute":
        top = np.stack([(V * mk).max(axis=1) if mk.any() else np.zeros(len(V)) for mk in masks], axis=1)
        value = top + grp.rho * (value - top)
    return value - masks @ prices - EPS * masks.sum(axis=1)


def shop_prices(m: Market, rng: np.random.Generator, shoppers: int = 30000) -> np.ndarray:
    """List prices of a shop that roughly knows its business: per-product optimum (coordinate search on
    the group's profit, others held), then a few percent of noise and a price ending."""
    seg = sample_segments(m, rng, shoppers)
    price = m.worth * 1.0
    for grp_i, grp in enumerate(m.groups):
        idx = np.array(grp.members)
        V = sample_group(m, grp_i, seg, rng)
        V = V[(V > 0).any(axis=1)]  # shoppers wanting nothing here buy nothing at any price
        masks = subset_masks(len(idx))
        p = price[idx].copy()
        for _ in range(2):
            for j in range(len(idx)):
                grid = np.linspace(max(m.cost[idx[j]] * 1.02, 0.3 * m.worth[idx[j]]), 2.5 * m.worth[idx[j]], 32)
                best, best_p = -np.inf, p[j]
                for cand in grid:
                    p[j] = cand
                    choice = group_surplus(m, grp_i, V, p).argmax(axis=1)
                    profit = (masks @ (p - m.cost[idx]))[choice].sum()
                    if profit > best:
                        best, best_p = profit, cand
                p[j] = best_p
        price[idx] = p
    price = price * np.exp(rng.normal(0.0, 0.07, size=m.n))
    price = np.maximum(price, m.cost * 1.05)
    return np.where(price > 1, np.round(price * 20) / 20 - 0.01, np.round(price, 2))


# --------------------------------------------------------------------------- history

def weekly_prices(m: Market, rng: np.random.Generator) -> np.ndarray:
    """[weeks, products]: list prices with single-product and whole-group promotions."""
    cut = np.zeros((m.weeks, m.n))
    single = rng.random((m.weeks, m.n)) < 0.05
    cut[single] = rng.choice([0.1, 0.15, 0.2, 0.25, 0.3], size=single.sum())
    for grp in m.groups:
        if grp.kind == "single":
            continue
        on = rng.random(m.weeks) < 0.05
        for w in np.flatnonzero(on):
            cut[w, list(grp.members)] = rng.choice([0.15, 0.2, 0.25])
    return np.round(m.price[None, :] * (1 - cut), 2)


def choose(m: Market, seg: np.ndarray, prices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[shoppers, products] booleans: what each shopper buys at ``prices`` (no bundle on offer)."""
    bought = np.zeros((len(seg), m.n), dtype=bool)
    for g, grp in enumerate(m.groups):
        idx = np.array(grp.members)
        V = sample_group(m, g, seg, rng)
        pick = group_surplus(m, g, V, prices[idx]).argmax(axis=1)
        bought[:, idx] = subset_masks(len(idx))[pick]
    return bought


def simulate_orders(m: Market, start: str = "2025-01-06"):
    """A year of weekly orders as an Online Retail DataFrame (one row per order line)."""
    import pandas as pd

    rng = np.random.default_rng([m.seed, 7, sorted(REGIMES).index(m.name)])
    prices = weekly_prices(m, rng)
    pilot = choose(m, sample_segments(m, rng, 20000), m.price, rng).any(axis=1).mean()
    per_week = m.invoices / m.weeks / max(pilot, 1e-3)
    season = 1 + 0.2 * np.sin(2 * np.pi * (np.arange(m.weeks) / m.weeks - 0.2))
    traffic = rng.poisson(per_week * season * np.exp(rng.normal(0, 0.12, m.weeks) - 0.0072))
    customers = max(m.invoices // 5, 50)
    rows = []  # per week: (shopper row in week, product) pairs
    invoice_no = 536365
    t0 = pd.Timestamp(start)
    for w in range(m.weeks):
        seg = sample_segments(m, rng, int(traffic[w]))
        bought = choose(m, seg, prices[w], rng)
        buyers = np.flatnonzero(bought.any(axis=1))  # the rest leave no trace
        if not len(buyers):
            continue
        when = t0 + pd.Timedelta(weeks=w) + pd.to_timedelta(
            rng.integers(0, 7, len(buyers)) * 86400 + rng.integers(8 * 3600, 20 * 3600, len(buyers)), unit="s")
        cust = (rng.pareto(1.2, len(buyers)) * customers / 8).astype(int) % customers + 12346
        cust_s = np.where(rng.random(len(buyers)) < 0.08, "", cust.astype(str))
        if len(m.seg_weight) > 1:
            country = np.array(m.seg_country)[seg[buyers]]
        else:
            country = np.where(rng.random(len(buyers)) < 0.85, COUNTRIES[0],
                               np.array(COUNTRIES[1:])[rng.integers(0, len(COUNTRIES) - 1, len(buyers))])
        r, prod = np.nonzero(bought[buyers])
        rows.append(pd.DataFrame({
            "InvoiceNo": (invoice_no + r).astype(str),
            "StockCode": np.array(m.ids)[prod],
            "Description": np.array(m.titles)[prod],
            "Quantity": 1,
            "InvoiceDate": when[r].strftime("%Y-%m-%d %H:%M:%S"),
            "UnitPrice": prices[w, prod],
            "CustomerID": cust_s[r],
            "Country": country[r],
        }))
        invoice_no += len(buyers)
    return pd.concat(rows, ignore_index=True)


def products_frame(m: Market, with_cost: bool = True):
    import pandas as pd

    df = pd.DataFrame({"product_id": m.ids, "title": m.titles, "category_path": m.categories,
                       "price": np.round(m.price, 2)})
    if with_cost:
        df["cost"] = np.round(m.cost, 2)
    return df


def write_market(m: Market, folder: Path, orders=None) -> dict[str, Path]:
    """Write ``orders.csv``, ``products.csv`` (with cost) and ``products_nocost.csv`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    orders = simulate_orders(m) if orders is None else orders
    paths = {"orders": folder / "orders.csv", "products": folder / "products.csv",
             "products_nocost": folder / "products_nocost.csv"}
    orders.to_csv(paths["orders"], index=False)
    products_frame(m, True).to_csv(paths["products"], index=False)
    products_frame(m, False).to_csv(paths["products_nocost"], index=False)
    return paths
