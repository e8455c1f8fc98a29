"""Where baskets come from: the warehouse (with segment and date filters) or a basket file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.config import IngestConfig, check_date_range
from bundlewise.errors import ConfigError
from bundlewise.ingest.readers import inspect_source, open_reader
from bundlewise.mining.baskets import Baskets
from bundlewise.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:  # DuckDB is loaded by whoever opens a warehouse, not by mining a basket file
    from bundlewise.ingest.warehouse import Warehouse


@dataclass(frozen=True)
class BasketQuery:
    """Which baskets to mine: all, or those of some segments (country, customer group),
    stores, customers or a date range (``since`` inclusive, ``until`` exclusive)."""

    segments: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        check_date_range(self.since, self.until)  # "yesterday" must not reach SQL as a bug

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        for column, values in (("o.segment", self.segments), ("o.store_id", self.stores),
                               ("o.customer_id", self.customers)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if self.since:
            clauses.append("o.ordered_at >= CAST(? AS TIMESTAMP)")
            params.append(self.since.strip())
        if self.until:
            clauses.append("o.ordered_at < CAST(? AS TIMESTAMP)")
            params.append(self.until.strip())
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def describe(self) -> str:
        parts = [f"{name}={','.join(v)}" for name, v in (("segment", self.segments), ("store", self.stores),
                                                           ("customer", self.customers)) if v]
        parts += [f"since={self.since}"] if self.since else []
        parts += [f"until={self.until}"] if self.until else []
        return " ".join(parts) or "all baskets"


def load_baskets(wh: Warehouse, query: BasketQuery = BasketQuery(), progress: Progress = NULL_PROGRESS) -> Baskets:
    """The warehouse's baskets (``basket_items``: sales of real products) that match ``query``."""
    where, params = query.where()
    with progress.task("loading baskets", total=None):
        table = wh.con.sql(
            f"""SELECT b.order_id, b.product_id, o.ordered_at
                FROM basket_items b JOIN orders o USING (order_id){where}
                ORDER BY b.order_id, b.product_id""", params=params).to_arrow_table()
    if table.num_rows == 0:
        raise ConfigError(f"no baskets match ({query.describe()}); load orders first ('bundlewise ingest orders' "
                          "or 'bundlewise datasets load') or widen the filters")
    baskets = Baskets.from_long(table.column("order_id"), table.column("product_id"), table.column("ordered_at"))
    baskets.meta["query"] = query.describe()
    return baskets


def read_basket_file(path: str | Path, *, delimiter: str | None = None, encoding: str | None = None,
                     progress: Progress = NULL_PROGRESS) -> Baskets:
    """Baskets from a plain file with one basket per line (``a,b,c``), no warehouse needed.

    The lines are read by the ingest's :class:`~bundlewise.ingest.readers.BasketReader` (same
    separators, quoting, encodings, errors), but straight into lists: building Arrow batches would
    import pandas (pyarrow does, ~0.3 s of a ``rules --baskets`` process). Basket ids are the
    reader's ``<file name>:<n>``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     f = Path(tmp) / "b.txt"
    ...     _ = f.write_text("tea,milk\\n\\n jam , tea,tea\\n")
    ...     b = read_basket_file(f)
    >>> b.to_lists(), b.basket_ids.tolist()
    ([['milk', 'tea'], ['jam', 'tea']], ['b.txt:1', 'b.txt:2'])
    """
    cfg = IngestConfig(kind="orders", file_format="baskets", delimiter=delimiter, encoding=encoding)
    info = inspect_source(path, cfg)
    reader = open_reader(info, cfg)
    with progress.task(f"reading {info.name}", total=info.size) as task:
        lists = [record for _, record in reader.records(task)]  # type: ignore[attr-defined]
    baskets = Baskets.from_lists(lists)
    labels = np.empty(len(lists), dtype=object)
    labels[:] = [f"{info.name}:{n}" for n in range(1, len(lists) + 1)]
    baskets = dataclasses.replace(baskets, basket_ids=labels)
    baskets.meta["source"] = str(path)
    return baskets
