"""The main sync's digests: one 16-byte digest per record key of a stream, of what Salesforce holds.

A key that starts with the stream's own ID (``members:<list>`` keeps ``<list>:<email>``) is kept without it,
and the seen marker of the full-pass page that last found it as the number the marker was given on first
use (a few bytes a key).
"""

from collections.abc import Collection, Iterable, Mapping

from cmsync.state.database import Database, execute_in

_TALLY_BATCH = 50_000
"""Keys ``tally`` reads at once."""


def _key_prefix(stream: str) -> str:
    """The start of a key that repeats the stream's own ID (``members:<list>`` → ``<list>:``), or ""."""
    return stream.partition(":")[2] + ":" if ":" in stream else ""


def _short(prefix: str, key: str) -> str:
    """A key as kept: without ``prefix`` but its colon (``:<email>``), so no kept key is two keys' form."""
    return key[len(prefix) - 1 :] if prefix and key.startswith(prefix) else key


def _long(prefix: str, kept: str) -> str:
    return prefix[:-1] + kept if prefix and kept.startswith(":") else kept


class Digests:
    """``store.digests.get(stream, keys)``, ``.save``, ``.refresh``, ``.mark_seen``, ``.tally``, ``.unseen``,
    ``.forget``, ``.kept``; seen markers are numbered by ``.marker``."""

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

    def stream_number(self, stream: str) -> int:
        """The number ``stream`` is kept under."""
        return self._number("digest_streams", stream)

    def marker(self, name: str) -> int:
        """The number the seen marker ``name`` is kept as."""
        return self._number("digest_markers", name)

    def _marker_id(self, marker: str | None) -> int | None:
        return None if marker is None else self.marker(marker)

    def get(self, stream: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The digests kept for those of ``keys`` that have one."""
        prefix = _key_prefix(stream)
        rows = execute_in(
            self.database,
            "SELECT record_key, digest FROM record_digests WHERE stream_id = ? AND record_key IN ({})",
            [_short(prefix, key) for key in keys],
            (self.stream_number(stream),),
        )
        return {_long(prefix, key): bytes(digest) for key, digest in rows}

    def save(self, stream: str, digests: Mapping[str, bytes], *, seen: str | None = None) -> None:
        """Keep ``digests`` (replacing those kept for the same keys), marked as seen by ``seen`` when given."""
        marker_id = self._marker_id(seen)
        self.save_seen(stream, {key: (digest, marker_id) for key, digest in digests.items()})

    def save_seen(self, stream: str, digests: Mapping[str, tuple[bytes, int | None]]) -> None:
        """Keep each key's digest with the number of the seen marker it was found under (or None)."""
        stream_id, prefix = self.stream_number(stream), _key_prefix(stream)
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO record_digests (stream_id, record_key, digest, seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream_id, record_key) DO UPDATE SET digest = excluded.digest, seen = excluded.seen",
                [(stream_id, _short(prefix, key), digest, marker_id) for key, (digest, marker_id) in digests.items()],
            )

    def refresh(self, stream: str, digests: Mapping[str, bytes]) -> None:
        """Keep ``digests`` as read back from Salesforce: a key whose digest is as kept keeps its seen marker
        (the page that found it still says what Salesforce holds), one that changed loses it."""
        stream_id, prefix = self.stream_number(stream), _key_prefix(stream)
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO record_digests (stream_id, record_key, digest, seen) VALUES (?, ?, ?, NULL) "
                "ON CONFLICT (stream_id, record_key) DO UPDATE SET digest = excluded.digest, "
                "seen = CASE WHEN record_digests.digest = excluded.digest THEN record_digests.seen ELSE NULL END",
                [(stream_id, _short(prefix, key), digest) for key, digest in digests.items()],
            )

    def mark_seen(self, stream: str, keys: Iterable[str], marker: str) -> None:
        """Note that a full pass found ``keys`` in the source (on the page ``marker`` names): not stale."""
        prefix = _key_prefix(stream)
        execute_in(
            self.database,
            "UPDATE record_digests SET seen = ? WHERE stream_id = ? AND record_key IN ({})",
            [_short(prefix, key) for key in keys],
            (self._marker_id(marker), self.stream_number(stream)),
        )

    def tally(self, stream: str) -> dict[int, tuple[int, int]]:
        """Per seen marker of ``stream``: how many keys carry it and the XOR of their digests (as a number).
        Read ``_TALLY_BATCH`` keys at a time, so memory stays flat however long the list."""
        stream_id = self.stream_number(stream)
        tally: dict[int, tuple[int, int]] = {}
        after = ""
        while True:
            with self.database.transaction() as transaction:
                rows = transaction.execute(
                    "SELECT record_key, seen, digest FROM record_digests WHERE stream_id = ? AND record_key > ? "
                    "ORDER BY record_key LIMIT ?",
                    (stream_id, after, _TALLY_BATCH),
                )
            for _key, marker_id, digest in rows:
                if marker_id is not None:
                    count, folded = tally.get(marker_id, (0, 0))
                    tally[marker_id] = (count + 1, folded ^ int.from_bytes(digest))
            if len(rows) < _TALLY_BATCH:
                return tally
            after = rows[-1][0]

    def unseen(self, stream: str, markers: Collection[int]) -> list[str]:
        """Keys of ``stream`` whose seen marker is none of ``markers`` (the pages a full pass found): gone."""
        found = sorted(markers)
        among = f"seen NOT IN ({', '.join('?' * len(found))})" if found else "TRUE"
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                f"SELECT record_key FROM record_digests WHERE stream_id = ? AND (seen IS NULL OR {among})",
                (self.stream_number(stream), *found),
            )
        prefix = _key_prefix(stream)
        return sorted(_long(prefix, row[0]) for row in rows)

    def forget_markers(self, prefix: str, keep: Collection[int]) -> None:
        """Forget the seen markers whose name starts with ``prefix``, but those in ``keep``."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT id, name FROM digest_markers WHERE substr(name, 1, ?) = ?", (len(prefix), prefix)
            )
            gone = {int(marker_id): str(name) for marker_id, name in rows if int(marker_id) not in keep}
            transaction.execute_many("DELETE FROM digest_markers WHERE id = ?", [(marker_id,) for marker_id in gone])
        for name in gone.values():
            self._numbers.pop(("digest_markers", name), None)

    def kept(self, stream: str) -> bool:
        """True when ``stream`` keeps any digest (none after ``forget`` or a migration that dropped them)."""
        stream_id = self.stream_number(stream)
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT 1 FROM record_digests WHERE stream_id = ? LIMIT 1", (stream_id,))
        return bool(rows)

    def forget(self, stream: str, keys: Iterable[str] | None = None) -> None:
        """Forget the digests of ``keys`` of ``stream``, or all of them (a full pass reads them again)."""
        stream_id = self.stream_number(stream)
        with self.database.transaction() as transaction:
            if keys is None:
                transaction.execute("DELETE FROM record_digests WHERE stream_id = ?", (stream_id,))
            else:
                prefix = _key_prefix(stream)
                transaction.execute_many(
                    "DELETE FROM record_digests WHERE stream_id = ? AND record_key = ?",
                    [(stream_id, _short(prefix, key)) for key in keys],
                )
