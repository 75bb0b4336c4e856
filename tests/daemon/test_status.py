"""``cmsync status`` tells times in the product's words; checked with an injected clock for each bucket."""

from datetime import timedelta
from pathlib import Path

import pytest

from cmsync.daemon.status import status_report, status_text
from cmsync.workers.state import StateStore
from tests.config.builders import load, with_settings
from tests.workers.conftest import OWNER, ManualClock


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", ManualClock())


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (timedelta(seconds=20), "seconds ago"),
        (timedelta(seconds=75), "a minute ago"),
        (timedelta(minutes=7), "7 minutes ago"),
        (timedelta(minutes=65), "an hour ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(hours=30), "a day ago"),
        (timedelta(days=4), "4 days ago"),
    ],
)
def test_last_run_age(store: StateStore, age: timedelta, words: str) -> None:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    run = store.begin_run("schedule", **OWNER).run
    store.count(run.id, "CM_List_Member__c", "imported", 1500)
    clock.advance(timedelta(minutes=2, seconds=5))
    store.finish_run(run.id, "succeeded")
    text = status_text(status_report(load(with_settings()), store), clock.now + age)
    assert f"last run:      run {run.id} succeeded, finished {words}, took 2m 05s" in text
    assert "CM_List_Member__c 1500 imported" in text


def test_next_run_in_the_future_and_daemon_state(store: StateStore) -> None:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    settings = load(with_settings())
    text = status_text(status_report(settings, store), clock.now)
    assert "daemon:        not running" in text and "next run when the daemon runs" in text
    assert "last run:      none yet" in text
    store.acquire_lock("supervisor", "host:42", timedelta(seconds=30))
    store.set_fact("schedule", {"frequency": "hourly", "next_run": (clock.now + timedelta(minutes=12)).isoformat()})
    text = status_text(status_report(settings, store), clock.now)
    assert "daemon:        running (host:42)" in text and "import:        hourly; next run in 12 minutes" in text


def test_clients_rejections_run_in_flight_and_disconnection(store: StateStore) -> None:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    second = "0" * 31 + "1"
    settings = load(with_settings(campaign_monitor={"clients": ["5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b", second]}))
    store.set_fact("client:5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b", {"client_id": "x", "name": "Harbour Outfitters",
                                                                "timezone": "", "offset_minutes": 0})  # fmt: skip
    run = store.begin_run("sync-now", **OWNER).run
    store.add_jobs(run.id, ["plan", "list:a"])
    store.reject("CM_List_Member__c", "k", "members:l:active", "INVALID_EMAIL_ADDRESS: bad", {}, run.id)
    store.set_connected(False)
    text = status_text(status_report(settings, store), clock.now + timedelta(minutes=3))
    assert "connection:    disconnected" in text
    assert "connected clients:\n  Harbour Outfitters (5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b)\n  (name not known yet)" in text
    assert f"running now:   run {run.id} (sync-now), started 3 minutes ago; 2 jobs left" in text
    assert "rejected:      1 records kept to retry" in text
