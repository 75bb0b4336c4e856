"""Watermarks: where each stream (e.g. ``members:<list id>:active``) resumes on the next run."""

from cmsync.state.database import Database
from cmsync.state.moments import Clock, as_text


class Watermarks:
    """``store.watermarks.get(stream)``, ``.set(stream, value)``, ``.under(prefix)``."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def get(self, stream: str) -> str | None:
        """Where ``stream`` resumes; None before its first success."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT value FROM watermarks WHERE stream = ?", (stream,))
        return rows[0][0] if rows else None

    def set(self, stream: str, value: str) -> None:
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO watermarks (stream, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (stream, value, as_text(self.clock())),
            )

    def under(self, prefix: str = "") -> dict[str, str]:
        """The watermarks of every stream whose name starts with ``prefix``, in name order."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT stream, value FROM watermarks WHERE stream LIKE ? ORDER BY stream", (prefix + "%",)
            )
        return {stream: value for stream, value in rows}
