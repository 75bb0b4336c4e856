"""The state store on PostgreSQL (psycopg 3), for workers on several hosts; a broken connection is replaced
at the next transaction. Its own module, so that a process on SQLite never loads psycopg."""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg

from cmsync.state.database import Row, StateStoreUnavailableError, first_line

_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}
"""A PostgreSQL server that vanished from the network (idle, or with a query unanswered) is noticed
within about 20 s, not after the operating system's retransmissions of a quarter of an hour."""


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
        parts = urlsplit(url)
        self.where = f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._lock = threading.RLock()
        self._connection: psycopg.Connection[Any] | None = None
        self._connection = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._url, connect_timeout=5, application_name="cmsync", **_KEEPALIVES)
        except psycopg.OperationalError as error:
            raise StateStoreUnavailableError(self.where, first_line(error)) from error

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._lock:
            if self._connection is None or self._connection.closed or self._connection.broken:
                self._connection = None
                self._connection = self._connect()
            try:
                with self._connection.transaction():
                    yield PostgresTransaction(self._connection)
            except psycopg.OperationalError as error:
                raise StateStoreUnavailableError(self.where, first_line(error)) from error

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
