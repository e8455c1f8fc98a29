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
    with pytest.raises(WarehouseError, match="is a CSV/TSV text file, not a DuckDB warehouse"):
        Warehouse(tmp_path / "text.duckdb")
    # the magic is right but the rest is garbage: DuckDB's own refusal, still a WarehouseError
    (tmp_path / "broken.duckdb").write_bytes(b"\0" * 8 + b"DUCK" + b"\xff" * 5000)
    with pytest.raises(WarehouseError, match="is it a DuckDB file"):
        Warehouse(tmp_path / "broken.duckdb")
    with pytest.raises(WarehouseError, match="folder"):
        Warehouse(tmp_path / "no" / "such" / "w.duckdb")
    if Path("/dev/null").exists():
        with pytest.raises(WarehouseError, match="not a regular file"):
            Warehouse("/dev/null")


def test_transaction_rolls_back_on_error(wh: Warehouse) -> None:
    with pytest.raises(ZeroDivisionError), wh.transaction():
        wh.con.execute("INSERT INTO orders VALUES ('1', NULL, NULL, NULL, NULL, 'sale', 1)")
        raise ZeroDivisionError
    assert wh.counts()["orders"] == 0


def _data_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files a user might pass as --db by mistake, and what the refusal must call them."""
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "orders.csv").write_text("order_id,product_id\n1,a\n", encoding="utf-8")
    (tmp_path / "orders.json").write_text('[{"order_id": "1", "product_id": "a"}]\n', encoding="utf-8")
    (tmp_path / "events.jsonl").write_text('{"event_id": "e1"}\n{"event_id": "e2"}\n', encoding="utf-8")
    pq.write_table(pa.table({"order_id": ["1"], "product_id": ["a"]}), tmp_path / "orders.parquet")
    with gzip.open(tmp_path / "orders.csv.gz", "wt") as fh:
        fh.write("order_id,product_id\n1,a\n")
    (tmp_path / "empty.duckdb").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("remember the milk\n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    return {
        "csv": (tmp_path / "orders.csv", "is a CSV/TSV text file"),
        "json": (tmp_path / "orders.json", "is a JSON file"),
        "jsonl": (tmp_path / "events.jsonl", "is a JSON file"),
        "parquet": (tmp_path / "orders.parquet", "is a Parquet file"),
        "gzip": (tmp_path / "orders.csv.gz", "is a gzip-compressed file"),
        "empty": (tmp_path / "empty.duckdb", r"is an empty file \(0 bytes\)"),
        "text": (tmp_path / "notes.txt", "is a text file"),
        "binary": (tmp_path / "blob.bin", "is a binary file of unknown type"),
    }


@pytest.mark.parametrize("kind", ["csv", "json", "jsonl", "parquet", "gzip", "empty", "text", "binary"])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_duckdb_is_refused_and_left_unchanged(tmp_path: Path, kind: str, read_only: bool) -> None:
    # DuckDB itself opens such a path as an empty in-memory database: every write would be lost
    path, what = _data_files(tmp_path)[kind]
    before = path.read_bytes()
    with pytest.raises(WarehouseError, match=what) as info:
        Warehouse(path, read_only=read_only)
    assert "not a DuckDB warehouse" in str(info.value)
    if kind in ("csv", "json", "parquet", "gzip"):
        assert f"did you mean `bundlewise ingest orders {path}`" in str(info.value)
    assert path.read_bytes() == before
    assert not Path(f"{path}.wal").exists()


def _tables(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}
    finally:
        con.close()


def test_a_foreign_duckdb_is_refused_unchanged_unless_adopted(tmp_path: Path) -> None:
    path = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
    con.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    con.close()
    before, tables = path.read_bytes(), _tables(path)
    for read_only in (False, True):
        with pytest.raises(WarehouseError, match="is a DuckDB database but not a bundlewise warehouse .*'t'.*--adopt"):
            Warehouse(path, read_only=read_only)
    assert path.read_bytes() == before and _tables(path) == tables
    with Warehouse(path, adopt=True) as wh:
        assert wh.schema_version() == latest_version()
        assert wh.con.execute("SELECT * FROM t ORDER BY a").fetchall() == [(1, "x"), (2, "y")]
    with Warehouse(path, read_only=True) as wh:  # adopted once: a bundlewise warehouse from now on
        assert set(wh.counts()) == set(CANONICAL_TABLES)


def test_adopting_refuses_a_database_whose_tables_clash_with_ours(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE products (sku VARCHAR, name VARCHAR)")
    con.execute("INSERT INTO products VALUES ('a', 'mug')")
    con.close()
    tables = _tables(path)
    with pytest.raises(WarehouseError, match="cannot adopt .* already holds 'products'"):
        Warehouse(path, adopt=True)
    assert _tables(path) == tables


def test_a_schema_version_table_that_is_not_ours_is_refused_even_with_adopt(tmp_path: Path) -> None:
    path = tmp_path / "other_app.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (v VARCHAR)")
    con.execute("INSERT INTO schema_version VALUES ('2.1')")
    con.close()
    tables = _tables(path)
    for adopt in (False, True):
        with pytest.raises(WarehouseError, match="'schema_version' table that is not bundlewise's"):
            Warehouse(path, adopt=adopt)
    assert _tables(path) == tables


def test_a_missing_file_is_created_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "typo.duckdb"
    for read_only in (False, True):
        with pytest.raises(WarehouseError, match="does not exist; create it with 'bundlewise ingest'"):
            Warehouse(path, read_only=read_only, create=False)
        assert not path.exists()
    with Warehouse(path, create=True) as wh:
        assert wh.schema_version() == latest_version()
    assert path.exists()


def test_an_empty_duckdb_file_becomes_a_warehouse_but_is_not_read_as_one(tmp_path: Path) -> None:
    path = tmp_path / "blank.duckdb"
    duckdb.connect(str(path)).close()  # what older versions left behind for a mistyped --db
    with pytest.raises(WarehouseError, match="holds no bundlewise tables yet"):
        Warehouse(path, read_only=True)
    with Warehouse(path, create=False) as wh:
        assert wh.schema_version() == latest_version()


def test_a_failing_rollback_does_not_hide_the_error_of_the_block(tmp_path: Path) -> None:
    from bundlewise.errors import ConfigError

    wh = Warehouse(tmp_path / "w.duckdb")
    # closing the connection inside the block makes ROLLBACK fail; the block's own error must surface
    with pytest.raises(ConfigError, match="the real problem"), wh.transaction():
        wh.con.close()
        raise ConfigError("the real problem")
