"""Benchmark inputs: Online Retail baskets (through bundlewise's own ingest) and synthetic baskets."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from bench._harness import ROOT, SHARED

CACHE = ROOT / "bench" / "results" / "cache"
ONLINE_RETAIL = SHARED / "online_retail" / "online_retail.csv.gz"


@cache
def online_retail_baskets_file() -> Path:
    """Online Retail sales baskets (real products, no cancellations/fees), one per line, cached."""
    out = CACHE / "online_retail_baskets.txt"
    if out.exists():
        return out
    from bundlewise.config import IngestConfig
    from bundlewise.ingest import Warehouse, ingest_files
    from bundlewise.mining import load_baskets

    if not ONLINE_RETAIL.exists():
        raise SystemExit(f"{ONLINE_RETAIL} is missing (the shared datasets folder); nothing to benchmark")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "w.duckdb") as wh:
        ingest_files(wh, [ONLINE_RETAIL], IngestConfig(kind="orders", preset="online-retail"))
        baskets = load_baskets(wh)
    # stock codes hold no commas or spaces, so a plain comma-separated line per basket is exact
    out.write_text("\n".join(",".join(b) for b in baskets.to_lists()) + "\n")
    return out


def read_lists(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if line]


def synthetic_codes(n_baskets: int, n_items: int = 20_000, mean_size: float = 4.0, zipf: float = 1.0,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(basket code, item code) rows: basket sizes 1 + Poisson(mean - 1), items drawn with Zipf
    popularity (weight 1 / rank**zipf) — a retail-like long tail. Duplicates within a basket
    are left in (real order lines repeat products); every contender de-duplicates."""
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(mean_size - 1, n_baskets)
    p = 1.0 / np.arange(1, n_items + 1) ** zipf
    cdf = np.cumsum(p / p.sum())
    items = np.searchsorted(cdf, rng.random(int(sizes.sum()))).astype(np.int32)
    items = np.minimum(items, n_items - 1)
    # shuffle codes so popularity is not aligned with code order (as with real product ids)
    perm = rng.permutation(n_items).astype(np.int32)
    baskets = np.repeat(np.arange(n_baskets, dtype=np.int64), sizes)
    return baskets, perm[items]
