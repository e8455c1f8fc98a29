"""Warehouse schema: the canonical tables and the ordered list of migrations.

A migration is appended, never edited: a warehouse records the highest version it
has applied in ``schema_version`` and :class:`~bundlewise.ingest.warehouse.Warehouse`
applies the missing ones, each in its own transaction, when it opens the file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE SEQUENCE IF NOT EXISTS ingest_id_seq START 1""",
    """CREATE TABLE ingest_log (
        ingest_id      INTEGER PRIMARY KEY,
        kind           VARCHAR NOT NULL,          -- orders | products | events
        source         VARCHAR NOT NULL,          -- absolute path of the file
        content_sha256 VARCHAR NOT NULL,
        file_bytes     BIGINT,
        file_format    VARCHAR,
        preset         VARCHAR,
        config         JSON,
        on_error       VARCHAR,
        rows_read      BIGINT,
        rows_accepted  BIGINT,
        rows_rejected  BIGINT,
        rows_duplicate BIGINT,
        details        JSON,                      -- kind-specific counts
        started_at     TIMESTAMP,
        finished_at    TIMESTAMP
    )""",
    """CREATE TABLE products (
        product_id    VARCHAR PRIMARY KEY,
        title         VARCHAR,
        description   VARCHAR,
        category_path VARCHAR,
        brand         VARCHAR,
        price         DOUBLE,
        cost          DOUBLE,
        stock         DOUBLE,
        is_product    BOOLEAN NOT NULL DEFAULT TRUE,  -- FALSE: fee, postage, adjustment
        origin        VARCHAR NOT NULL,               -- catalog | derived
        attributes    JSON,                           -- catalog columns with no canonical home
        first_seen_at TIMESTAMP,
        last_seen_at  TIMESTAMP,
        ingest_id     INTEGER
    )""",
    """CREATE TABLE product_titles (
        product_id    VARCHAR NOT NULL,
        title         VARCHAR NOT NULL,
        n_lines       BIGINT NOT NULL,
        first_seen_at TIMESTAMP,
        last_seen_at  TIMESTAMP,
        PRIMARY KEY (product_id, title)
    )""",
    """CREATE TABLE orders (
        order_id    VARCHAR PRIMARY KEY,
        customer_id VARCHAR,
        ordered_at  TIMESTAMP,
        store_id    VARCHAR,
        segment     VARCHAR,
        kind        VARCHAR NOT NULL,    -- sale | cancellation
        ingest_id   INTEGER NOT NULL
    )""",
    """CREATE TABLE order_lines (
        order_id      VARCHAR NOT NULL,
        product_id    VARCHAR NOT NULL,
        quantity      DOUBLE NOT NULL,
        unit_price    DOUBLE,
        discount      DOUBLE,
        ingest_id     INTEGER NOT NULL,
        source_record BIGINT NOT NULL   -- 1-based data record in the source file (its line identity)
    )""",
    """CREATE TABLE returns (
        order_id      VARCHAR NOT NULL,
        product_id    VARCHAR NOT NULL,
        quantity      DOUBLE NOT NULL,   -- units returned, > 0
        unit_price    DOUBLE,
        returned_at   TIMESTAMP,
        customer_id   VARCHAR,
        reason        VARCHAR NOT NULL,  -- cancellation | negative_quantity
        ingest_id     INTEGER NOT NULL,
        source_record BIGINT NOT NULL
    )""",
    """CREATE TABLE events (
        event_id    VARCHAR PRIMARY KEY,
        ts          TIMESTAMP NOT NULL,
        event_type  VARCHAR NOT NULL,
        session_id  VARCHAR,
        customer_id VARCHAR,
        product_id  VARCHAR,
        offer_id    VARCHAR,
        bundle_id   VARCHAR,
        value       DOUBLE,
        properties  JSON,
        ingest_id   INTEGER NOT NULL
    )""",
    """CREATE TABLE rejected_rows (
        ingest_id  INTEGER NOT NULL,
        kind       VARCHAR NOT NULL,
        source     VARCHAR NOT NULL,
        row_number BIGINT NOT NULL,   -- CSV/JSONL: line in the file (header = 1); Parquet: row index + 1
        column_name VARCHAR,
        value      VARCHAR,
        reason     VARCHAR NOT NULL,
        raw        JSON               -- the whole source row, so it can be fixed and re-ingested
    )""",
    # Baskets are what mining reads: distinct products of a sale, real products only,
    # positive quantity and (when known) positive price. Cancellations, returns, fees,
    # postage and zero-price adjustments never enter a basket.
    """CREATE VIEW basket_items AS
        SELECT DISTINCT l.order_id, l.product_id
        FROM order_lines l
        JOIN orders o USING (order_id)
        JOIN products p USING (product_id)
        WHERE o.kind = 'sale' AND p.is_product AND l.quantity > 0
          AND (l.unit_price IS NULL OR l.unit_price > 0)""",
)


_V2 = (
    """CREATE SEQUENCE IF NOT EXISTS mining_run_seq START 1""",
    """CREATE TABLE mining_runs (
        run_id            INTEGER PRIMARY KEY,
        kind              VARCHAR NOT NULL,   -- pairs | rules
        params            JSON,
        n_baskets         BIGINT,
        n_items           BIGINT,
        n_dropped_baskets BIGINT,
        n_results         BIGINT,
        seconds           DOUBLE,
        created_at        TIMESTAMP
    )""",
    """CREATE TABLE pair_stats (
        run_id INTEGER NOT NULL, product_a VARCHAR NOT NULL, product_b VARCHAR NOT NULL,
        n_ab BIGINT, n_a BIGINT, n_b BIGINT, support DOUBLE, confidence_ab DOUBLE, confidence_ba DOUBLE,
        lift DOUBLE, leverage DOUBLE, conviction_ab DOUBLE, conviction_ba DOUBLE, jaccard DOUBLE, cosine DOUBLE,
        npmi DOUBLE, shrunk_lift DOUBLE, p_value DOUBLE, neg_log10_p DOUBLE, q_value DOUBLE
    )""",
    """CREATE TABLE itemsets (
        run_id INTEGER NOT NULL, items VARCHAR[] NOT NULL, length INTEGER, count BIGINT, support DOUBLE
    )""",
    """CREATE TABLE rules (
        run_id INTEGER NOT NULL, antecedent VARCHAR[] NOT NULL, consequent VARCHAR NOT NULL, support DOUBLE,
        confidence DOUBLE, lift DOUBLE, count BIGINT, coverage DOUBLE, leverage DOUBLE, conviction DOUBLE
    )""",
)

_V3 = (
    """CREATE TABLE text_embeddings (
        model_id    VARCHAR NOT NULL,   -- encoder, version and settings that change vectors
        text_sha256 VARCHAR NOT NULL,   -- of the exact text that was encoded
        dim         INTEGER NOT NULL,
        vector      FLOAT[] NOT NULL,
        created_at  TIMESTAMP,
        PRIMARY KEY (model_id, text_sha256)
    )""",
)


# The fix-and-reingest loop: a quarantined line knows its record's key (the order id for orders, so a
# fixed line can be matched to the order it belongs to) and, once a later ingest loaded it, which one.
_V4 = (
    """ALTER TABLE rejected_rows ADD COLUMN record_key VARCHAR""",
    """ALTER TABLE rejected_rows ADD COLUMN resolved_by_ingest INTEGER""",
)


# Offers that learn: every decision the service takes, with the exact propensity of what it chose (the
# contract in the offers docs), and the decision an event follows as a column of its own.
_V5 = (
    """ALTER TABLE events ADD COLUMN decision_id VARCHAR""",
    """CREATE TABLE offer_decisions (
        decision_id     VARCHAR PRIMARY KEY,
        ts              TIMESTAMP NOT NULL,
        placement       VARCHAR NOT NULL,     -- product_page | cart | home | email | ad_slot
        session_id      VARCHAR,
        customer_id     VARCHAR,
        context         JSON,                 -- the request's context object as received
        offer_id        VARCHAR NOT NULL,     -- the arm chosen; 'none' for showing nothing
        offer_kind      VARCHAR NOT NULL,     -- bundle | complement | none
        bundle_id       VARCHAR,
        product_id      VARCHAR,              -- complement offered (offer_kind = complement)
        discount        DOUBLE,               -- share off, 0..1 (bundle offers)
        propensity      DOUBLE NOT NULL CHECK (propensity > 0 AND propensity <= 1),
        eligible        JSON NOT NULL,        -- offer ids the policy chose among, in order
        probabilities   JSON NOT NULL,        -- P(offer) for each eligible offer, same order, sums to 1
        policy          VARCHAR NOT NULL,
        policy_version  VARCHAR NOT NULL,
        slot            INTEGER NOT NULL,     -- 0-based position when k > 1 offers are returned
        expected_margin DOUBLE                -- the policy's estimate at decision time (may be NULL)
    )""",
)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical tables: products, orders, order lines, returns, events, ingest log, rejects", _V1),
    Migration(2, "mining results: runs, pair statistics, itemsets, rules", _V2),
    Migration(3, "text embeddings cache: vectors by model and text hash", _V3),
    Migration(4, "rejected rows: record key and the ingest that fixed them", _V4),
    Migration(5, "offer decisions with their propensities; events.decision_id", _V5),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version


CANONICAL_TABLES = (
    "products",
    "product_titles",
    "orders",
    "order_lines",
    "returns",
    "events",
    "ingest_log",
    "rejected_rows",
    "mining_runs",
    "pair_stats",
    "itemsets",
    "rules",
    "text_embeddings",
    "offer_decisions",
)
