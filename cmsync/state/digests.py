"""The main sync's digests: one 16-byte digest per record key of a stream, of what Salesforce holds.

A key that starts with the stream's own ID (``members:<list>`` keeps ``<list>:<email>``) is kept without it,
and a full pass's seen marker as the number it was given on first use (one or two bytes a key).
"""

from collections.abc import Iterable, Mapping

from cmsync.state.database import Database, execute_in


def _key_prefix(stream: str) -> str:
    """The start of a key that repeats the stream's own ID (``members:<list>`` → ``<list>:``), or ""."""
    return stream.partition(":")[2] + ":" if ":" in stream else ""


def _short(prefix: str, key: str) -> str:
    """A key as kept: without ``prefix`` but its colon (``:<email>``), so no kept key is two keys' form."""
    return key[len(prefix) - 1 :] if prefix and key.startswith(prefix) else key


def _long(prefix: str, kept: str) -> str:
    return prefix[:-1] + kept if prefix and kept.startswith(":") else kept


class Digests:
    """``store.digests.get(stream, keys)``, ``.save``, ``.mark_seen``, ``.unseen``, ``.forget``, ``.kept``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._numbers: dict[tuple[str, str], int] = {}

    def _number(self, table: str, name: str) -> int:
        """The number ``name`` is kept under in ``table`` (numbered on first use, remembered once committed)."""
        known = self._numbers.get((table, name))
        if known is None:
            with self.database.transaction() as transaction:
                transaction.execute(f"INSERT INTO {table} (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
                known = int(transaction.execute(f"SELECT id FROM {table} WHERE name = ?", (name,))[0][0])
            self._numbers[(table, name)] = known
        return known

    def _stream_id(self, stream: str) -> int:
        return self._number("digest_streams", stream)

    def _marker_id(self, marker: str | None) -> int | None:
        return None if marker is None else self._number("digest_markers", marker)

    def get(self, stream: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The digests kept for those of ``keys`` that have one."""
        prefix = _key_prefix(stream)
        rows = execute_in(
            self.database,
            "SELECT record_key, digest FROM record_digests WHERE stream_id = ? AND record_key IN ({})",
            [_short(prefix, key) for key in keys],
            (self._stream_id(stream),),
        )
        return {_long(prefix, key): bytes(digest) for key, digest in rows}

    def save(self, stream: str, digests: Mapping[str, bytes], *, seen: str | None = None) -> None:
        """Keep ``digests`` (replacing those kept for the same keys), marked as seen by ``seen`` when given."""
        stream_id, prefix, marker_id = self._stream_id(stream), _key_prefix(stream), self._marker_id(seen)
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO record_digests (stream_id, record_key, digest, seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream_id, record_key) DO UPDATE SET digest = excluded.digest, seen = excluded.seen",
                [(stream_id, _short(prefix, key), digest, marker_id) for key, digest in digests.items()],
            )

    def mark_seen(self, stream: str, keys: Iterable[str], marker: str) -> None:
        """Note that a full pass (``marker``) found ``keys`` in the source, so they are not stale."""
        prefix = _key_prefix(stream)
        execute_in(
            self.database,
            "UPDATE record_digests SET seen = ? WHERE stream_id = ? AND record_key IN ({})",
            [_short(prefix, key) for key in keys],
            (self._marker_id(marker), self._stream_id(stream)),
        )

    def unseen(self, stream: str, marker: str) -> list[str]:
        """Keys of ``stream`` that the full pass ``marker`` did not see: gone from the source."""
        stream_id, marker_id = self._stream_id(stream), self._marker_id(marker)
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT record_key FROM record_digests WHERE stream_id = ? AND (seen IS NULL OR seen <> ?) "
                "ORDER BY record_key",
                (stream_id, marker_id),
            )
        prefix = _key_prefix(stream)
        return sorted(_long(prefix, row[0]) for row in rows)

    def kept(self, stream: str) -> bool:
        """True when ``stream`` keeps any digest (none after ``forget`` or a migration that dropped them)."""
        stream_id = self._stream_id(stream)
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT 1 FROM record_digests WHERE stream_id = ? LIMIT 1", (stream_id,))
        return bool(rows)

    def forget(self, stream: str, keys: Iterable[str] | None = None) -> None:
        """Forget the digests of ``keys`` of ``stream``, or all of them (a full pass reads them again)."""
        stream_id = self._stream_id(stream)
        with self.database.transaction() as transaction:
            if keys is None:
                transaction.execute("DELETE FROM record_digests WHERE stream_id = ?", (stream_id,))
            else:
                prefix = _key_prefix(stream)
                transaction.execute_many(
                    "DELETE FROM record_digests WHERE stream_id = ? AND record_key = ?",
                    [(stream_id, _short(prefix, key)) for key in keys],
                )
