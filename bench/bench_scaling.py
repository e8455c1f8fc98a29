"""How bundlewise's pair statistics grow with baskets, products and basket size.

Run: ``python -m bench.bench_scaling``. Same synthetic data and timed section as
``bench_pairs`` (codes in memory → all pair statistics with count >= 5), one fresh process
per point, bundlewise only.
"""

from __future__ import annotations

from bench._harness import measure

POINTS = (
    [("baskets", n, 20_000, 4) for n in (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)]
    + [("products", 1_000_000, n, 4) for n in (2_000, 20_000, 200_000)]
    + [("basket size", 1_000_000, 20_000, s) for s in (2, 4, 8, 16)]
)


def main() -> None:
    print(f"{'varying':<12}{'baskets':>12}{'products':>10}{'mean size':>10}{'pairs>=5':>11}{'seconds':>9}"
          f"{'Δ MiB':>8}")
    for label, n_baskets, n_items, size in POINTS:
        r = measure("bench_pairs", "bundlewise", repeats=1, n_baskets=n_baskets, n_items=n_items, mean_size=size)
        print(f"{label:<12}{n_baskets:>12,}{n_items:>10,}{size:>10}{r['pairs']:>11,}{r['seconds']:>9.2f}"
              f"{r['delta_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
