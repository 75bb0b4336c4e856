"""One small connection interface over SQLite and PostgreSQL, so the state store is written once.

Queries use ``?`` placeholders and portable SQL (``ON CONFLICT``, ``RETURNING``); each backend runs them
in a transaction of its own kind: ``BEGIN IMMEDIATE`` on SQLite (one writer at a time, WAL for readers),
a normal transaction on PostgreSQL. A connection is shared by a process's threads behind a lock.
"""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg

from cmsync.config.urls import sqlite_path

Row = tuple[Any, ...]


class Transaction(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]: ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class SqliteTransaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        return self.connection.execute(sql, tuple(parameters)).fetchall()

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)


class SqliteDatabase:
    """SQLite in WAL mode: the daemon, its worker threads and ``cmsync status`` share one file safely."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=30000")

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresTransaction:
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        cursor = self.connection.execute(sql.replace("?", "%s"), tuple(parameters))  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)  # type: ignore[arg-type]


class PostgresDatabase:
    """PostgreSQL (psycopg 3), for workers on several hosts; reconnects once when the server went away."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.RLock()
        self._connection = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._url, connect_timeout=10, application_name="cmsync")

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._lock:
            if self._connection.closed or self._connection.broken:
                self._connection = self._connect()
            with self._connection.transaction():
                yield PostgresTransaction(self._connection)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def connect(url: str) -> SqliteDatabase | PostgresDatabase:
    """Open the database ``state.url`` names: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``postgresql://…`` (SQLAlchemy's spelling; see ``sqlite_path``)."""
    path = sqlite_path(url)
    if path is not None:
        return SqliteDatabase(path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    raise ValueError("the state store is sqlite:///path/to/file.db or a postgresql:// URL")
