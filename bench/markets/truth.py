"""Known truth of a generated market: the incremental profit of any bundle portfolio, the clairvoyant one,
and the naive "10 % off the top-lift pairs" baseline.

A shopper offered bundles picks the subset of products with the largest surplus, where a subset holding a
whole bundle pays the bundle price for it. Because value is additive across groups, the choice reduces to
*which bundles to take*: for a set K of bundles the best surplus is the sum over groups of the best subset
containing K's members there, plus K's discounts. ``Truth`` precomputes, per group and per set A of its
members, every shopper's best surplus over subsets containing A (and the profit of that subset), once, at
list prices; any portfolio is then exact for those shoppers (common random numbers: every bundle and
discount is judged on the same shoppers). Shoppers are a large Monte Carlo sample, or, for the discrete
valuation family, every shopper type with its probability (exact enumeration).

Example
-------
>>> from bench.markets.generator import make_market
>>> m = make_market("tiny-discrete", seed=0, invoices=500)
>>> t = Truth(m, exact=True)
>>> round(t.portfolio_value([]), 12)
0.0
"""

from __future__ import annotations

import itertools

import numpy as np

from bench.markets.generator import (
    Market,
    enumerate_group,
    group_surplus,
    sample_group,
    sample_segments,
    subset_masks,
)

GRID = np.round(np.arange(0, 31) / 100, 2)  # discounts 0 %, 1 %, ..., 30 %


class Truth:
    """Expected incremental profit per shopper (a visit, buyers or not) under the hidden model."""

    def __init__(self, market: Market, shoppers: int = 150_000, seed: int = 12345, exact: bool = False):
        self.m = market
        self.price = market.price.astype(float)
        self.margin = self.price - market.cost
        self.gid = market.group_of()
        self.pos = {i: j for g in market.groups for j, i in enumerate(g.members)}
        groups_V, self.w = self._exact() if exact else self._sample(shoppers, seed)
        self.best, self.arg, self.gprofit, self.active = [], [], [], []
        self._cache: dict = {}
        for g, V in enumerate(groups_V):
            self.active.append((V > 0).any(axis=1))  # a shopper wanting nothing in a group never buys there
            idx = np.array(market.groups[g].members)
            S = group_surplus(market, g, V, self.price[idx])
            masks = subset_masks(len(idx))
            n_sub = len(masks)
            best = np.empty((len(V), n_sub))
            arg = np.empty((len(V), n_sub), dtype=np.int16)
            for a in range(n_sub):
                sup = np.array([t for t in range(n_sub) if t & a == a])
                j = S[:, sup].argmax(axis=1)
                best[:, a] = S[np.arange(len(V)), sup[j]]
                arg[:, a] = sup[j]
            self.best.append(best)
            self.arg.append(arg)
            self.gprofit.append(masks @ self.margin[idx])
        # share of shoppers who buy anything at list prices (the CLI sees only them, as baskets)
        self.buy_rate = float(self.w @ np.logical_or.reduce([a[:, 0] != 0 for a in self.arg]))

    def _sample(self, shoppers: int, seed: int):
        rng = np.random.default_rng([seed, self.m.seed])
        seg = sample_segments(self.m, rng, shoppers)
        return [sample_group(self.m, g, seg, rng) for g in range(len(self.m.groups))], np.full(shoppers, 1 / shoppers)

    def _exact(self):
        per_group: list[list[np.ndarray]] = [[] for _ in self.m.groups]
        weights = []
        for s, ws in enumerate(self.m.seg_weight):
            atoms = [enumerate_group(self.m, g, s) for g in range(len(self.m.groups))]
            n_rows = int(np.prod([len(p) for _, p in atoms]))
            if n_rows > 2_000_000:
                raise ValueError(f"{n_rows:,} shopper types are too many to enumerate; use Monte Carlo")
            grids = np.meshgrid(*[np.arange(len(p)) for _, p in atoms], indexing="ij")
            w = np.full(n_rows, ws)
            for g, ((V, p), ix) in enumerate(zip(atoms, grids, strict=True)):
                per_group[g].append(V[ix.ravel()])
                w = w * p[ix.ravel()]
            weights.append(w)
        return [np.concatenate(v) for v in per_group], np.concatenate(weights)

    # ------------------------------------------------------------------ scoring

    def _split(self, members: list[int]) -> dict[int, int]:
        """Bundle members as {group: bitmask of its members in that group}."""
        out: dict[int, int] = {}
        for i in members:
            g = int(self.gid[i])
            out[g] = out.get(g, 0) | (1 << int(self.pos[i]))
        return out

    def curve(self, members: list[int], grid: np.ndarray = GRID) -> np.ndarray:
        """Incremental profit per shopper of offering bundle ``members`` alone, at each discount of ``grid``."""
        parts = self._split(members)
        u0 = sum(self.best[g][:, 0] for g in parts)
        ub = sum(self.best[g][:, a] for g, a in parts.items())
        pi0 = sum(self.gprofit[g][self.arg[g][:, 0]] for g in parts)
        pib = sum(self.gprofit[g][self.arg[g][:, a]] for g, a in parts.items())
        pb = self.price[list(members)].sum()
        gap = u0 - ub  # >= 0: surplus given up by taking the whole bundle at list prices
        keep = gap < grid.max() * pb
        gap, diff, w = gap[keep], (pib - pi0)[keep], self.w[keep]
        take = grid[None, :] * pb > gap[:, None]
        return (w[:, None] * take * (diff[:, None] - grid[None, :] * pb)).sum(axis=0)

    def portfolio_value(self, plan: list[tuple[list[int], float]]) -> float:
        """Incremental profit per shopper of offering all bundles of ``plan`` (members, discount) together."""
        plan = [(list(b), float(d)) for b, d in plan if d > 0]
        seen: set[int] = set()
        for b, _ in plan:
            if seen & set(b):
                raise ValueError(f"bundles share products {sorted(seen & set(b))}: each product once")
            seen |= set(b)
        parts = [self._split(b) for b, _ in plan]
        # components: bundles touching a common group interact, others add up
        comp = list(range(len(plan)))

        def root(x: int) -> int:
            while comp[x] != x:
                x = comp[x]
            return x

        for i, j in itertools.combinations(range(len(plan)), 2):
            if set(parts[i]) & set(parts[j]):
                comp[root(i)] = root(j)
        total = 0.0
        for r in {root(i) for i in range(len(plan))}:
            ks = [i for i in range(len(plan)) if root(i) == r]
            key = frozenset((tuple(plan[k][0]), plan[k][1]) for k in ks)
            if key not in self._cache:
                self._cache[key] = self._component(ks, parts, plan)
            total += self._cache[key]
        return float(total)

    def _component(self, ks: list[int], parts: list[dict[int, int]], plan) -> float:
        groups = sorted({g for k in ks for g in parts[k]})
        rows = np.flatnonzero(np.logical_or.reduce([self.active[g] for g in groups]))
        n = len(rows)
        best = {g: self.best[g][rows] for g in groups}
        prof = {g: self.gprofit[g][self.arg[g][rows]] for g in groups}
        base_u = sum(best[g][:, 0] for g in groups)
        base_p = sum(prof[g][:, 0] for g in groups)
        best_u, best_p = base_u.copy(), base_p.copy()
        for r in range(1, len(ks) + 1):
            for chosen in itertools.combinations(ks, r):
                bonus = sum(plan[k][1] * self.price[plan[k][0]].sum() for k in chosen)
                u, p = np.full(n, bonus), np.full(n, -bonus)
                for g in groups:
                    a = 0
                    for k in chosen:
                        a |= parts[k].get(g, 0)
                    u = u + best[g][:, a]
                    p = p + prof[g][:, a]
                better = u > best_u
                best_u = np.where(better, u, best_u)
                best_p = np.where(better, p, best_p)
        return float(self.w[rows] @ (best_p - base_p))

    def best_discount(self, members: list[int], max_discount: float = 0.3) -> tuple[float, float]:
        """(discount, incremental profit per shopper) of the best grid discount; (0, 0) if none pays."""
        grid = GRID[max_discount + 1e-9 >= GRID]
        c = self.curve(members, grid)
        j = int(np.argmax(c))
        return float(grid[j]), float(c[j])

    # ------------------------------------------------------------------ portfolios

    def candidates(self, sizes: tuple[int, ...] = (2, 3)) -> list[list[int]]:
        """Every pair; every triple holding at least one pair from one (non-single) group."""
        n = self.m.n
        out = [list(p) for p in itertools.combinations(range(n), 2)] if 2 in sizes else []
        if 3 in sizes:
            for t in itertools.combinations(range(n), 3):
                g = self.gid[list(t)]
                if len(set(g)) < 3 and self.m.groups[int(np.bincount(g).argmax())].kind != "single":
                    out.append(list(t))
        return out

    def clairvoyant(self, max_discount: float = 0.3, max_bundles: int = 10, per_product: int = 1,
                    sizes: tuple[int, ...] = (2, 3)) -> dict:
        """Best portfolio under the CLI's constraints: exact MILP over the single-bundle optima, then a
        local search (re-price each bundle given the others, drop one) on the exact portfolio value."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        cands, vals, discs = [], [], []
        for b in self.candidates(sizes):
            d, v = self.best_discount(b, max_discount)
            if d > 0 and v > 0:
                cands.append(b)
                vals.append(v)
                discs.append(d)
        if not cands:
            return {"plan": [], "value": 0.0, "milp_value": 0.0, "candidates": 0}
        a = np.zeros((self.m.n + 1, len(cands)))
        for j, b in enumerate(cands):
            a[b, j] = 1
        a[-1, :] = 1
        ub = np.r_[np.full(self.m.n, per_product), max_bundles]
        res = milp(-np.array(vals), constraints=LinearConstraint(a, -np.inf, ub), integrality=np.ones(len(cands)),
                   bounds=Bounds(0, 1))
        pick = [j for j in range(len(cands)) if res.x is not None and res.x[j] > 0.5]
        plan = [(cands[j], discs[j]) for j in pick]
        milp_value = float(sum(vals[j] for j in pick))
        plan, value = self.local_search(plan, max_discount)
        j = int(np.argmax(vals))  # interactions may cost the MILP's pick more than the best bundle alone gives
        if vals[j] > value:
            plan, value = [(cands[j], discs[j])], float(vals[j])
        return {"plan": plan, "value": value, "milp_value": milp_value, "candidates": len(cands)}

    def local_search(self, plan, max_discount: float = 0.3, passes: int = 2):
        grid = GRID[(GRID > 0) & (max_discount + 1e-9 >= GRID)]
        plan = [(list(b), float(d)) for b, d in plan]
        value = self.portfolio_value(plan)
        groups = [set(self.gid[b]) for b, _ in plan]
        for _ in range(passes):
            improved = False
            for i in range(len(plan)):
                # exact components cost 2**bundles: re-price only where a bundle interacts with few others
                if sum(bool(groups[i] & g) for g in groups) > 4:
                    continue
                for d in grid[np.abs(grid - plan[i][1]) <= 0.03 + 1e-9]:
                    trial = plan[:i] + [(plan[i][0], float(d))] + plan[i + 1:]
                    v = self.portfolio_value(trial)
                    if v > value + 1e-12:
                        plan, value, improved = trial, v, True
            for i in reversed(range(len(plan))):
                if sum(bool(groups[i] & g) for g in groups) > 4:
                    continue
                trial = plan[:i] + plan[i + 1:]
                groups_trial = groups[:i] + groups[i + 1:]
                v = self.portfolio_value(trial)
                if v > value + 1e-12:
                    plan, value, improved, groups = trial, v, True, groups_trial
            if not improved:
                break
        return plan, float(value)


def naive_plan(orders, ids: list[str], k: int = 10, discount: float = 0.10, min_together: int = 20):
    """The naive baseline: ``discount`` off the ``k`` pairs of highest observed lift, each product once."""
    baskets = orders.groupby("InvoiceNo")["StockCode"].apply(lambda s: sorted(set(s)))
    pos = {pid: i for i, pid in enumerate(ids)}
    n = len(ids)
    x = np.zeros((len(baskets), n))
    for r, items in enumerate(baskets):
        x[r, [pos[p] for p in items]] = 1
    together = x.T @ x
    single = np.diag(together).copy()
    lift = together * len(baskets) / np.maximum(np.outer(single, single), 1)
    pairs = [(lift[i, j], i, j) for i, j in itertools.combinations(range(n), 2) if together[i, j] >= min_together]
    used: set[int] = set()
    plan = []
    for _, i, j in sorted(pairs, reverse=True):
        if i in used or j in used:
            continue
        plan.append(([i, j], discount))
        used |= {i, j}
        if len(plan) == k:
            break
    return plan
