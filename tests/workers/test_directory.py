"""The Contact and Lead directory on SQLite and PostgreSQL, as linking asks it (email, case-insensitive,
newest wins; Id in either form), and a store of the older, larger form converted on open (and an SQLite
file compacted, so the old form's pages do not stay in it as free space)."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cmsync.mapping.linking import find_links
from cmsync.state import StateStore, schema
from cmsync.state.database import Transaction
from cmsync.state.directory import email_digest
from cmsync.state.record_ids import long_id
from cmsync_sandbox.salesforce.ids import make_id
from tests.workers.conftest import ManualClock

_OLD = 6
"""The schema before the directory was keyed by the 15-character Id and marks were numbered."""


@contextmanager
def _old_store(url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Transaction]:
    """A store of schema ``_OLD``, for the test to write in the old form (then closed)."""
    with monkeypatch.context() as before:
        before.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:_OLD])
        old = StateStore.open(url, clock)
        with old.database.transaction() as transaction:
            yield transaction
        old.close()


FIRST, TIED, SECOND = make_id("003", 62**8 * 11 + 36), make_id("003", 62**8 * 11 + 40), make_id("003", 62**8 * 37)
LEAD = make_id("00Q", 62**7 * 45 + 10)
NO_EMAIL = make_id("003", 62**6 * 20 + 61)


def _links(store: StateStore, email: str, named: str | None = None) -> dict[str, str]:
    found = find_links(store, [email], [named] if named else []).for_subscriber(email, named)
    return {object_name: match.id for object_name, match in found.items()}


def test_the_newest_record_of_an_email_wins_and_a_tie_goes_to_the_lowest_id(store: StateStore) -> None:
    assert FIRST.lower() != FIRST and TIED < SECOND
    store.directory.save(
        "Contact",
        [
            (SECOND, "ann@example.com", "2026-11-02T08:00:00.000+0000"),
            (TIED, "Ann@Example.com", "2026-11-02T08:00:00.000Z"),
            (FIRST, "ANN@example.com", "2026-11-01T09:30:00.000Z"),
        ],
    )
    store.directory.save("Lead", [(LEAD, "ann@EXAMPLE.com", "2026-10-01T00:00:00.000Z")])
    assert _links(store, "Ann@example.COM") == {"Contact": TIED, "Lead": LEAD}
    store.directory.save("Contact", [(FIRST, "ann@example.com", "2026-11-02T08:00:00.001Z")])
    assert _links(store, "ann@example.com") == {"Contact": FIRST, "Lead": LEAD}
    assert [entry.email for entry in store.directory.by_email(["ANN@example.com"])] == ["ann@example.com"] * 4


def test_an_id_in_either_form_links_a_record_without_email(store: StateStore) -> None:
    store.directory.save("Contact", [(NO_EMAIL, "", "2026-11-01T08:00:00.000Z")])
    assert store.directory.by_email([""]) == []
    assert _links(store, "bo@example.com", NO_EMAIL[:15]) == {"Contact": NO_EMAIL}
    assert _links(store, "bo@example.com", NO_EMAIL.lower()) == {"Contact": NO_EMAIL}
    assert _links(store, "bo@example.com", NO_EMAIL[:15].lower()) == {}


def test_a_changed_email_moves_and_removed_records_go(store: StateStore) -> None:
    store.directory.save("Contact", [(FIRST, "old@example.com", "2026-11-01T08:00:00.000Z")])
    store.directory.save("Lead", [(LEAD, "lead@example.com", "2026-11-01T08:00:00.000Z")])
    store.directory.save("Contact", [(FIRST, "new@example.com", "2026-11-03T08:00:00.000Z")])
    assert _links(store, "old@example.com") == {}
    assert _links(store, "new@example.com") == {"Contact": FIRST}
    store.directory.save("Contact", [(FIRST, None, "2026-11-04T08:00:00.000Z")])
    assert _links(store, "new@example.com") == {}
    store.directory.save("Contact", [(SECOND, "new@example.com", "2026-11-04T08:00:00.000Z")])
    store.directory.forget("Lead", [SECOND])
    store.directory.clear("Contact")
    assert _links(store, "new@example.com") == {}
    assert _links(store, "lead@example.com") == {"Lead": LEAD}
    store.directory.forget("Lead", [LEAD])
    assert _links(store, "lead@example.com") == {}


def test_a_catch_up_notes_the_emails_whose_holders_it_changed(store: StateStore) -> None:
    store.directory.save("Contact", [(FIRST, "Ann@example.com", "2026-11-01T08:00:00.000Z")], version=1)
    store.directory.save("Contact", [(TIED, "", "2026-11-01T08:00:00.000Z")], version=1)
    assert store.directory.changes_since(0) == {email_digest("ann@example.com"): 1, b"": 1}
    store.directory.save("Contact", [(FIRST, "ann@example.com", "2026-11-01T08:00:00.000Z")], version=2)
    assert store.directory.changes_since(1) == {}, "an entry read again as it was changes nothing"
    store.directory.save("Contact", [(FIRST, "bo@example.com", "2026-11-02T08:00:00.000Z")], version=3)
    assert store.directory.changes_since(2) == {email_digest("ann@example.com"): 3, email_digest("bo@example.com"): 3}
    store.directory.save("Lead", [(LEAD, "cy@example.com", "2026-11-02T08:00:00.000Z")])
    store.directory.forget("Contact", [FIRST, LEAD], version=4)
    assert store.directory.changes_since(3) == {email_digest("bo@example.com"): 4}, "only the Contact's removal"
    store.directory.forget_changes(3)
    assert store.directory.changes_since(0) == {email_digest("bo@example.com"): 4}


def test_of_an_id_saved_twice_at_once_the_later_wins(store: StateStore) -> None:
    assert email_digest("ann@example.com") < email_digest("bo@example.com")
    store.directory.save(
        "Contact",
        [
            (SECOND, "bo@example.com", "2026-11-01T08:00:00.000Z"),
            (FIRST, "bo@example.com", "2026-11-01T08:00:00.000Z"),
            (TIED, "cy@example.com", "2026-11-01T08:00:00.000Z"),
            (FIRST, "ann@example.com", "2026-11-02T08:00:00.000Z"),
        ],
    )
    assert _links(store, "ann@example.com") == {"Contact": FIRST}
    assert _links(store, "bo@example.com") == {"Contact": SECOND}


def test_an_18_character_id_is_spelled_as_salesforce_spells_it() -> None:
    assert long_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert long_id("003000000000000") == "003000000000000AAA"
    assert long_id("ABCDEABCDEABCDE") == "ABCDEABCDEABCDE555"


def test_an_older_store_links_and_compares_digests_as_before(
    state_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _old_store(state_url, clock, monkeypatch) as transaction:
        transaction.execute_many(
            "INSERT INTO directory (object, id, id15, email, last_modified) VALUES (?, ?, ?, ?, ?)",
            [
                ("Contact", FIRST, FIRST[:15], "ann@example.com", "2026-11-01T09:30:00.000Z"),
                ("Contact", SECOND, SECOND[:15], "ann@example.com", "2026-11-02T08:00:00.000+0000"),
                ("Lead", LEAD, LEAD[:15], "ann@example.com", "2026-10-01T00:00:00.000Z"),
                ("Contact", NO_EMAIL, NO_EMAIL[:15], "", "2026-11-01T08:00:00.000Z"),
            ],
        )
        transaction.execute("INSERT INTO digest_streams (name) VALUES ('members:l1')")
        stream_id = transaction.execute("SELECT id FROM digest_streams WHERE name = 'members:l1'")[0][0]
        transaction.execute_many(
            "INSERT INTO record_digests (stream_id, record_key, digest, seen) VALUES (?, ?, ?, ?)",
            [
                (stream_id, ":ann@example.com", b"\x01" * 16, "run:3"),
                (stream_id, ":bo@example.com", b"\x02" * 16, "run:2"),
                (stream_id, ":cy@example.com", b"\x03" * 16, None),
            ],
        )

    store = StateStore.open(state_url, clock)
    assert _links(store, "Ann@example.com") == {"Contact": SECOND, "Lead": LEAD}
    assert _links(store, "bo@example.com", NO_EMAIL.lower()) == {"Contact": NO_EMAIL}
    keys = ["l1:ann@example.com", "l1:bo@example.com", "l1:cy@example.com"]
    assert store.digests.get("members:l1", keys) == {key: bytes([n]) * 16 for n, key in enumerate(keys, start=1)}
    marker = store.digests.marker("run:3")
    assert store.digests.unseen("members:l1", {marker}) == keys[1:]
    store.digests.mark_seen("members:l1", keys[1:2], "run:3")
    assert store.digests.unseen("members:l1", {marker}) == keys[2:]
    store.close()


def test_an_older_sqlite_store_gives_back_the_pages_the_old_form_took(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with _old_store(url, clock, monkeypatch) as transaction:
        transaction.execute_many(
            "INSERT INTO directory (object, id, id15, email, last_modified) VALUES (?, ?, ?, ?, ?)",
            [
                ("Contact", make_id("003", n), make_id("003", n)[:15], f"p{n}@example.com", "2026-11-01T08:00:00Z")
                for n in range(2000)
            ],
        )
    store = StateStore.open(url, clock)
    assert _links(store, "P1999@example.com") == {"Contact": make_id("003", 1999)}
    store.close()
    with sqlite3.connect(tmp_path / "state.db") as connection:
        assert connection.execute("PRAGMA freelist_count").fetchone() == (0,)
