"""The main sync keeps one 16-byte digest per record key, on SQLite and PostgreSQL; older stores drop the
digests of the old kind and keep everything else."""

import pytest

from cmsync.mapping.records import held_digest
from cmsync.state import StateStore, schema
from cmsync.state import digests as digests_module
from tests.workers.conftest import ManualClock

_COMPACT = next(
    version
    for version, statements in enumerate(schema.MIGRATIONS)
    if any("CREATE TABLE record_digests" in statement for statement in statements)
)
KEYS = ["l1:o'brien@example.com", "l1:田中@example.jp", "l1:zoë🎉@example.org", "l1:" + "long" * 60 + "@example.com"]


def test_digests_are_sixteen_bytes_kept_per_stream(store: StateStore) -> None:
    digests = {key: held_digest({"CM_Member_Key__c": key, "CM_State__c": "Active"}) for key in KEYS}
    assert {len(digest) for digest in digests.values()} == {16}
    store.digests.save("members:l1", digests, seen="run:1")
    store.digests.save("members:l2", {KEYS[0]: b"\x00" * 16})
    assert store.digests.get("members:l1", [*KEYS, "l1:absent@example.com"]) == digests
    assert store.digests.get("members:l2", KEYS) == {KEYS[0]: b"\x00" * 16}


def test_a_full_pass_finds_the_keys_it_did_not_see(store: StateStore) -> None:
    store.digests.save("members:l1", dict.fromkeys(KEYS, b"\x01" * 16))
    store.digests.mark_seen("members:l1", KEYS[:1], "l1:7:Active:1")
    store.digests.mark_seen("members:l1", KEYS[1:2], "l1:7:Active:2")
    store.digests.save("members:l1", {KEYS[2]: b"\x02" * 16}, seen="l1:7:Bounced:1")
    found = {store.digests.marker(name) for name in ("l1:7:Active:1", "l1:7:Active:2", "l1:7:Bounced:1")}
    assert store.digests.unseen("members:l1", found) == [KEYS[3]]
    store.digests.forget("members:l1", [KEYS[3]])
    assert store.digests.unseen("members:l1", found) == []
    assert set(store.digests.get("members:l1", KEYS)) == set(KEYS[:3])


def test_a_tally_counts_and_folds_the_digests_of_each_seen_marker(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests_module, "_TALLY_BATCH", 2)
    digests = {key: bytes([n]) * 16 for n, key in enumerate(KEYS, start=1)}
    store.digests.save("members:l1", digests)
    store.digests.mark_seen("members:l1", KEYS[:3], "l1:8:Active:1")
    marker = store.digests.marker("l1:8:Active:1")
    folded = int.from_bytes(digests[KEYS[0]]) ^ int.from_bytes(digests[KEYS[1]]) ^ int.from_bytes(digests[KEYS[2]])
    assert store.digests.tally("members:l1") == {marker: (3, folded)}
    store.digests.save("members:l1", {KEYS[1]: b"\x09" * 16})
    assert store.digests.tally("members:l1") == {marker: (2, folded ^ int.from_bytes(digests[KEYS[1]]))}


def test_a_stream_keeps_digests_until_they_are_forgotten(store: StateStore) -> None:
    assert not store.digests.kept("members:l1")
    store.digests.save("members:l1", {KEYS[0]: b"\x01" * 16})
    assert store.digests.kept("members:l1") and not store.digests.kept("members:l2")
    store.digests.forget("members:l1")
    assert not store.digests.kept("members:l1")


def test_an_older_store_drops_the_sync_digests_and_keeps_the_rest(
    state_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before:
        before.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:_COMPACT])
        old = StateStore.open(state_url, clock)
        old.content_hashes.save("members:l1", {KEYS[0]: "a1b2"}, seen="run:3")
        old.content_hashes.save("clients", {"client": "c1"})
        old.content_hashes.save("lists:client", {"l1": "d2"})
        old.content_hashes.save("campaigns:client", {"campaign": "e3"})
        old.content_hashes.save("outbound:l1", {"0035g000000001IAAQ": '{"state": "Active"}'})
        old.watermarks.set("members:l1:active", "2026-11-01 08:00:00")
        old.close()

    store = StateStore.open(state_url, clock)
    assert store.content_hashes.get("members:l1", [KEYS[0]]) == {}
    assert store.content_hashes.get("clients", ["client"]) == {}
    assert store.content_hashes.get("lists:client", ["l1"]) == {}
    assert store.content_hashes.get("campaigns:client", ["campaign"]) == {}
    assert store.content_hashes.get("outbound:l1", ["0035g000000001IAAQ"]) == {
        "0035g000000001IAAQ": '{"state": "Active"}'
    }
    assert store.watermarks.get("members:l1:active") == "2026-11-01 08:00:00"
    store.digests.save("members:l1", {KEYS[0]: b"\x03" * 16})
    assert store.digests.get("members:l1", [KEYS[0]]) == {KEYS[0]: b"\x03" * 16}
    store.close()


def test_markers_of_a_list_that_no_page_holds_are_forgotten(store: StateStore) -> None:
    names = ["l1:4:Active:1", "l1:4:Active:2", "l12:4:Active:1", "run:3"]
    numbers = {name: store.digests.marker(name) for name in names}
    store.digests.forget_markers("l1:", {numbers["l1:4:Active:2"]})
    with store.database.transaction() as transaction:
        kept = {row[0] for row in transaction.execute("SELECT name FROM digest_markers")}
    assert kept == {"l1:4:Active:2", "l12:4:Active:1", "run:3"}
    assert store.digests.marker("l1:4:Active:1") not in numbers.values(), "a forgotten marker is numbered anew"
