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

from bundlewise.errors import SchemaOutdatedError, WarehouseError
from bundlewise.ingest.schema import CANONICAL_TABLES, MIGRATIONS, latest_version

log = logging.getLogger(__name__)

DEFAULT_DB = "bundlewise.duckdb"

_SCHEMA_VERSION_COLUMNS = (("version", "INTEGER"), ("description", "VARCHAR"), ("applied_at", "TIMESTAMP"))
# every name the migrations create: adopting a database that already uses one would break it
_OWN_NAMES = (*CANONICAL_TABLES, "basket_items", "schema_version")
# a DuckDB database file carries this magic at byte 8 (after the 8-byte checksum of its first header)
_DUCKDB_MAGIC = b"DUCK"
_DUCKDB_MAGIC_OFFSET = 8


def _describe_content(head: bytes) -> tuple[str, bool]:
    """What a file starting with ``head`` looks like, and whether it is data meant for ``ingest``."""
    if head.startswith(b"PAR1"):
        return "a Parquet file", True
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file", True
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (an Excel .xlsx workbook is one)", False
    if head.startswith(b"SQLite format 3\x00"):
        return "an SQLite database", False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "a UTF-16 text file (Excel's 'Unicode text' export is one)", True
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut by the sniff's end
            return "a binary file of unknown type", False
        text = head[: exc.start].decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "a JSON file", True
    first = stripped.splitlines()[0] if stripped else ""
    if any(sep in first for sep in (",", ";", "\t", "|")):
        return "a CSV/TSV text file", True
    return "a text file", False


def _refuse_non_duckdb(path: Path) -> None:
    """Raise unless ``path`` starts like a DuckDB database file."""
    if not path.is_file():  # a device or a pipe: reading it could block or consume someone's input
        raise WarehouseError(f"warehouse {str(path)!r} is not a regular file (a device or a pipe); --db must "
                             "name a .duckdb warehouse file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise WarehouseError(f"cannot read warehouse {str(path)!r}: {exc.strerror or exc}; check its "
                             "permissions") from None
    if head[_DUCKDB_MAGIC_OFFSET:_DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC)] == _DUCKDB_MAGIC:
        return
    if not head:
        raise WarehouseError(
            f"warehouse {str(path)!r} is an empty file (0 bytes), not a DuckDB warehouse; it was left unchanged: "
            "delete it to start a new warehouse under that name, or pass --db a .duckdb warehouse file"
        )
    what, is_data = _describe_content(head)
    hint = f"; did you mean `bundlewise ingest orders {path}`?" if is_data else ""
    raise WarehouseError(
        f"warehouse {str(path)!r} is {what}, not a DuckDB warehouse (it was left unchanged); --db must name a "
        f".duckdb warehouse file{hint}"
    )


class Warehouse:
    """A DuckDB warehouse file, migrated to the current schema when opened.

    Before DuckDB sees the path, the file is checked: an existing file must be a DuckDB
    database (DuckDB itself would open a CSV or Parquet file as an empty in-memory
    database, and everything "written" to it would be lost), and a DuckDB database must be
    a bundlewise warehouse (its own ``schema_version`` table) or empty, unless ``adopt``.

    Parameters
    ----------
    path : str or Path
        The DuckDB file or ``":memory:"``.
    read_only : bool
        Open without write access (several readers may share the file, even while none
        may write it). A read-only warehouse must already exist at the current schema
        version.
    create : bool
        Create the file when it is missing (the default, for the library); the command
        line passes ``False`` except for the verbs that load data, so a mistyped path
        fails instead of leaving an empty warehouse behind. Ignored when ``read_only``.
    adopt : bool
        Accept a DuckDB database that holds other tables and no bundlewise schema, and
        add the bundlewise tables to it (none of its tables may have a bundlewise name).

    Raises
    ------
    WarehouseError
        Missing file (and not ``create``), a file that is not a DuckDB database, a DuckDB
        database that is not a bundlewise warehouse, a newer schema, a lock held by a
        writer in another process.
    """

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False, create: bool = True,
                 adopt: bool = False):
        self.path = str(path)
        self.read_only = read_only
        self.create = create and not read_only
        self.adopt = adopt
        self.con = self._connect()
        try:
            self._check_ours()
            self._migrate()
            self._recover_decisions()
        except BaseException:
            self.con.close()
            raise

    def _recover_decisions(self) -> None:
        """Offer decisions a server journaled but had not moved into the table yet (it was killed)."""
        from bundlewise.ingest import journal

        path = journal.journal_path(self.path)
        if path is None or not path.exists() or not path.stat().st_size:
            return
        if self.read_only:
            n = len(journal.pending_rows(path))
            if n:
                log.warning("%d offer decisions wait in %s; they join offer_decisions when the warehouse is next "
                            "opened for writing (e.g. by 'bundlewise serve')", n, path)
            return
        try:
            journal.replay(self.con, path)
        except ValueError as exc:
            raise WarehouseError(str(exc)) from None

    # -- connection -----------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.path != ":memory:":
            p = Path(self.path)
            if p.is_dir():
                raise WarehouseError(f"warehouse path {self.path!r} is a directory; pass a file path (--db FILE)")
            if p.exists():
                _refuse_non_duckdb(p)
            elif not self.create:
                raise WarehouseError(
                    f"warehouse {self.path!r} does not exist; create it with 'bundlewise ingest' or "
                    "'bundlewise datasets load', or pass --db PATH to an existing warehouse"
                )
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
                # a writer excludes everyone; readers exclude only writers
                held = ("open for writing in another process" if self.read_only else
                        "open in another process (writing needs it alone; readers share it)")
                raise WarehouseError(
                    f"warehouse {self.path!r} is {held}; close it "
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
    def _check_ours(self) -> None:
        """Refuse a DuckDB database that is not a bundlewise warehouse (unless adopting it)."""
        rows = self.con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY table_schema, table_name"
        ).fetchall()
        names = [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]
        if not names:
            return  # a new (or empty) DuckDB file: nothing of anyone's to protect
        if "schema_version" in names:
            columns = self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = "
                "current_database() AND table_schema = 'main' AND table_name = 'schema_version' "
                "ORDER BY ordinal_position"
            ).fetchall()
            if [tuple(c) for c in columns] == list(_SCHEMA_VERSION_COLUMNS):
                return
            # adopting would mean rewriting someone else's table: refused even with adopt
            raise WarehouseError(
                f"warehouse {self.path!r} is a DuckDB database with a 'schema_version' table that is not "
                f"bundlewise's (columns {', '.join(c for c, _ in columns)}; bundlewise needs "
                f"{', '.join(c for c, _ in _SCHEMA_VERSION_COLUMNS)}); it was left unchanged: pass --db a new "
                "file name for a bundlewise warehouse"
            )
        shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        if not self.adopt:
            raise WarehouseError(
                f"warehouse {self.path!r} is a DuckDB database but not a bundlewise warehouse (it holds {shown} "
                "and no bundlewise schema); it was left unchanged: pass --db a new file name, or --adopt to add "
                "the bundlewise tables to this database"
            )
        taken = sorted(set(names) & set(_OWN_NAMES))
        if taken:
            raise WarehouseError(
                f"cannot adopt {self.path!r}: it already holds {', '.join(repr(n) for n in taken)}, which "
                "bundlewise would create; rename those tables or pass --db a new file name (nothing was changed)"
            )
        log.warning("adopting DuckDB database %s (tables %s): adding the bundlewise tables", self.path, shown)

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
        if self.read_only and current == 0:
            raise WarehouseError(
                f"warehouse {self.path!r} holds no bundlewise tables yet; load data first with 'bundlewise "
                "ingest' or 'bundlewise datasets load'"
            )
        if self.read_only:
            raise SchemaOutdatedError(
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
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error as exc:  # a failed rollback must not hide why the block failed
                log.debug("rollback after an error failed too: %s", exc)
            raise
        self.con.execute("COMMIT")

    # -- reading --------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Row count of every canonical table."""
        return {t: int(self.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in CANONICAL_TABLES}
