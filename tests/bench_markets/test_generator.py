"""The independent market family: deterministic, ingestible by the real CLI, and a truth that can fail."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bench.markets.generator import group_surplus, make_market, simulate_orders, subset_masks, write_market
from bench.markets.truth import GRID, Truth, naive_plan

ROOT = Path(__file__).resolve().parents[2]
EXE = ROOT / ".venv" / "bin" / "bundlewise"


@pytest.fixture(scope="module")
def tiny():
    m = make_market("tiny-discrete", seed=3, invoices=600)
    return m, Truth(m, exact=True)


def test_same_seed_same_market_and_orders():
    a, b = make_market("pairs-lognormal", 5, invoices=800), make_market("pairs-lognormal", 5, invoices=800)
    np.testing.assert_array_equal(a.price, b.price)
    assert a.ids == b.ids
    oa, ob = simulate_orders(a), simulate_orders(b)
    assert oa.equals(ob)
    c = make_market("pairs-lognormal", 6, invoices=800)
    assert not np.array_equal(a.price, c.price)
    # the shop's prices are near the optimum: never below cost
    assert (a.price > a.cost).all()
    assert 500 < oa["InvoiceNo"].nunique() < 1100


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    exe = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "bundlewise.cli"]
    return subprocess.run([*exe, "--db", str(db), "-q", *args], capture_output=True, text=True)


@pytest.mark.parametrize("with_cost", [True, False])
def test_files_ingest_cleanly_through_the_cli(tmp_path, with_cost):
    m = make_market("segments-mixed", 1, invoices=700)
    orders = simulate_orders(m)
    files = write_market(m, tmp_path, orders)
    db = tmp_path / "w.duckdb"
    prod = _cli(db, "ingest", "products", str(files["products" if with_cost else "products_nocost"]))
    assert prod.returncode == 0, prod.stderr
    assert f"accepted {m.n}" in prod.stdout and "rejected 0" in prod.stdout
    res = _cli(db, "ingest", "orders", str(files["orders"]), "--preset", "online-retail")
    assert res.returncode == 0, res.stderr
    assert f"accepted {len(orders):,}" in res.stdout and "rejected 0" in res.stdout
    assert f"baskets {orders['InvoiceNo'].nunique():,}" in res.stdout
    assert "products new 0" in res.stdout  # every sold product is in the catalogue


def test_monte_carlo_agrees_with_exact_enumeration(tiny):
    m, exact = tiny
    mc = Truth(m, shoppers=300_000, seed=9)
    assert exact.w.sum() == pytest.approx(1.0)
    assert mc.buy_rate == pytest.approx(exact.buy_rate, abs=0.005)
    for b in ([0, 1], [2, 3], [0, 4], [1, 4]):
        np.testing.assert_allclose(mc.curve(b), exact.curve(b), atol=0.012)


def _brute_force(m, truth, plan):
    """Every subset of the whole catalogue, bundle prices applied: the shopper's choice without the
    truth's per-group decomposition. Uses the exact shopper types of ``truth``'s enumeration."""
    from bench.markets.truth import Truth as _T  # noqa: F401  (same atoms: rebuilt below)

    groups_V, w = truth._exact()
    n = m.n
    subsets = subset_masks(n)
    surplus = np.zeros((len(w), len(subsets)))
    for g, V in enumerate(groups_V):
        idx = list(m.groups[g].members)
        S = group_surplus(m, g, V, m.price[idx])
        local = np.zeros(len(subsets), dtype=int)
        for j, i in enumerate(idx):
            local |= subsets[:, i].astype(int) << j
        surplus += S[:, local]
    margin = subsets @ (m.price - m.cost)
    bonus = np.zeros(len(subsets))
    for b, d in plan:
        inside = subsets[:, b].all(axis=1)
        bonus += inside * d * m.price[b].sum()
    with_plan = (surplus + bonus).argmax(axis=1)
    without = surplus.argmax(axis=1)
    return float(w @ ((margin - bonus)[with_plan] - margin[without]))


def test_portfolio_value_matches_brute_force_choice(tiny):
    m, t = tiny
    for plan in ([([0, 4], 0.18)], [([0, 1], 0.1), ([2, 3], 0.25)], [([0, 3], 0.3), ([1, 2, 4], 0.05)]):
        plan = [(sorted(b), d) for b, d in plan]
        assert t.portfolio_value(plan) == pytest.approx(_brute_force(m, t, plan), abs=1e-9)


def test_unrelated_bundle_at_30_percent_loses_money():
    m = make_market("pairs-lognormal", 2, invoices=500)
    t = Truth(m, shoppers=60_000)
    singles = [g.members[0] for g in m.groups if g.kind == "single"]
    pairs = [list(p) for p in itertools.combinations(singles, 2)]
    at30 = np.array([t.curve(p, np.array([0.3]))[0] for p in pairs])
    # mixed bundling of independent goods can pay on fat margins, but not as a rule at 30 % off
    assert (at30 < 0).mean() >= 0.75 and at30.mean() < 0
    # a bundle priced at 90 % of its cost loses money on every taker
    for p in pairs:
        d = 1 - 0.9 * m.cost[p].sum() / m.price[p].sum()
        assert t.curve(p, np.array([d]))[0] < 0


def test_clairvoyant_beats_every_single_bundle_and_the_naive_plan(tiny):
    m, t = tiny
    clair = t.clairvoyant()
    best_single = max(t.best_discount(b)[1] for b in t.candidates())
    assert clair["value"] >= best_single - 1e-12
    assert clair["value"] == pytest.approx(t.portfolio_value(clair["plan"]))
    orders = simulate_orders(m)
    assert clair["value"] >= t.portfolio_value(naive_plan(orders, m.ids, min_together=5)) - 1e-12
    used = [i for b, _ in clair["plan"] for i in b]
    assert len(used) == len(set(used))  # each product in at most one bundle
    assert all(0 < d <= 0.3 for _, d in clair["plan"])


def test_curve_is_zero_without_discount_and_shared_products_are_refused(tiny):
    _, t = tiny
    assert t.curve([0, 1], GRID)[0] == 0.0
    with pytest.raises(ValueError, match="share products"):
        t.portfolio_value([([0, 1], 0.1), ([1, 2], 0.1)])


def test_oracle_parameters_match_a_direct_count_for_a_product_alone():
    """``diagnose --oracle``: a single product's conversion is the share of interested shoppers valuing it at
    least its price, and its sales fall when its price rises (counted here straight from the valuations)."""
    from bench.markets.diagnose import true_product_params
    from bench.markets.generator import sample_group, sample_segments

    m = make_market("pairs-lognormal", seed=2, invoices=800)
    true = true_product_params(m, shoppers=60_000, seed=11)
    assert set(true) == set(m.ids)
    g = next(k for k, grp in enumerate(m.groups) if grp.kind == "single")
    i = m.groups[g].members[0]
    rng = np.random.default_rng(11)
    seg = sample_segments(m, rng, 60_000)
    for k in range(g):  # the same draws as the helper: groups are sampled in order from one stream
        sample_group(m, k, seg, rng)
    v = sample_group(m, g, seg, rng)[:, 0]
    direct = float((v >= m.price[i]).sum() / (v > 0).sum())
    assert true[m.ids[i]]["conversion"] == pytest.approx(direct, abs=1e-3)
    assert all(0 < t["conversion"] < 1 and t["elasticity"] < 0 for t in true.values())


def test_plan_claims_are_put_per_visit_before_they_meet_the_truth():
    """The plan speaks per 1,000 baskets, the truth per 1,000 visits: a claim is scaled by the buy rate, and
    coverage counts the bundles whose truth lies inside the scaled interval."""
    from bench.markets.run import _coverage

    bundles = [{"true_profit_per_1k": 5.0}, {"true_profit_per_1k": 9.0}, {"true_profit_per_1k": 1.0}]
    claims = [(10.0, 6.0, 14.0), (10.0, 6.0, 14.0), (2.0, float("nan"), float("nan"))]
    out = _coverage(bundles, claims, buy_rate=0.5)  # intervals per visit: [3, 7], [3, 7], none
    assert out == {"interval_coverage": 0.5, "intervals": 2}
    assert bundles[0]["covered"] and not bundles[1]["covered"] and "covered" not in bundles[2]
    assert bundles[0]["claim_per_1k"] == 5.0 and bundles[1]["claim_high"] == 7.0
