"""What the service answers from, loaded once into memory: catalogue, statistics, model, plan.

Requests never touch DuckDB for reads: they read an :class:`Artefacts` object, and a reload
builds a new one beside it and swaps the reference (one assignment), so a request sees either
the old version or the new one, never a mix.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.mining.stored import StoredPairs
from bundlewise.serve.settings import ServeSettings

log = logging.getLogger(__name__)

# the plan columns the API shows (the plan file may hold more: they are kept in "details")
PLAN_NUMBERS = ("regular_price", "bundle_price", "discount", "attach_rate_without", "attach_rate_with",
                "incremental_profit", "profit_low", "profit_high", "n_ab", "lift", "q_value", "model_score", "score")


@dataclass(frozen=True)
class Product:
    product_id: str
    title: str
    category: str
    brand: str
    price: float | None
    cost: float | None
    is_product: bool
    n_orders: int
    stock: float | None = None  # None: unknown (the offers' stock rule lets it pass)


@dataclass(frozen=True)
class Bundle:
    bundle_id: str
    products: tuple[str, ...]
    titles: tuple[str, ...]
    numbers: dict[str, float | None]
    explanation: str
    margin_source: str


@dataclass
class Artefacts:
    """One version of everything the service reads (never mutated after it is built)."""

    version: int
    loaded_at: str
    seconds: float
    products: dict[str, Product]
    pairs: StoredPairs | None
    model: Any | None
    model_info: dict[str, Any] | None
    bundles: dict[str, Bundle]
    plan_info: dict[str, Any] | None
    text_vectors: tuple[np.ndarray, np.ndarray, str] | None   # (product ids, vectors, encoder model id)
    warehouse: dict[str, Any]
    event_counts: list[tuple[str, str, int]] = field(default_factory=list)  # (day, event_type, n) at load
    _search: list[tuple[str, str]] = field(default_factory=list, repr=False)
    titles: dict[str, str] = field(default_factory=dict, repr=False)       # product id -> title
    model_ids: frozenset[str] = field(default_factory=frozenset, repr=False)  # products the model knows

    def __post_init__(self) -> None:
        self.titles = {pid: p.title for pid, p in self.products.items()}
        if self.model is not None:
            self.model_ids = frozenset(map(str, self.model.item_ids_))

    def versions(self) -> dict[str, Any]:
        """What /ready reports: one entry per artefact, None where it is absent."""
        return {
            "artefacts": self.version, "loaded_at": self.loaded_at,
            "warehouse": self.warehouse,
            "pair_stats": None if self.pairs is None else {
                "mining_run": self.pairs.run_id, "pairs": self.pairs.n_pairs, "baskets": self.pairs.n_baskets,
                "min_count": self.pairs.params.get("min_count"), "metric": self.pairs.metric},
            "pair_model": self.model_info,
            "bundle_plan": self.plan_info,
            "text_embeddings": None if self.text_vectors is None else {
                "model_id": self.text_vectors[2], "products": len(self.text_vectors[0])},
        }

    def search(self, query: str, limit: int) -> list[Product]:
        """Products whose id or title contains ``query`` (case-insensitive), best sellers first."""
        q = query.strip().lower()
        if not q:
            return []
        hits = [self.products[pid] for text, pid in self._search if q in text]
        hits.sort(key=lambda p: (-p.n_orders, p.product_id))
        return hits[:limit]


class _Con:
    """The ``.con`` attribute the library's warehouse readers expect, over a bare DuckDB connection."""

    def __init__(self, con: Any):
        self.con = con


def load_artefacts(con: Any, settings: ServeSettings, version: int = 1) -> Artefacts:
    """Read every artefact that exists; what is absent is None (and /ready says so).

    Parameters
    ----------
    con : duckdb connection
        A connection of its own (a cursor of the writer's connection, or a read-only one).
    settings : ServeSettings
    version : int
        Increases by one at each reload.
    """
    t0 = time.perf_counter()
    products = _products(con)
    n_pairs = int(con.execute("SELECT count(*) FROM pair_stats").fetchall()[0][0])
    pairs = StoredPairs.from_connection(con, metric=settings.metric) if n_pairs else None
    model, model_info = _model(settings)
    bundles, plan_info = _plan(settings, products)
    text_vectors = None if model is not None else _text_vectors(con)
    schema = int(con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0])
    counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])  # fixed table names only
              for t in ("products", "orders", "events")}
    events = [(str(d), str(t), int(n)) for d, t, n in con.execute(
        "SELECT CAST(date_trunc('day', ts) AS DATE), event_type, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()]
    art = Artefacts(
        version=version, loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=time.perf_counter() - t0, products=products, pairs=pairs, model=model, model_info=model_info,
        bundles=bundles, plan_info=plan_info, text_vectors=text_vectors,
        warehouse={"path": settings.db, "schema_version": schema, **counts}, event_counts=events,
        _search=[(f"{p.product_id} {p.title}".lower(), p.product_id) for p in products.values()])
    art.seconds = time.perf_counter() - t0
    log.info("artefacts v%d loaded in %.2f s: %d products, %s pairs, model %s, %d bundles", version, art.seconds,
             len(products), n_pairs, "yes" if model is not None else "no", len(bundles))
    return art


def _products(con: Any) -> dict[str, Product]:
    from bundlewise.ingest.catalog import load_catalog

    cat = load_catalog(_Con(con), products_only=False)  # type: ignore[arg-type]
    flags = dict(con.execute("SELECT product_id, is_product FROM products").fetchall())
    out = {}
    for r in cat.itertuples(index=False):
        out[str(r.product_id)] = Product(str(r.product_id), r.title, r.category_path, r.brand, _num(r.price),
                                         _num(r.cost), bool(flags.get(r.product_id, True)), int(r.n_orders),
                                         _num(r.stock))
    return out


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _model(settings: ServeSettings) -> tuple[Any, dict[str, Any] | None]:
    if settings.model is None:
        return None, None
    from bundlewise.pairmodel.io import load_pair_model, read_meta

    meta = read_meta(settings.model)  # a clear ConfigError when the folder is no checkpoint
    model = load_pair_model(settings.model)
    return model, {"path": str(settings.model), "encoder_id": meta.get("encoder_id"),
                   "data_fingerprint": meta.get("data_fingerprint"), "products": meta.get("n_products"),
                   "bundlewise_version": meta.get("bundlewise_version"),
                   "best_held_out_bce": meta.get("best_held_out_bce")}


def _plan(settings: ServeSettings, products: dict[str, Product]) -> tuple[dict[str, Bundle], dict[str, Any] | None]:
    if settings.plan is None:
        return {}, None
    path = Path(settings.plan)
    if not path.is_file():
        raise ConfigError(f"plan file {str(path)!r} does not exist; write one with 'bundlewise bundles --output "
                          f"{path.name}' or leave out --plan")
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            records = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"plan file {str(path)!r} is not valid JSON ({exc}); write it with "
                              "'bundlewise bundles --output plan.json'") from None
    elif suffix == ".csv":
        records = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    else:
        raise ConfigError(f"plan file {str(path)!r} has suffix {suffix!r}; allowed suffixes are '.json', '.csv'")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"plan file {str(path)!r} must hold a list of bundles (records), as "
                          "'bundlewise bundles --output plan.json' writes")
    bundles = {}
    for n, r in enumerate(records, start=1):
        items = r.get("products")
        if isinstance(items, str):  # the CSV joins them with " + "
            items = [x.strip() for x in items.split("+")]
        if not isinstance(items, list) or len(items) < 2:
            raise ConfigError(f"plan file {str(path)!r} bundle {n}: 'products' is {items!r}; it must list 2 or 3 "
                              "product ids")
        items = tuple(str(x) for x in items)
        titles = r.get("titles")
        titles = [x.strip() for x in titles.split(" + ")] if isinstance(titles, str) else titles
        if not isinstance(titles, list) or len(titles) != len(items):
            titles = [products[p].title if p in products else "" for p in items]
        if "selected" in r and str(r["selected"]).lower() in ("false", "0"):
            continue  # an --all file: serve the portfolio only
        bundle_id = str(r.get("bundle_id") or "+".join(sorted(items)))
        bundles[bundle_id] = Bundle(bundle_id, items, tuple(str(t) for t in titles),
                                    {k: _num(r.get(k)) for k in PLAN_NUMBERS}, str(r.get("explanation") or ""),
                                    str(r.get("margin_source") or ""))
    unknown = sorted({p for b in bundles.values() for p in b.products} - set(products))
    if unknown:
        log.warning("plan %s names %d products the warehouse lacks (first: %s)", path, len(unknown), unknown[0])
    info = {"path": str(path), "bundles": len(bundles), "sha256": hashlib.sha256(raw).hexdigest()[:16],
            "modified": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")}
    return bundles, info


def _text_vectors(con: Any) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Cached catalogue embeddings of the encoder with the most vectors (for text cosine without a model)."""
    rows = con.execute("SELECT model_id, count(*) FROM text_embeddings GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
                       ).fetchall()
    if not rows:
        return None
    from bundlewise.ingest.catalog import load_catalog
    from bundlewise.text.cache import read_cached, text_sha256
    from bundlewise.text.templates import product_texts

    model_id = str(rows[0][0])
    catalog = load_catalog(_Con(con))  # type: ignore[arg-type]
    hashes = [text_sha256(t) for t in product_texts(catalog)]
    cached = read_cached(_Con(con), model_id, sorted(set(hashes)))  # type: ignore[arg-type]
    keep = [i for i, h in enumerate(hashes) if h in cached]
    if not keep:
        return None
    ids = catalog["product_id"].to_numpy(dtype=object)[keep]
    vectors = np.stack([cached[hashes[i]] for i in keep]).astype(np.float32)
    return ids, vectors, model_id
