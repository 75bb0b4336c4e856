"""The Contact and Lead directory: who has which email, for linking without a query per page.

One row per record, keyed by its 15-character Id (the 18-character form is spelled from it), with the
object as a small number, the last-modified time in epoch milliseconds and the email only as its
16-byte BLAKE2b digest: linking asks which records have a given email, never what a record's email is,
and a digest of that width is trusted as the record digests are.

A refresh that catches up (rather than loading whole) names a version; every email whose holders it
changed is then noted with that version in ``directory_changes`` (a record without email as the empty
digest), so a full pass knows which of its pages' links may have changed since it last linked them.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from operator import itemgetter
from typing import NamedTuple

from cmsync.state.database import Database, execute_in
from cmsync.state.record_ids import long_id

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
OBJECTS = ("Contact", "Lead")
"""The objects the directory holds, numbered by their place here (0 and 1 take no bytes in SQLite)."""


class Entry(NamedTuple):
    """A Contact or Lead as the directory answers it; ``email`` is the lower-cased email asked for, None
    when asked by Id (the directory keeps only its digest)."""

    object: str
    id: str
    email: str | None
    modified: int


_KEY = itemgetter(0)
"""A saved row's Id: what rows are written in the order of."""
Holder = tuple[bytes, int, str, int]
"""A directory row as linking reads it: email digest, object number (in ``OBJECTS``), 15-character Id, modified."""


def email_digest(email: str) -> bytes:
    """How an email is kept: the digest of its lower-cased form (a record without one keeps NULL)."""
    return lowered_digest(email.lower())


def lowered_digest(lowered: str) -> bytes:
    """``email_digest`` of an email already lower-cased, for callers that need that form too."""
    return blake2b(lowered.encode(), digest_size=16).digest()


def modified_ms(moment: str) -> int:
    """An ISO-8601 time as Salesforce writes it (``…Z`` or ``…+0000``) in milliseconds since the epoch."""
    return (datetime.fromisoformat(moment) - _EPOCH) // _MILLISECOND


class Directory:
    """``store.directory.save(object, entries)``, ``.holders(digests)``, ``.by_email(emails)``, ``.by_id(ids)``,
    ``.forget``, ``.clear``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def save(
        self, object_name: str, entries: Iterable[tuple[str, str | None, str]], *, version: int | None = None
    ) -> None:
        """Record ``(id, email, last_modified)`` of Contacts or Leads; an empty email keeps the record for
        linking by Id only, and an entry whose email is None is removed. Rows are written in key order (a
        stable sort: of one Id given twice the later wins), so the table's pages are visited in order. With
        ``version``, the emails whose holders this changes are noted as changed at it."""
        number = OBJECTS.index(object_name)
        keep: list[tuple[str, int, bytes | None, int]] = []
        drop: list[tuple[str, int]] = []
        for record_id, email, last_modified in entries:
            if email is not None:
                keep.append(
                    (record_id[:15], number, email_digest(email) if email else None, modified_ms(last_modified))
                )
            else:
                drop.append((record_id[:15], number))
        keep.sort(key=_KEY)
        if version is not None:
            self._note_changes(keep, drop, version)
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO directory (id15, object, email_digest, modified) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id15) DO UPDATE SET object = excluded.object, email_digest = excluded.email_digest, "
                "modified = excluded.modified",
                keep,
            )
            transaction.execute_many("DELETE FROM directory WHERE id15 = ? AND object = ?", drop)

    def forget(self, object_name: str, ids: Iterable[str], *, version: int | None = None) -> None:
        number = OBJECTS.index(object_name)
        rows = [(record_id[:15], number) for record_id in ids]
        if version is not None:
            self._note_changes([], rows, version)
        with self.database.transaction() as transaction:
            transaction.execute_many("DELETE FROM directory WHERE id15 = ? AND object = ?", rows)

    def clear(self, object_name: str) -> None:
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM directory WHERE object = ?", (OBJECTS.index(object_name),))

    def _note_changes(
        self, kept: Sequence[tuple[str, int, bytes | None, int]], dropped: Sequence[tuple[str, int]], version: int
    ) -> None:
        """Note at ``version`` the old and new email of every entry ``kept`` changes or adds and of every
        entry ``dropped`` removes (an entry rewritten as it was changes nothing)."""
        wanted = [entry[0] for entry in kept] + [record_id for record_id, _number in dropped]
        rows = execute_in(
            self.database, "SELECT id15, object, email_digest, modified FROM directory WHERE id15 IN ({})", wanted
        )
        before = {
            id15: (number, None if digest is None else bytes(digest), modified)
            for id15, number, digest, modified in rows
        }
        changed: set[bytes] = set()
        for id15, number, digest, modified in kept:
            old = before.get(id15)
            if old != (number, digest, modified):
                changed.add(digest or b"")
                if old is not None:
                    changed.add(old[1] or b"")
        for id15, number in dropped:
            old = before.get(id15)
            if old is not None and old[0] == number:
                changed.add(old[1] or b"")
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO directory_changes (email_digest, version) VALUES (?, ?) "
                "ON CONFLICT (email_digest) DO UPDATE SET version = excluded.version",
                [(digest, version) for digest in sorted(changed)],
            )

    def changes_since(self, version: int) -> dict[bytes, int]:
        """The emails (digests; b"" for records without one) changed after ``version``, with their version."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT email_digest, version FROM directory_changes WHERE version > ?", (version,)
            )
        return {bytes(digest): int(changed) for digest, changed in rows}

    def forget_changes(self, through: int) -> None:
        """Forget the changes noted at ``through`` or before (no kept page was linked before them)."""
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM directory_changes WHERE version <= ?", (through,))

    def holders(self, digests: Sequence[bytes]) -> list[Holder]:
        """The rows of every Contact and Lead whose email has one of ``digests`` (sorted, so each chunk
        walks the index in order), as they are: linking a page reads them without an object per row."""
        rows = execute_in(
            self.database,
            "SELECT email_digest, object, id15, modified FROM directory WHERE email_digest IN ({})",
            sorted(digests),
        )
        return [(bytes(digest), number, id15, modified) for digest, number, id15, modified in rows]

    def by_email(self, emails: Iterable[str]) -> list[Entry]:
        """Every Contact and Lead with one of ``emails``, ordered by object, then Id."""
        wanted = {lowered_digest(lowered): lowered for lowered in {email.lower() for email in emails if email}}
        found = (
            Entry(OBJECTS[number], long_id(id15), wanted[digest], int(modified))
            for digest, number, id15, modified in self.holders(list(wanted))
        )
        return sorted(found)

    def by_id(self, ids: Iterable[str]) -> list[Entry]:
        """The Contacts and Leads of ``ids``, 15-character (case-sensitive) or 18-character."""
        wanted = sorted({record_id[:15] for record_id in ids if record_id})
        rows = execute_in(self.database, "SELECT object, id15, modified FROM directory WHERE id15 IN ({})", wanted)
        return sorted(Entry(OBJECTS[number], long_id(id15), None, int(modified)) for number, id15, modified in rows)
