"""The Contact and Lead directory: who has which email, for linking without a query per page."""

from collections.abc import Iterable

from cmsync.state.database import Database, Row, execute_in


class Directory:
    """``store.directory.save(object, entries)``, ``.by_email(emails)``, ``.by_id(ids)``, ``.forget``, ``.clear``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def save(self, object_name: str, entries: Iterable[tuple[str, str | None, str]]) -> None:
        """Record ``(id, email, last_modified)`` of Contacts or Leads; an empty email keeps the record for
        linking by Id only, and an entry whose email is None is removed."""
        keep, drop = [], []
        for record_id, email, last_modified in entries:
            if email is not None:
                keep.append((object_name, record_id, record_id[:15], email.lower(), last_modified))
            else:
                drop.append((object_name, record_id))
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO directory (object, id, id15, email, last_modified) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (object, id) DO UPDATE SET email = excluded.email, last_modified = excluded.last_modified",
                keep,
            )
            transaction.execute_many("DELETE FROM directory WHERE object = ? AND id = ?", drop)

    def forget(self, object_name: str, ids: Iterable[str]) -> None:
        rows = [(object_name, record_id) for record_id in ids]
        with self.database.transaction() as transaction:
            transaction.execute_many("DELETE FROM directory WHERE object = ? AND id = ?", rows)

    def clear(self, object_name: str) -> None:
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM directory WHERE object = ?", (object_name,))

    def by_email(self, emails: Iterable[str]) -> list[Row]:
        """``(object, id, email, last_modified)`` of every Contact and Lead with one of ``emails``."""
        wanted = sorted({email.lower() for email in emails if email})
        return execute_in(
            self.database, "SELECT object, id, email, last_modified FROM directory WHERE email IN ({})", wanted
        )

    def by_id(self, ids: Iterable[str]) -> list[Row]:
        """The same for 15- or 18-character Ids."""
        wanted = sorted({record_id[:15] for record_id in ids if record_id})
        return execute_in(
            self.database, "SELECT object, id, email, last_modified FROM directory WHERE id15 IN ({})", wanted
        )
