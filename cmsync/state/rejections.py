"""Rejected records: what Salesforce or Campaign Monitor refused, kept with the reason to retry later."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cmsync.state.database import Database
from cmsync.state.moments import Clock, as_text


@dataclass(frozen=True)
class Rejection:
    """A record Salesforce or Campaign Monitor refused, kept to be retried on a later run."""

    object: str
    key: str
    stream: str
    reason: str
    payload: Any
    first_seen: datetime
    last_seen: datetime
    attempts: int


class Rejections:
    """``store.rejections.add(...)``, ``.resolve(object, keys)``, ``.list(stream)``, ``.count(prefix)``."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def add(self, object_name: str, key: str, stream: str, reason: str, payload: Any, run_id: int | None) -> None:
        """Record (or re-record) a refused record with its reason, to be retried on a later run."""
        now = as_text(self.clock())
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO rejected_records (object, record_key, stream, reason, payload, first_seen, last_seen, "
                "attempts, last_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (object, record_key) DO UPDATE "
                "SET reason = excluded.reason, payload = excluded.payload, last_seen = excluded.last_seen, "
                "attempts = rejected_records.attempts + 1, last_run_id = excluded.last_run_id, "
                "stream = excluded.stream",
                (object_name, key, stream, reason, json.dumps(payload), now, now, run_id),
            )

    def resolve(self, object_name: str, keys: Iterable[str]) -> None:
        """Forget rejections of records that have now been written."""
        rows = [(object_name, key) for key in keys]
        with self.database.transaction() as transaction:
            transaction.execute_many("DELETE FROM rejected_records WHERE object = ? AND record_key = ?", rows)

    def list(
        self, stream: str | None = None, limit: int = 10_000, *, stream_prefix: str | None = None
    ) -> list[Rejection]:
        """Rejected records, of one ``stream`` or of every stream under ``stream_prefix`` when given."""
        query = (
            "SELECT object, record_key, stream, reason, payload, first_seen, last_seen, attempts FROM rejected_records"
        )
        parameters: tuple[Any, ...] = ()
        if stream is not None:
            query += " WHERE stream = ?"
            parameters = (stream,)
        elif stream_prefix is not None:
            query += " WHERE stream LIKE ?"
            parameters = (stream_prefix + "%",)
        with self.database.transaction() as transaction:
            rows = transaction.execute(query + " ORDER BY first_seen, record_key LIMIT ?", (*parameters, limit))
        return [
            Rejection(obj, key, strm, reason, json.loads(payload) if payload else None,
                      datetime.fromisoformat(first), datetime.fromisoformat(last), int(attempts))
            for obj, key, strm, reason, payload, first, last, attempts in rows
        ]  # fmt: skip

    def count(self, stream_prefix: str = "") -> int:
        """How many records are kept as rejected (under ``stream_prefix`` when given)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT COUNT(*) FROM rejected_records WHERE stream LIKE ?", (stream_prefix + "%",)
            )
        return int(rows[0][0])
