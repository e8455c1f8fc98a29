"""Ingest orchestration: read -> stage -> validate -> write, atomically and idempotently.

One call of :func:`ingest_files` is one transaction: if any file fails (``on_error="fail"``
and a row is rejected, a missing column, a crash), the warehouse is left exactly as it
was. A file whose bytes were ingested before is reported and changes nothing.

Examples
--------
>>> import tempfile, pathlib
>>> from bundlewise.config import IngestConfig
>>> from bundlewise.ingest import Warehouse, ingest_files
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "orders.csv").write_text("order_id,product_id\\n1,milk\\n1,bread\\n2,milk\\n")
>>> with Warehouse(":memory:") as wh:
...     [result] = ingest_files(wh, [folder / "orders.csv"], IngestConfig(kind="orders"))
...     (result.rows_read, result.rows_accepted, result.details["basket_orders"])
(3, 3, 2)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa

from bundlewise.config import IngestConfig
from bundlewise.errors import DataValidationError, RowProblem, SourceFileError
from bundlewise.ingest import events, orders, products
from bundlewise.ingest.fields import FIELDS_BY_KIND, NUMBER, TIMESTAMP
from bundlewise.ingest.presets import bind_columns, resolve
from bundlewise.ingest.readers import REC, SourceInfo, TableReader, TypedParseFailed, inspect_source, open_reader
from bundlewise.ingest.sqlexpr import Binder, Check, lit
from bundlewise.ingest.suspicious import IngestWarning
from bundlewise.ingest.warehouse import Warehouse
from bundlewise.progress import NULL_PROGRESS, Progress

log = logging.getLogger(__name__)

_HANDLERS: dict[str, ModuleType] = {"orders": orders, "products": products, "events": events}
STAGE, REJ, NORM, BAD = "_bw_stage", "_bw_rej", "_bw_norm", "_bw_bad"


@dataclass
class IngestResult:
    """What one file did to the warehouse."""

    source: str
    kind: str
    file_format: str
    sha256: str
    ingest_id: int | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    details: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[IngestWarning] = field(default_factory=list)  # suspicious values, loaded as is
    notes: list[str] = field(default_factory=list)  # decisions taken while reading (generated ids, …)
    already_ingested_as: int | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.already_ingested_as is None


def ingest_files(
    warehouse: Warehouse,
    paths: Sequence[str | Path],
    cfg: IngestConfig,
    progress: Progress = NULL_PROGRESS,
) -> list[IngestResult]:
    """Ingest several files of one kind in a single all-or-nothing transaction.

    Parameters
    ----------
    warehouse : Warehouse
        Target warehouse (opened for writing).
    paths : sequence of path
        CSV/TSV/Parquet/JSONL or basket files, optionally gzip-compressed.
    cfg : IngestConfig
        Kind, preset, mapping and error policy.
    progress : Progress
        Receives progress of the long steps.

    Returns
    -------
    list of IngestResult
        One per file, in order.

    Raises
    ------
    DataValidationError
        ``on_error="fail"`` and at least one row was rejected (nothing is written).
    SourceFileError
        A file is missing, empty, undecodable or lacks a required column.
    """
    with warehouse.transaction():
        results: list[IngestResult] = []
        for path in paths:
            earlier = [r.ingest_id for r in results if r.ingest_id is not None]
            results.append(ingest_file(warehouse, path, cfg, progress, same_command=earlier))
        return results


def ingest_file(
    wh: Warehouse, path: str | Path, cfg: IngestConfig, progress: Progress = NULL_PROGRESS,
    same_command: Sequence[int] = (),
) -> IngestResult:
    """Ingest one file inside the caller's transaction (see :func:`ingest_files`).

    ``same_command`` lists the ingest ids of the files loaded before this one in the same command:
    a product they describe differently is reported in :attr:`IngestResult.warnings`.

    Use this to combine several steps into one all-or-nothing unit::

        with wh.transaction():
            ingest_file(wh, "products.csv", IngestConfig(kind="products"))
            ingest_file(wh, "orders.csv", IngestConfig(kind="orders"))
    """
    path = Path(path)
    started = time.perf_counter()
    started_at = datetime.now()
    resolved = resolve(cfg)
    info = inspect_source(path, cfg.replace(file_format=resolved.file_format))
    result = IngestResult(str(path.resolve()), cfg.kind, info.file_format, info.sha256)
    con = wh.con
    con.execute("SET TimeZone = 'UTC'")
    prev = con.execute(
        "SELECT ingest_id FROM ingest_log WHERE content_sha256 = ? AND kind = ? ORDER BY ingest_id LIMIT 1",
        [info.sha256, cfg.kind],
    ).fetchall()
    if prev:
        prev = prev[0]
        result.already_ingested_as = int(prev[0])
        log.info("%s was ingested before (ingest #%d); nothing to do", info.name, prev[0])
        return result
    log.info("ingesting %s as %s (%s, %s bytes)", info.name, cfg.kind, info.file_format, f"{info.size:,}")
    handler = _HANDLERS[cfg.kind]
    for table in (STAGE, REJ, NORM, BAD):
        con.execute(f"DROP TABLE IF EXISTS {table}")

    reader = open_reader(info, cfg)
    bound = bind_columns(resolved, reader.columns, info.name)
    hints = _type_hints(resolved.cfg.kind, bound, resolved.timestamp_format)
    reader.use_types(hints)
    # Fast path: one streaming pass types every field and flags every failed check in a bitmask.
    try:
        binder, checks = _normalize(con, reader, info, resolved, bound, handler, progress)
    except TypedParseFailed as exc:
        log.info("%s: a value did not parse while reading typed (%s); reading again as text", info.name, exc)
        con.execute(f"DROP TABLE IF EXISTS {NORM}")
        hints = {}
        reader = open_reader(info, cfg)
        binder, checks = _normalize(con, reader, info, resolved, bound, handler, progress)
    n_structural = reader.n_structural()
    structural: list = []
    located: TableReader | None = None
    with progress.task(f"validating {info.name}", total=None):
        con.execute(f"CREATE TEMP TABLE {REJ} (_rec BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR)")
        con.execute(f"CREATE TEMP TABLE {BAD} AS SELECT _rec, _bad FROM {NORM} WHERE _bad <> 0")
        con.execute(f"DELETE FROM {NORM} WHERE _bad <> 0")
        con.execute(f"INSERT INTO {REJ} {handler.group_rejects(con, binder)}")
        con.execute(f"INSERT INTO {BAD} SELECT DISTINCT _rec, 0 FROM {REJ}")
        con.execute(f"DELETE FROM {NORM} WHERE _rec IN (SELECT _rec FROM {REJ})")
    n_bad = int(con.execute(f"SELECT count(DISTINCT _rec) FROM {BAD}").fetchall()[0][0])
    result.rows_read = reader.n_records + n_structural
    result.rows_rejected = n_bad + n_structural
    if result.rows_rejected:
        # Error path: read the file again, keep only the rejected records, explain each one.
        located = _explain_rejects(con, info, cfg, hints, checks, progress)
        structural = located.structural_problems()
        result.problems = _first_problems(con, located, info, structural, cfg.max_problems)
        if cfg.on_error == "fail":
            raise DataValidationError(_failure_message(info, result, cfg), result.problems, result.rows_rejected)

    result.warnings = _warnings(con, handler, binder, info, reader, same_command)
    result.rows_duplicate = handler.duplicates(con, resolved.drop_duplicate_lines)
    ingest_id = int(con.execute("SELECT nextval('ingest_id_seq')").fetchall()[0][0])
    result.ingest_id = ingest_id
    if result.rows_rejected and cfg.on_error == "quarantine":
        _quarantine(con, info, structural, binder, ingest_id, cfg.kind, located)
    with progress.task(f"writing {info.name}", total=None):
        result.details = handler.write(con, ingest_id, binder)
    result.notes = _notes(result, reader)
    # read = accepted + rejected; duplicates are accepted rows that repeat another (kept or collapsed).
    result.rows_accepted = result.rows_read - result.rows_rejected
    for table in (STAGE, REJ, NORM, BAD):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    result.seconds = time.perf_counter() - started
    con.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ingest_id, cfg.kind, result.source, info.sha256, info.size, info.file_format, cfg.preset,
         json.dumps(cfg.to_dict(), default=list), cfg.on_error, result.rows_read, result.rows_accepted,
         result.rows_rejected, result.rows_duplicate, json.dumps(result.details), started_at, datetime.now()],
    )
    return result


def _warnings(con, handler: ModuleType, binder: Binder, info: SourceInfo, reader: TableReader,  # type: ignore[no-untyped-def]
              same_command: Sequence[int]) -> list[IngestWarning]:
    """Suspicious but legal values of the accepted rows (see ingest.suspicious), with their rows."""
    found = handler.warnings(con, binder, same_command) if hasattr(handler, "warnings") else []
    warnings = []
    for s in found:
        rows = reader.row_numbers(np.array(s.recs, dtype=np.int64)) if s.recs else []
        warnings.append(IngestWarning(info.name, s.column, s.reason, s.count,
                                      tuple((int(r), v) for r, v in zip(rows, s.values, strict=True))))
        # info, not warning: the result carries them and the CLI prints them with the summary
        log.info("suspicious values: %s", warnings[-1].describe())
    return warnings


def _notes(result: IngestResult, reader: TableReader) -> list[str]:
    notes = []
    if result.details.get("generated_event_ids"):
        n = result.details["generated_event_ids"]
        notes.append(f"{n:,} event{'s' if n != 1 else ''} had no event_id; generated from a hash of the row "
                     "(the same row sent again is a duplicate)")
    if reader.unnamed:
        kept = ("ignored (orders keep only mapped columns)" if result.kind == "orders" else
                f"a value in it is kept in {'properties' if result.kind == 'events' else 'attributes'} under "
                "that label")
        notes.append(f"{', '.join(reader.unnamed)}: no name in the header (a trailing delimiter, or a pandas "
                     f"index?); {kept}")
    for note in notes:
        log.info("%s: %s", reader.info.name, note)
    return notes


def _normalize(con, reader: TableReader, info: SourceInfo, resolved, bound, handler: ModuleType,  # type: ignore[no-untyped-def]
               progress: Progress) -> tuple[Binder, list[Check]]:
    binder = Binder(resolved, bound, {c: _duck_type(t) for c, t in reader.types.items()},
                    stage_names=dict(zip(reader.columns, reader.stage_names(), strict=True)),
                    source_types=reader.source_types, unnamed=reader.unnamed, nested=reader.nested,
                    value_range=reader.value_range)
    binder.refuse_incompatible(info.name)
    checks = binder.type_checks() + handler.row_checks(binder)
    with progress.task(f"reading {info.name}", total=info.size) as task:
        _scan(con, reader, task, f"SELECT {handler.normalize_select(binder)}, {_bitmask(checks)} AS _bad "
                                 "FROM _bw_src", create=f"CREATE TEMP TABLE {NORM} AS", insert=f"INSERT INTO {NORM}")
    return binder, checks


def _type_hints(kind: str, bound: dict[str, list[str]], timestamp_format: str | None) -> dict[str, pa.DataType]:
    """Source columns that feed only number fields (or only ISO timestamps) may be parsed typed."""
    specs = {f.name: f.type for f in FIELDS_BY_KIND[kind]}
    uses: dict[str, set[str]] = {}
    for name, cols in bound.items():
        for col in cols:
            uses.setdefault(col, set()).add(specs[name])
    hints: dict[str, pa.DataType] = {}
    for col, types in uses.items():
        if types == {NUMBER}:
            hints[col] = pa.float64()
        elif types == {TIMESTAMP} and not timestamp_format:
            hints[col] = pa.timestamp("us")
    return hints


def _duck_type(t: pa.DataType) -> str:
    """The DuckDB type Binder sees for a staged Arrow type (readers stage only these, see readers.parquet)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "BLOB"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE" if t.tz else "TIMESTAMP"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "DOUBLE"
    return "BIGINT"


def _bitmask(checks: list[Check]) -> str:
    """SQL for a BIGINT whose bit i is set when check i fails (NULL conditions count as passing)."""
    if not checks:
        return "CAST(0 AS BIGINT)"
    if len(checks) > 62:
        raise SourceFileError(f"{len(checks)} checks on this file's columns, at most 62 fit in one pass; map "
                              "fewer columns (a field joined from many columns with '+')")
    return " + ".join(f"(CASE WHEN {c.condition} THEN {1 << i} ELSE 0 END)" for i, c in enumerate(checks))


_CHUNK_BYTES = 64 << 20


@contextmanager
def _registered(con, name: str, table: pa.Table) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Register an Arrow table for the block; a failing unregister never hides the block's own error."""
    con.register(name, table)
    try:
        yield
    finally:
        try:
            con.unregister(name)
        except Exception as exc:  # noqa: BLE001 (cleanup only: the real error, if any, is propagating)
            log.debug("unregister %s failed: %s", name, exc)


def _scan(con, reader: TableReader, task, sql: str, *, create: str, insert: str) -> None:  # type: ignore[no-untyped-def]
    """Run ``sql`` over the reader's records, registered as ``_bw_src``, chunk by chunk.

    Batches are gathered into chunks of about 64 MiB of Arrow data so DuckDB scans each
    chunk with all its threads, while memory stays bounded for files of any size.
    The first chunk runs ``create + sql``, later ones ``insert + sql``.
    """
    stream = reader.stream(task)
    staged_names = [*reader.stage_names(), REC]  # positional: file names never reach SQL
    pending: list[pa.RecordBatch] = []
    size = 0
    first = True

    def flush() -> None:
        nonlocal first, pending, size
        table = pa.Table.from_batches(pending, schema=stream.schema).rename_columns(staged_names)
        with _registered(con, "_bw_src", table):
            con.execute((create if first else insert) + " " + sql)
        first, pending, size = False, [], 0

    try:
        for batch in stream:
            pending.append(batch)
            size += batch.nbytes
            if size >= _CHUNK_BYTES:
                flush()
    except Exception:
        if reader.failure is not None:  # raise the reader's own error, not Arrow's wrapper of it
            raise reader.failure from None
        raise
    if pending or first:
        flush()


def _explain_rejects(con, info: SourceInfo, cfg: IngestConfig, hints: dict[str, pa.DataType],  # type: ignore[no-untyped-def]
                     checks: list[Check], progress: Progress) -> TableReader:
    """Stage the raw rejected records and list, per record, every failed check with its value.

    The file is read again exactly as in the fast path (same type hints), so ``_rec`` numbers match.
    """
    reader = open_reader(info, cfg)
    reader.use_types(hints)
    with progress.task(f"explaining rejected rows of {info.name}", total=info.size) as task:
        _scan(con, reader, task, f"SELECT s.*, b._bad FROM _bw_src s JOIN {BAD} b USING ({REC})",
              create=f"CREATE TEMP TABLE {STAGE} AS", insert=f"INSERT INTO {STAGE}")
    if checks:
        union = "\nUNION ALL\n".join(
            f"SELECT {REC}, {lit(c.column)}, CAST(({c.value_sql}) AS VARCHAR), {lit(c.reason)} "
            f"FROM {STAGE} WHERE (_bad & {1 << i}) <> 0"
            for i, c in enumerate(checks)
        )
        con.execute(f"INSERT INTO {REJ} {union}")
    return reader


_SAME_REASON_SHOWN = 3


def _first_problems(con, reader: TableReader, info: SourceInfo, structural, limit: int) -> list[RowProblem]:  # type: ignore[no-untyped-def]
    """The first rejected rows, at most three with the same reason (one bad order can span 50 lines)."""
    rows = con.execute(f"""
        SELECT _rec, column_name, value, reason FROM (
            SELECT *, row_number() OVER (PARTITION BY reason ORDER BY _rec, column_name) AS k FROM {REJ})
        WHERE k <= {_SAME_REASON_SHOWN} ORDER BY _rec, column_name LIMIT {int(limit)}""").fetchall()
    problems = [RowProblem(info.name, p.row_number, "(whole row)", p.text, p.reason) for p in structural]
    if rows:
        lines = reader.row_numbers(np.array([r[0] for r in rows], dtype=np.int64))
        problems += [RowProblem(info.name, int(n), r[1], r[2], r[3]) for n, r in zip(lines, rows, strict=True)]
    problems.sort(key=lambda p: p.row_number)
    return problems[:limit]


def _failure_message(info: SourceInfo, result: IngestResult, cfg: IngestConfig) -> str:
    lines = [
        f"{info.name}: {result.rows_rejected:,} of {result.rows_read:,} rows rejected; nothing was written.",
        *("  " + p.describe() for p in result.problems),
    ]
    shown = len(result.problems)
    if result.rows_rejected > shown:
        lines.append(f"  … and {result.rows_rejected - shown:,} more rejected rows")
    lines.append(
        "Fix the rows above, or pass --on-error skip to load the valid rows, or --on-error quarantine to "
        "load them and keep the rejected rows in the warehouse (see 'bundlewise rejects')."
    )
    return "\n".join(lines)


def _quarantine(con, info: SourceInfo, structural, binder: Binder, ingest_id: int, kind: str,  # type: ignore[no-untyped-def]
                located: TableReader | None = None) -> None:
    recs = np.array([r[0] for r in con.execute(f"SELECT DISTINCT _rec FROM {REJ} ORDER BY 1").fetchall()],
                    dtype=np.int64)
    if len(recs):
        assert located is not None
        lines = located.row_numbers(recs)
        con.register("_bw_lines_map", pa.table({"_rec": recs, "row_number": lines}))
        # The record's key as the handler canonicalises it (orders: the order id), so a fixed line can
        # later be matched to its order (see orders.group_rejects).
        key_field = getattr(_HANDLERS[kind], "RECORD_KEY", None)
        key = binder.id(key_field) if key_field and binder.has(key_field) else "CAST(NULL AS VARCHAR)"
        con.execute(f"""
            INSERT INTO rejected_rows (ingest_id, kind, source, row_number, column_name, value, reason, raw,
                                       record_key)
            SELECT {ingest_id}, {lit(kind)}, {lit(info.name)}, m.row_number, r.column_name, r.value, r.reason,
                   {binder.raw_json('s.')}, k.record_key
            FROM {REJ} r JOIN _bw_lines_map m USING (_rec) JOIN {STAGE} s ON s._rec = r._rec
                 JOIN (SELECT _rec, {key} AS record_key FROM {STAGE}) k ON k._rec = r._rec
            ORDER BY m.row_number, r.column_name""")
        con.unregister("_bw_lines_map")
    for p in structural:
        con.execute("INSERT INTO rejected_rows (ingest_id, kind, source, row_number, column_name, value, reason, "
                    "raw) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)",
                    [ingest_id, kind, info.name, p.row_number, p.text, p.reason, json.dumps({"text": p.text})])
