"""The DuckDB warehouse: one file holding every canonical table.

Examples
--------
>>> from bundlewise.ingest.warehouse import Warehouse
>>> from bundlewise.ingest.schema import latest_version
>>> with Warehouse(":memory:") as wh:
...     wh.schema_version() == latest_version(), wh.counts()["orders"]
(True, 0)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bundlewise.errors import WarehouseError
from bundlewise.ingest.schema import CANONICAL_TABLES, MIGRATIONS, latest_version

log = logging.getLogger(__name__)

DEFAULT_DB = "bundlewise.duckdb"


class Warehouse:
    """A DuckDB warehouse file, migrated to the current schema when opened.

    Parameters
    ----------
    path : str or Path
        The DuckDB file (created if missing) or ``":memory:"``.
    read_only : bool
        Open without write access (several readers may share the file). A read-only
        warehouse must already exist at the current schema version.
    """

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False):
        self.path = str(path)
        self.read_only = read_only
        self.con = self._connect()
        try:
            self._migrate()
        except BaseException:
            self.con.close()
            raise

    # -- connection -----------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.path != ":memory:":
            p = Path(self.path)
            if self.read_only and not p.exists():
                raise WarehouseError(
                    f"warehouse {self.path!r} does not exist; create it with 'bundlewise ingest' or "
                    "'bundlewise datasets load', or pass --db PATH to an existing file"
                )
            if p.is_dir():
                raise WarehouseError(f"warehouse path {self.path!r} is a directory; pass a file path (--db FILE)")
            if not p.parent.exists():
                raise WarehouseError(
                    f"folder {str(p.parent)!r} of warehouse {self.path!r} does not exist; create it first"
                )
        try:
            con = duckdb.connect(self.path, read_only=self.read_only)
            # the library reports progress through its own callbacks; DuckDB must not draw on stderr
            con.execute("SET enable_progress_bar = false")
            return con
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise WarehouseError(
                    f"warehouse {self.path!r} is open for writing in another process; close it "
                    f"(stop the other bundlewise command or server) and try again ({text.splitlines()[0]})"
                ) from None
            raise WarehouseError(
                f"cannot open warehouse {self.path!r}: {text.splitlines()[0]}; is it a DuckDB file?"
            ) from None
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot open warehouse {self.path!r}: {str(exc).splitlines()[0]}; is it a DuckDB file?"
            ) from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            row = self.con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
        except duckdb.CatalogException:
            return 0
        return int(row[0]) if row and row[0] is not None else 0

    def _migrate(self, target: int | None = None) -> None:
        target = latest_version() if target is None else target
        current = self.schema_version()
        if current > latest_version():
            raise WarehouseError(
                f"warehouse {self.path!r} has schema version {current}, newer than this bundlewise "
                f"understands ({latest_version()}); upgrade bundlewise"
            )
        if current >= target:
            return
        if self.read_only:
            raise WarehouseError(
                f"warehouse {self.path!r} has schema version {current}, needs {target}; open it once "
                "for writing (any bundlewise command without read-only access) to migrate it"
            )
        for migration in MIGRATIONS:
            if current < migration.version <= target:
                log.info("migrating warehouse %s to schema v%d: %s", self.path, migration.version,
                         migration.description)
                with self.transaction():
                    self.con.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version ("
                        "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
                    )
                    for statement in migration.statements:
                        self.con.execute(statement)
                    self.con.execute(
                        "INSERT INTO schema_version VALUES (?, ?, current_timestamp::TIMESTAMP)",
                        [migration.version, migration.description],
                    )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block: commits on success, rolls back on any exception."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- reading --------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Row count of every canonical table."""
        return {t: int(self.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in CANONICAL_TABLES}
