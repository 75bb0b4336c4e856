"""Unit tests of ``batches``: which pushes of a chunk can go to CM in one import without changing what
CM ends up holding."""

from datetime import UTC, datetime

from cmsync.clients.campaign_monitor.records import SubscriberDetails
from cmsync.outbound.batches import batches
from cmsync.outbound.ledger import Entry
from cmsync.outbound.planning import Push, PushKind

SAVED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _push(kind: PushKind, email: str, *, list_id: str = "list-a", new_email: str | None = None) -> Push:
    details = SubscriberDetails(new_email or email, "Zoë D'Arcy")
    entry = Entry("subscribed", details.email, "digest")
    return Push(kind, list_id, "Contact", f"003{email}", email, SAVED, entry, details)


def test_adds_and_updates_on_a_list_are_imported_together_and_address_changes_are_not() -> None:
    add = _push("add", "josé@example.com")
    update = _push("update", "田中@example.jp")
    other_add = _push("add", "new@example.com")
    renamed = _push("email_change", "old@example.com", new_email="new.address@example.com")
    recased = _push("update", "case@example.com", new_email="Case@Example.com")
    grouped = batches([add, update, renamed, recased, other_add])
    assert grouped.pushes == {"list-a": [add, update, other_add]}
    assert grouped.bulk_add == {"list-a": True}
    assert not grouped.holds(renamed) and not grouped.holds(recased)


def test_a_lone_add_stays_a_single_add_and_a_lone_update_a_single_update() -> None:
    lone_add = _push("add", "first@example.com")
    updates = [_push("update", f"member{number}@example.com") for number in range(2)]
    lone_update = _push("update", "only@example.com", list_id="list-b")
    grouped = batches([lone_add, *updates, lone_update])
    assert grouped.pushes == {"list-a": updates}
    assert grouped.bulk_add == {"list-a": False}
    assert not grouped.holds(lone_add) and not grouped.holds(lone_update)


def test_an_address_named_twice_on_a_list_is_imported_once_and_then_sent_alone() -> None:
    first = _push("update", "twice@example.com")
    again = _push("add", "TWICE@example.com ")
    others = [_push("add", f"other{number}@example.com") for number in range(2)]
    elsewhere = _push("add", "twice@example.com", list_id="list-b")
    grouped = batches([first, *others, again, elsewhere, _push("add", "third@example.com", list_id="list-b")])
    assert grouped.pushes["list-a"] == [first, *others]
    assert grouped.holds(elsewhere) and not grouped.holds(again)
