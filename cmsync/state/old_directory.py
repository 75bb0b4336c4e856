"""The directory as schema version 6 kept it (email and times as text, beside a 15-character Id index),
copied into the current form so an upgraded store links at once, without loading the directory again."""

from cmsync.state.database import Transaction
from cmsync.state.directory import OBJECTS, email_digest, modified_ms

_CHUNK = 5000


def copy_old_directory(transaction: Transaction) -> None:
    """Copy the rows of the old ``directory`` into ``new_directory``, a chunk at a time (memory stays flat)."""
    after: tuple[str, str] = ("", "")
    while rows := transaction.execute(
        "SELECT object, id, email, last_modified FROM directory WHERE (object, id) > (?, ?) "
        f"ORDER BY object, id LIMIT {_CHUNK}",
        after,
    ):
        transaction.execute_many(
            "INSERT INTO new_directory (id15, object, email_digest, modified) VALUES (?, ?, ?, ?)",
            [
                (
                    record_id[:15],
                    OBJECTS.index(object_name),
                    email_digest(email) if email else None,
                    modified_ms(moment),
                )
                for object_name, record_id, email, moment in rows
                if object_name in OBJECTS
            ],
        )
        after = (rows[-1][0], rows[-1][1])
