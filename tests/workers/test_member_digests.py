"""List members' digests are kept once per member, on SQLite and PostgreSQL, and older stores are converted."""

import pytest

from cmsync.state import StateStore, schema
from tests.workers.conftest import ManualClock

_PER_MEMBER = next(
    version
    for version, statements in enumerate(schema.MIGRATIONS)
    if any("UPDATE content_hashes SET stream" in statement for statement in statements)
)


def test_a_store_keeping_digests_per_state_is_converted_to_one_per_member(
    state_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before:
        before.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:_PER_MEMBER])
        old = StateStore.open(state_url, clock)
        old.content_hashes.save("members:l1:active", {"l1:o'brien@example.com": "a1", "l1:twice@example.com": "a2"})
        old.content_hashes.save("members:l1:unsubscribed", {"l1:twice@example.com": "u2", "l1:田中@example.jp": "u3"})
        old.content_hashes.save("members:l2:unconfirmed", {"l2:zoë@example.org": "c4"})
        old.content_hashes.save("members:l2:bounced", {"l2:b@example.org": "b5"})
        old.content_hashes.save("members:l2:deleted", {"l2:d@example.org": "d6"})
        old.content_hashes.save("campaigns:client", {"campaign": "c7"})
        old.close()

    with monkeypatch.context() as after:
        after.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[: _PER_MEMBER + 1])
        store = StateStore.open(state_url, clock)
    first = ["l1:o'brien@example.com", "l1:twice@example.com", "l1:田中@example.jp"]
    assert store.content_hashes.get("members:l1", first) == {"l1:o'brien@example.com": "a1", "l1:田中@example.jp": "u3"}
    second = ["l2:zoë@example.org", "l2:b@example.org", "l2:d@example.org"]
    assert store.content_hashes.get("members:l2", second) == dict(zip(second, ["c4", "b5", "d6"], strict=True))
    assert store.content_hashes.get("members:l1:active", first) == {}
    assert store.content_hashes.get("campaigns:client", ["campaign"]) == {"campaign": "c7"}
    store.close()


def test_a_full_pass_replaces_the_digests_of_a_list(store: StateStore) -> None:
    store.digests.save("members:l1", {"l1:a@example.com": b"a" * 16, "l1:b@example.com": b"b" * 16})
    store.digests.save("members:l2", {"l2:a@example.com": b"a" * 16})
    store.digests.forget("members:l1")
    assert store.digests.get("members:l1", ["l1:a@example.com", "l1:b@example.com"]) == {}
    assert store.digests.get("members:l2", ["l2:a@example.com"]) == {"l2:a@example.com": b"a" * 16}


def test_rejections_of_every_state_of_a_list(store: StateStore) -> None:
    store.rejections.add("CM_List_Member__c", "l1:a@example.com", "members:l1:active", "STRING_TOO_LONG", {}, 1)
    store.rejections.add("CM_List_Member__c", "l1:b@example.com", "members:l1:bounced", "STRING_TOO_LONG", {}, 1)
    store.rejections.add("CM_List_Member__c", "l2:a@example.com", "members:l2:active", "STRING_TOO_LONG", {}, 1)
    keys = {rejection.key for rejection in store.rejections.list(stream_prefix="members:l1:")}
    assert keys == {"l1:a@example.com", "l1:b@example.com"}
