"""A small synthetic shop with themes: baskets mostly stay inside one theme, over 120 days."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

THEMES = {
    "tea": ["green tea", "black tea", "tea pot", "tea cups", "honey jar", "tea strainer"],
    "garden": ["garden gloves", "flower seeds", "watering can", "plant pot", "garden trowel", "compost bag"],
    "baking": ["cake tin", "baking paper", "flour bag", "cookie cutter", "mixing bowl", "icing sugar"],
    "party": ["party balloons", "paper napkins", "birthday candles", "party hats", "gift wrap", "paper plates"],
}


def shop_rows(seed: int = 0, n_orders: int = 600, days: int = 120) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    names = [p for ps in THEMES.values() for p in ps]
    pid = {name: f"P{i:03d}" for i, name in enumerate(names)}
    start = np.datetime64("2024-01-01T09:00")
    rows = []
    for o in range(n_orders):
        theme = list(THEMES)[int(rng.integers(len(THEMES)))]
        size = int(rng.integers(2, 5))
        items = list(rng.choice(THEMES[theme], size=size, replace=False))
        if rng.random() < 0.2:  # some noise across themes
            items.append(str(rng.choice(names)))
        when = start + np.timedelta64(int(o * days * 24 * 60 / n_orders), "m")
        for name in dict.fromkeys(items):
            rows.append([f"O{o:05d}", pid[name], name, 1, str(when).replace("T", " "), 2.5 + names.index(name) % 5])
    return rows


def write_shop(path: Path, seed: int = 0) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "product_id", "title", "quantity", "ordered_at", "unit_price"])
        w.writerows(shop_rows(seed))
    return path
