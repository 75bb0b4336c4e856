"""The installation table: small JSON values by key. Only ``cmsync.state`` may use it (an import-linter
contract in pyproject.toml), so every key is spelled once, in ``facts`` or ``connection``."""

import json
from datetime import datetime
from typing import Any

from cmsync.state.database import Database
from cmsync.state.moments import Clock, as_text, from_text


class FactTable:
    """Read and write one key's JSON value, and when it last changed."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def get(self, key: str) -> Any:
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT value FROM installation WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set(self, key: str, value: Any) -> None:
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO installation (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, json.dumps(value), as_text(self.clock())),
            )

    def changed_at(self, key: str) -> datetime | None:
        """When ``key`` was last set (None if never)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT updated_at FROM installation WHERE key = ?", (key,))
        return from_text(rows[0][0]) if rows else None
