"""One small connection interface over SQLite and PostgreSQL, so the state store is written once.

Queries use ``?`` placeholders and portable SQL (``ON CONFLICT``, ``RETURNING``); each backend runs them
in a transaction of its own kind: ``BEGIN IMMEDIATE`` on SQLite (one writer at a time, WAL for readers),
a normal transaction on PostgreSQL. A connection is shared by a process's threads behind a lock.

An outage of the database (server gone, network cut, file locked too long, disk full or read-only) is
raised as ``StateStoreUnavailableError`` naming where and why, so callers can wait it out; a broken
PostgreSQL connection is replaced at the next transaction.
"""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from cmsync.config.urls import sqlite_path
from cmsync.logs import get_logger

log = get_logger(__name__)
Row = tuple[Any, ...]
_SQLITE_OUTAGES = ("locked", "busy", "disk", "full", "readonly", "read-only", "unable to open", "i/o")
"""Words of SQLite errors that come from the file or its disk, not from the SQL."""


class StateStoreUnavailableError(Exception):
    """The state store cannot be reached or written now; ``where`` names it (no secrets), ``reason`` says why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"state store {where} unavailable: {reason}")
        self.where = where
        self.reason = reason


def _sqlite_outage(error: sqlite3.Error) -> bool:
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and any(word in text for word in _SQLITE_OUTAGES)


def _why_unwritable(path: Path) -> str | None:
    """What the operating system says when ``path`` is opened for writing (SQLite's own message names no
    cause): "Read-only file system", "Permission denied", "No space left on device" …; None if it opens."""
    try:
        with path.open("ab"):
            return None
    except OSError as error:
        return error.strerror


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


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

    def __init__(self, path: Path, busy_timeout: float = 30) -> None:
        self.where = str(path)
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        except OSError as error:
            raise StateStoreUnavailableError(self.where, error.strerror or first_line(error)) from error
        except sqlite3.Error as error:
            raise StateStoreUnavailableError(self.where, _why_unwritable(path) or first_line(error)) from error

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteTransaction(self._connection)
                except BaseException:
                    self._roll_back()
                    raise
                self._connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._roll_back()
                if _sqlite_outage(error):
                    raise StateStoreUnavailableError(self.where, first_line(error)) from error
                raise

    def _roll_back(self) -> None:
        """Undo the open transaction, if any; a disk that fails the rollback too leaves the error at hand."""
        if self._connection.in_transaction:
            with suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")

    def compact(self) -> None:
        """Give the file's free pages back to the disk (VACUUM), after a migration freed many. A store that
        another process is reading, or a disk too full for the copy, keeps them to reuse as it grows."""
        with self._lock:
            try:
                self._connection.execute("VACUUM")
            except sqlite3.OperationalError as error:
                log.warning("state store not compacted", where=self.where, reason=first_line(error))

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class Database(Protocol):
    """An open state store: ``SqliteDatabase`` here, or ``PostgresDatabase`` (``cmsync.state.postgres``, loaded
    only for a PostgreSQL URL, so a SQLite process never imports psycopg)."""

    dialect: str

    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def close(self) -> None: ...


_IN_CHUNK = 500


def execute_in(database: Database, sql: str, values: list[Any], leading: tuple[Any, ...] = ()) -> list[Row]:
    """Run ``sql`` whose ``IN ({})`` takes ``values``, in chunks small enough for any database; its rows."""
    found: list[Row] = []
    with database.transaction() as transaction:
        for start in range(0, len(values), _IN_CHUNK):
            chunk = values[start : start + _IN_CHUNK]
            found.extend(transaction.execute(sql.format(", ".join("?" for _ in chunk)), (*leading, *chunk)))
    return found


def connect(url: str) -> Database:
    """Open the database ``state.url`` names: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``postgresql://…`` (SQLAlchemy's spelling; see ``sqlite_path``)."""
    path = sqlite_path(url)
    if path is not None:
        return SqliteDatabase(path)
    if url.startswith(("postgresql://", "postgres://")):
        from cmsync.state.postgres import PostgresDatabase  # psycopg is loaded only for a PostgreSQL store

        return PostgresDatabase(url)
    raise ValueError("the state store is sqlite:///path/to/file.db or a postgresql:// URL")
