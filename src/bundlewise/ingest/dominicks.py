"""Loaders of Dominick's Finer Foods price panels (bayesm's orange juice and cheese) as price panels.

They return the panel :func:`bundlewise.bundles.elasticity.estimate_elasticities` reads:
``product_id, period, store_id, price, quantity, promo`` and controls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bundlewise.errors import ConfigError

OJ_BRANDS = ("Tropicana Premium 64oz", "Tropicana Premium 96oz", "Florida's Natural 64oz", "Tropicana 64oz",
             "Minute Maid 64oz", "Minute Maid 96oz", "Citrus Hill 64oz", "Tree Fresh 64oz", "Florida Gold 64oz",
             "Dominicks 64oz", "Dominicks 128oz")


def load_dominicks_oj(path: str | Path) -> pd.DataFrame:
    """Dominick's refrigerated orange juice (bayesm ``orangeJuice``) as a price panel.

    Parameters
    ----------
    path : path
        The ``dominicks`` folder (holding ``orangeJuice_yx.csv.gz``) or the file itself.

    Returns
    -------
    DataFrame
        ``product_id`` (brand name, see :data:`OJ_BRANDS`), ``period`` (week), ``store_id``,
        ``price`` (the brand's own price, dollars per ounce), ``quantity`` (``exp(logmove)``,
        units moved), ``promo`` (the ``deal`` flag), ``feat`` (feature ad), ``others_log_price`` (mean
        log price of the 10 other brands in the same store and week: a cross-price control) and
        ``category`` ("orange juice").
    """
    path = Path(path)
    if path.is_dir():
        path = path / "orangeJuice_yx.csv.gz"
    if not path.exists():
        raise ConfigError(f"{path} does not exist; pass the dominicks folder of the shared datasets")
    raw = pd.read_csv(path)
    brand = raw["brand"].to_numpy(np.int64)
    prices = raw[[f"price{i}" for i in range(1, len(OJ_BRANDS) + 1)]].to_numpy()
    own = np.log(prices[np.arange(len(raw)), brand - 1])
    others = (np.log(prices).sum(axis=1) - own) / (len(OJ_BRANDS) - 1)
    return pd.DataFrame({
        "product_id": np.asarray(OJ_BRANDS, dtype=object)[brand - 1], "period": raw["week"].to_numpy(),
        "store_id": raw["store"].astype(str).to_numpy(), "price": prices[np.arange(len(raw)), brand - 1],
        "quantity": np.exp(raw["logmove"].to_numpy()), "promo": raw["deal"].to_numpy(np.int64),
        "feat": raw["feat"].to_numpy(), "others_log_price": others, "category": "orange juice",
    })


def load_dominicks_cheese(path: str | Path) -> pd.DataFrame:
    """Borden sliced cheese (bayesm ``cheese``): one product sold by 88 retailers, no period column.

    ``DISP`` (share of stores with a display) becomes ``promo`` (> 0.5) and the row order within
    a retailer becomes the period, as bayesm ships the weeks in order.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "cheese.csv"
    raw = pd.read_csv(path)
    return pd.DataFrame({
        "product_id": "Borden sliced cheese", "store_id": raw["RETAILER"].astype(str),
        "period": raw.groupby("RETAILER").cumcount().to_numpy(), "price": raw["PRICE"].to_numpy(),
        "quantity": raw["VOLUME"].to_numpy(float), "promo": (raw["DISP"] > 0.5).astype(np.int64).to_numpy(),
        "disp": raw["DISP"].to_numpy(), "category": "cheese",
    })
