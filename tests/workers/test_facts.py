"""Facts keep the keys and JSON values older cmsync versions wrote, so an existing store reads the same."""

import json
from datetime import timedelta

from cmsync.state import StateStore
from tests.workers.conftest import ManualClock

WRITTEN_BEFORE = {
    "connection": "disconnected",
    "schedule": {"frequency": "hourly", "next_run": None},
    "last_purge": {"status": "succeeded", "deleted": 3},
    "outbound_cursor:Contact": {"after": "2026-11-01T08:00:00.000Z", "seen": {}, "bulks": []},
    "outbound_deleted:Lead": "2026-11-01T08:00:00.000Z",
    "outbound_cdc:Contact": {"replay_id": "AAE=", "at": None, "bulks": []},
    "outbound_paused": ["disconnected"],
    "full_pass:l1": "2026-11-01T08:00:00+00:00",
    "plan_attempts:7": "2",
    "tracking_digest:c1": "d1",
}


def test_the_accessors_read_what_an_older_store_holds(store: StateStore) -> None:
    with store.database.transaction() as transaction:
        transaction.execute_many(
            "INSERT INTO installation (key, value, updated_at) VALUES (?, ?, '2026-11-01T08:00:00.000000+00:00')",
            [(key, json.dumps(value)) for key, value in WRITTEN_BEFORE.items()],
        )
    facts = store.facts
    assert not store.connection.connected()
    assert facts.schedule.get() == WRITTEN_BEFORE["schedule"]
    assert facts.last_purge.get() == WRITTEN_BEFORE["last_purge"]
    assert facts.outbound_cursor("Contact").get() == WRITTEN_BEFORE["outbound_cursor:Contact"]
    assert facts.outbound_deleted("Lead").get() == WRITTEN_BEFORE["outbound_deleted:Lead"]
    assert facts.cdc_progress("Contact").get() == WRITTEN_BEFORE["outbound_cdc:Contact"]
    assert facts.outbound_paused.get() == ["disconnected"]
    assert facts.full_pass("l1").get() == WRITTEN_BEFORE["full_pass:l1"]
    assert facts.plan_attempts(7).get() == "2"
    assert facts.tracking_read("c1").get() == "d1"
    assert facts.cdc_progress("Lead").get() is None


def test_clearing_a_fact_keeps_its_change_time_when_it_is_clear_already(store: StateStore, clock: ManualClock) -> None:
    paused = store.facts.outbound_paused
    assert paused.changed_at() is None
    paused.set(["disable_triggers"])
    clock.advance(timedelta(minutes=1))
    paused.clear()
    cleared_at = paused.changed_at()
    assert paused.get() is None and cleared_at == clock()
    clock.advance(timedelta(minutes=1))
    paused.clear()
    assert paused.changed_at() == cleared_at
