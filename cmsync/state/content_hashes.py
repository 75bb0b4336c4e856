"""Content hashes: what cmsync last wrote per record key of a stream, as text (the outbound ledger's)."""

from collections.abc import Iterable, Mapping

from cmsync.state.database import Database, execute_in


class ContentHashes:
    """``store.content_hashes.get(stream, keys)`` and ``.save(stream, hashes)``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, stream: str, keys: Iterable[str]) -> dict[str, str]:
        """The hashes kept for those of ``keys`` of ``stream`` that have one, so only changed records are written."""
        rows = execute_in(
            self.database,
            "SELECT record_key, hash FROM content_hashes WHERE stream = ? AND record_key IN ({})",
            list(keys),
            (stream,),
        )
        return {key: value for key, value in rows}

    def save(self, stream: str, hashes: Mapping[str, str], *, seen: str | None = None) -> None:
        rows = [(stream, key, value, seen) for key, value in hashes.items()]
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO content_hashes (stream, record_key, hash, seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream, record_key) DO UPDATE SET hash = excluded.hash, seen = excluded.seen",
                rows,
            )
