"""Warehouse: schema version, migrations, clear errors for unusable files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from bundlewise.errors import WarehouseError
from bundlewise.ingest import Warehouse
from bundlewise.ingest.schema import CANONICAL_TABLES, MIGRATIONS, latest_version


def test_new_warehouse_has_every_table_and_the_latest_version(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert wh.schema_version() == latest_version()
        assert set(wh.counts()) == set(CANONICAL_TABLES)
        assert all(n == 0 for n in wh.counts().values())


def test_migrations_are_applied_in_order_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR, "
                "applied_at TIMESTAMP)")
    con.close()  # version 0: an empty but initialised warehouse
    with Warehouse(path) as wh:
        versions = [r[0] for r in wh.con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
    assert versions == [m.version for m in MIGRATIONS]


def test_newer_warehouse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute("INSERT INTO schema_version VALUES (999, 'future', now()::TIMESTAMP)")
    with pytest.raises(WarehouseError, match="schema version 999, newer than this bundlewise"):
        Warehouse(path)


def test_unusable_paths_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="does not exist"):
        Warehouse(tmp_path / "missing.duckdb", read_only=True)
    with pytest.raises(WarehouseError, match="is a directory"):
        Warehouse(tmp_path)
    (tmp_path / "text.duckdb").write_text("hello, I am not a database\n" * 100)
    with pytest.raises(WarehouseError, match="is it a DuckDB file"):
        Warehouse(tmp_path / "text.duckdb")
    with pytest.raises(WarehouseError, match="folder"):
        Warehouse(tmp_path / "no" / "such" / "w.duckdb")


def test_transaction_rolls_back_on_error(wh: Warehouse) -> None:
    with pytest.raises(ZeroDivisionError), wh.transaction():
        wh.con.execute("INSERT INTO orders VALUES ('1', NULL, NULL, NULL, NULL, 'sale', 1)")
        raise ZeroDivisionError
    assert wh.counts()["orders"] == 0
