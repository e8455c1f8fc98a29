"""Suspicious but legal values: loaded as they are, reported as warnings (never refusals).

A value that breaks a rule (a negative price, an unparsable date) is rejected; a value that is
allowed but usually a mistake is loaded and named here, with its rows, so a person can check it:

* negative ``stock`` (a back-order count, or a sign error);
* ``cost`` above ``price`` (every sale loses money; swapped columns?);
* a timestamp far outside the data's range: before :data:`EARLIEST`, more than a year in the
  future, or more than ``max(3 × IQR, 1 year)`` beyond the middle half (Q1 … Q3) of the file's own
  timestamps (Tukey's "far out" fence, widened to a year so a file of one busy week does not flag
  the next month);
* a product that two files of one command describe differently (title, price or category): the
  later file wins, as it always does, but in one command that is more likely a mix-up than an update.

Handlers call these helpers from their ``warnings()`` on the normalised table ``_bw_norm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

NORM = "_bw_norm"
EARLIEST = datetime(1990, 1, 1)  # no shop export we know of holds older orders; year 1 or 1900 is a typo
FUTURE = timedelta(days=366)
FENCE_IQRS = 3.0
MIN_FENCE = timedelta(days=365)
EXAMPLES = 3


@dataclass(frozen=True)
class Suspicion:
    """What a handler found: ``recs`` are record indices (``_rec``), mapped to rows by the pipeline."""

    column: str
    reason: str
    count: int
    recs: tuple[int, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class IngestWarning:
    """A suspicious value that was loaded as is, with the first rows that hold it."""

    source: str
    column: str
    reason: str
    count: int
    examples: tuple[tuple[int, str], ...]  # (row number as the user sees it, value)

    def describe(self) -> str:
        shown = ", ".join(f"row {row:,}: {value!r}" for row, value in self.examples)
        more = f", … {self.count - len(self.examples):,} more" if self.count > len(self.examples) else ""
        rows = "row" if self.count == 1 else "rows"
        return f"{self.source}: {self.count:,} {rows}: column {self.column!r} {self.reason} ({shown}{more})"


def find(con: duckdb.DuckDBPyConnection, rows_sql: str, column: str, reason: str) -> list[Suspicion]:
    """Count the rows of ``rows_sql`` (a query yielding ``_rec, value``) and keep the first few."""
    count, recs, values = con.execute(f"""
        SELECT count(*), list(_rec ORDER BY _rec)[1:{EXAMPLES}], list(value ORDER BY _rec)[1:{EXAMPLES}]
        FROM (SELECT _rec, CAST(value AS VARCHAR) AS value FROM ({rows_sql}))""").fetchall()[0]
    if not count:
        return []
    return [Suspicion(column, reason, int(count), tuple(int(r) for r in recs), tuple(str(v) for v in values))]


def timestamp_outliers(con: duckdb.DuckDBPyConnection, field: str, column: str,
                       now: datetime | None = None) -> list[Suspicion]:
    """Timestamps of ``field`` in ``_bw_norm`` far outside the data's range (see the module docstring)."""
    # In epoch seconds: a typed file may hold years Python's datetime cannot represent.
    q1, q3 = con.execute(f"""
        SELECT quantile_disc(epoch({field}), 0.25), quantile_disc(epoch({field}), 0.75) FROM {NORM}
        WHERE {field} IS NOT NULL""").fetchall()[0]
    if q1 is None:
        return []
    latest = ((now or datetime.now(UTC).replace(tzinfo=None)) + FUTURE - _EPOCH).total_seconds()
    fence = max((q3 - q1) * FENCE_IQRS, MIN_FENCE.total_seconds())
    low, high = max(q1 - fence, (EARLIEST - _EPOCH).total_seconds()), min(q3 + fence, latest)
    reason = (f"is far outside the data's range (no warning for {_day(low)} … {_day(high)}: not before "
              f"{EARLIEST:%Y}, not more than a year ahead, not more than max(3 × IQR, 1 year) beyond the middle "
              f"half of the file's values, {_day(q1)} … {_day(q3)}); loaded as is, check the year")
    return find(con, f"SELECT _rec, {field} AS value FROM {NORM} WHERE epoch({field}) < {low!r} "
                     f"OR epoch({field}) > {high!r}", column, reason)


_EPOCH = datetime(1970, 1, 1)


def _day(seconds: float) -> str:
    try:
        return f"{_EPOCH + timedelta(seconds=seconds):%Y-%m-%d}"
    except OverflowError:
        return f"{seconds:.0f} s after 1970"


def ingest_list(ids: Sequence[int]) -> str:
    """SQL list of ingest ids (never empty, so ``IN (...)`` stays valid)."""
    return ", ".join(str(int(i)) for i in ids) or "NULL"
