"""The leak-free evaluation split: temporal blocks plus a set of cold-start products.

Training is every basket before the validation block, validation the next ``valid_days``,
test the last ``test_days``. A seeded random share of the products sold in validation or test
is *cold*: every one of their lines is removed from every training table (the baskets keep their
other products), and their sales counts in the catalogue are zeroed, so a model can know them
only by their text and price — exactly the position of a product launched tomorrow.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from bundlewise.mining import Baskets
>>> days = np.arange(60).astype("datetime64[D]").astype("datetime64[us]")
>>> b = Baskets.from_long(np.repeat(np.arange(60), 2).astype(str),
...                       np.array([["a", "b"], ["b", "c"], ["a", "c"]] * 20).ravel(), np.repeat(days, 2))
>>> catalog = pd.DataFrame({"product_id": ["a", "b", "c"], "title": ["A", "B", "C"]})
>>> s = temporal_split(b, catalog, EvalConfig(test_days=10, valid_days=10, cold_fraction=0.0))
>>> s.train.n_baskets, s.valid.n_baskets, s.test.n_baskets
(40, 10, 10)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bundlewise.config import EvalConfig
from bundlewise.errors import ConfigError
from bundlewise.mining.baskets import Baskets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSplit:
    """Train / validation / test baskets over one vocabulary, the cold products and the catalogue.

    Attributes
    ----------
    train, valid, test : Baskets
        ``train`` never contains a cold product; ``valid`` and ``test`` do (they are scored on them).
    valid_fit : Baskets
        ``valid`` without the cold products: what a model refitted before the test may learn from.
    cold_items : array of str
        Sorted ids of the cold-start products.
    catalog : DataFrame
        One row per candidate product (``product_id`` sorted); ``n_orders`` counts training
        baskets only (0 for cold products), so no sales figure leaks from validation or test.
    boundaries : dict
        The timestamps that separate the blocks.
    """

    train: Baskets
    valid: Baskets
    test: Baskets
    cold_items: np.ndarray
    catalog: pd.DataFrame
    boundaries: dict[str, np.datetime64] = field(default_factory=dict)
    config: EvalConfig = field(default_factory=EvalConfig)
    valid_fit: Baskets | None = None  # validation without cold products: what a refit may learn from

    def fit_data(self, part: str) -> Baskets:
        """The baskets a model may learn from before being scored on ``part`` (valid or test)."""
        if part == "valid":
            return self.train
        if part == "test":
            valid = self.valid_fit if self.valid_fit is not None else self.valid
            return concat_baskets(self.train, valid) if self.config.refit else self.train
        raise ConfigError(f"part is {part!r}; allowed parts are 'valid', 'test'")

    def target(self, part: str) -> Baskets:
        if part not in ("valid", "test"):
            raise ConfigError(f"part is {part!r}; allowed parts are 'valid', 'test'")
        return self.valid if part == "valid" else self.test

    def catalog_for(self, part: str) -> pd.DataFrame:
        """The catalogue as seen when fitting for ``part``: sales counts from the fit data only."""
        counts = self.fit_data(part).item_counts()
        cat = self.catalog.copy()
        codes = np.searchsorted(self.train.item_ids, cat["product_id"].to_numpy(dtype=object))
        cat["n_orders"] = counts[codes].astype(np.int64)
        return cat

    def describe(self) -> dict[str, object]:
        return {
            "train_baskets": self.train.n_baskets, "valid_baskets": self.valid.n_baskets,
            "test_baskets": self.test.n_baskets, "catalog_products": len(self.catalog),
            "cold_products": len(self.cold_items),
            **{k: str(v) for k, v in self.boundaries.items()},
        }


def concat_baskets(a: Baskets, b: Baskets) -> Baskets:
    """Baskets of ``a`` then ``b`` (same vocabulary)."""
    if not np.array_equal(a.item_ids, b.item_ids):
        raise ConfigError(f"concatenated baskets must share one vocabulary (got {len(a.item_ids):,} and "
                          f"{len(b.item_ids):,} products); re-express both with Baskets.with_vocabulary(union) first")
    indptr = np.concatenate([a.indptr, b.indptr[1:] + a.indptr[-1]])
    ids = None if a.basket_ids is None or b.basket_ids is None else np.concatenate([a.basket_ids, b.basket_ids])
    ts = None if a.timestamps is None or b.timestamps is None else np.concatenate([a.timestamps, b.timestamps])
    return Baskets(indptr, np.concatenate([a.indices, b.indices]), a.item_ids, ids, ts, dict(a.meta))


def drop_items(baskets: Baskets, items_mask: np.ndarray) -> Baskets:
    """Remove the items where ``items_mask`` is true from every basket; empty baskets go too."""
    keep_entry = ~items_mask[baskets.indices]
    sizes = np.add.reduceat(keep_entry.astype(np.int64), baskets.indptr[:-1]) if baskets.nnz else \
        np.zeros(baskets.n_baskets, dtype=np.int64)
    sizes[baskets.sizes() == 0] = 0  # reduceat repeats the next value for empty rows
    indptr = np.zeros(baskets.n_baskets + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    reduced = Baskets(indptr, baskets.indices[keep_entry], baskets.item_ids, baskets.basket_ids,
                      baskets.timestamps, dict(baskets.meta))
    return reduced.select(sizes > 0)


def temporal_split(baskets: Baskets, catalog: pd.DataFrame, config: EvalConfig | None = None) -> EvalSplit:
    """Split ``baskets`` into train / validation / test blocks and draw the cold products.

    Parameters
    ----------
    baskets : Baskets
        Must carry timestamps.
    catalog : DataFrame
        Needs ``product_id``; products of the baskets missing from it are added (with empty text),
        products that never sold are left out.
    config : EvalConfig, optional
        Default ``EvalConfig()``.

    Returns
    -------
    EvalSplit
    """
    config = config or EvalConfig()
    if baskets.timestamps is None:
        raise ConfigError("a temporal split needs basket timestamps; these baskets have none (load them from the "
                          "warehouse with load_baskets, or give orders an ordered_at column)")
    baskets, n_dropped = baskets.cap_size(config.max_basket_size)
    # The candidate universe is every product sold at least once (in any block): a catalogue
    # row that never sold can be neither a target nor evidence, only a distractor.
    sold = baskets.item_ids[baskets.item_counts() > 0].astype(str)
    catalog = catalog[catalog["product_id"].astype(str).isin(sold)]
    vocab = np.asarray(sold, dtype=object)
    baskets = baskets.with_vocabulary(vocab)
    ts = baskets.timestamps.astype("datetime64[us]")
    end = ts.max() + np.timedelta64(1, "us")
    t_test = end - np.timedelta64(int(config.test_days * 86_400e6), "us")
    t_valid = t_test - np.timedelta64(int(config.valid_days * 86_400e6), "us")
    train_mask, test_mask = ts < t_valid, ts >= t_test
    valid_mask = ~train_mask & ~test_mask
    for name, mask in (("training", train_mask), ("validation", valid_mask), ("test", test_mask)):
        if not mask.any():
            raise ConfigError(f"the {name} block is empty: the orders span {ts.min()} to {ts.max()}; shorten "
                              f"test_days ({config.test_days}) / valid_days ({config.valid_days})")
    train, valid, test = baskets.select(train_mask), baskets.select(valid_mask), baskets.select(test_mask)

    # Cold products: drawn among those sold in validation or test (others could never be scored).
    later = np.union1d(np.unique(valid.indices), np.unique(test.indices))
    n_cold = int(round(config.cold_fraction * len(later)))
    rng = np.random.default_rng(config.seed)
    cold_codes = np.sort(rng.choice(later, size=n_cold, replace=False)) if n_cold else np.array([], dtype=np.int64)
    cold_mask = np.zeros(len(vocab), dtype=bool)
    cold_mask[cold_codes] = True
    # cold products leave every table a model learns from; validation keeps them for scoring
    train, valid_fit = drop_items(train, cold_mask), drop_items(valid, cold_mask)

    cat = catalog.copy()
    cat["product_id"] = cat["product_id"].astype(str)
    missing = np.setdiff1d(vocab.astype(str), cat["product_id"].to_numpy())
    if len(missing):
        cat = pd.concat([cat, pd.DataFrame({"product_id": missing})], ignore_index=True)
    for col in ("title", "description", "category_path", "brand"):
        cat[col] = cat[col].fillna("") if col in cat else ""
    cat = cat.sort_values("product_id", kind="stable").reset_index(drop=True)
    cat["n_orders"] = train.item_counts()[np.searchsorted(vocab, cat["product_id"].to_numpy(dtype=object))]
    log.info("split: %d train, %d valid, %d test baskets; %d cold products; %d dropped by the size cap",
             train.n_baskets, valid.n_baskets, test.n_baskets, n_cold, n_dropped)
    return EvalSplit(train, valid, test, vocab[cold_codes].astype(str), cat,
                     {"valid_from": t_valid, "test_from": t_test}, config, valid_fit)
