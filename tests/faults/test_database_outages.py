"""The state store's database during outages: a lost PostgreSQL server or a locked or unwritable SQLite
file is one ``StateStoreUnavailableError`` naming the store and why (no password), and the same store
object works again once the database is back, with nothing it wrote lost."""

import sqlite3
from pathlib import Path

import pytest

from cmsync.state import StateStore, StateStoreUnavailableError
from cmsync.state.database import SqliteDatabase
from tests.faults.proxy import FaultProxy


def test_a_postgresql_cut_is_one_error_and_the_store_reconnects(
    postgres_schema_url: str, postgres_proxy: FaultProxy
) -> None:
    url = postgres_proxy.url(postgres_schema_url).replace("postgres@", "postgres:s3cret-pass@")
    store = StateStore.open(url)
    store.watermarks.set("members:list-1", "2026-11-30T05:00:00Z")
    postgres_proxy.cut()
    with pytest.raises(StateStoreUnavailableError) as raised:
        store.watermarks.set("members:list-1", "2026-11-30T06:00:00Z")
    assert raised.value.where == f"postgresql://127.0.0.1:{postgres_proxy.port}/postgres"
    assert "s3cret-pass" not in str(raised.value)
    with pytest.raises(StateStoreUnavailableError):
        store.watermarks.get("members:list-1")
    postgres_proxy.restore()
    assert store.watermarks.get("members:list-1") == "2026-11-30T05:00:00Z"
    store.watermarks.set("members:list-1", "2026-11-30T06:00:00Z")
    assert store.watermarks.get("members:list-1") == "2026-11-30T06:00:00Z"
    store.close()


def test_a_locked_sqlite_file_is_an_outage_that_ends(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(SqliteDatabase(path, busy_timeout=0.2))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StateStoreUnavailableError) as raised:
        store.facts.schedule.set({"frequency": "hourly"})
    assert raised.value.where == str(path) and raised.value.reason == "database is locked"
    holder.execute("ROLLBACK")
    store.facts.schedule.set({"frequency": "hourly"})
    assert store.facts.schedule.get() == {"frequency": "hourly"}
    holder.close()
    store.close()


def test_a_mistake_in_sql_is_not_an_outage(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "state.db")
    with pytest.raises(sqlite3.OperationalError), database.transaction() as transaction:
        transaction.execute("SELECT nothing FROM no_such_table")
    database.close()
