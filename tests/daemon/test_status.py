"""``cmsync status`` tells times in the product's words (checked with an injected clock for each bucket),
and, like the metrics and ``/healthz``, says plainly while disconnected that nothing runs or is pushed."""

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from cmsync.commands.status import status_report, status_text
from cmsync.state import StateStore
from tests.config.builders import load, with_settings
from tests.daemon.daemon import Daemon, cmsync, free_port
from tests.sync.world import World, start_world, stop_world
from tests.waiting import wait_until
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
    run = store.runs.begin("schedule", **OWNER).run
    store.runs.count(run.id, "CM_List_Member__c", "imported", 1500)
    clock.advance(timedelta(minutes=2, seconds=5))
    store.runs.finish(run.id, "succeeded")
    text = status_text(status_report(load(with_settings()), store), clock.now + age)
    assert f"last run:      run {run.id} succeeded, finished {words}, took 2m 05s" in text
    assert "CM_List_Member__c 1500 imported" in text


def test_next_run_in_the_future_and_daemon_state(store: StateStore) -> None:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    settings = load(with_settings())
    text = status_text(status_report(settings, store), clock.now)
    assert "daemon:        not running" in text and "next run when the daemon runs" in text
    assert "last run:      none yet" in text
    store.leases.supervisor.take("host:42", timedelta(seconds=30))
    store.facts.schedule.set({"frequency": "hourly", "next_run": (clock.now + timedelta(minutes=12)).isoformat()})
    text = status_text(status_report(settings, store), clock.now)
    assert "daemon:        running (host:42)" in text and "import:        hourly; next run in 12 minutes" in text


def test_clients_rejections_run_in_flight_and_disconnection(store: StateStore) -> None:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    second = "0" * 31 + "1"
    settings = load(with_settings(campaign_monitor={"clients": ["5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b", second]}))
    store.facts.client("5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b").set({"client_id": "x", "name": "Harbour Outfitters",
                                                                "timezone": "", "offset_minutes": 0})  # fmt: skip
    run = store.runs.begin("sync-now", **OWNER).run
    store.runs.add_jobs(run.id, ["plan", "list:a"])
    store.rejections.add("CM_List_Member__c", "k", "members:l:active", "INVALID_EMAIL_ADDRESS: bad", {}, run.id)
    store.connection.set(False)
    text = status_text(status_report(settings, store), clock.now + timedelta(minutes=3))
    assert "connection:    disconnected" in text
    assert "connected clients:\n  Harbour Outfitters (5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b)\n  (name not known yet)" in text
    assert f"running now:   run {run.id} (sync-now), started 3 minutes ago; 2 jobs left" in text
    assert "rejected:      1 records kept to retry" in text


def test_disconnected_shows_no_next_run_and_outbound_stopped(store: StateStore) -> None:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    settings = load(with_settings())
    store.leases.supervisor.take("host:42", timedelta(seconds=30))
    store.facts.schedule.set({"frequency": "hourly", "next_run": (clock.now + timedelta(minutes=12)).isoformat()})
    store.connection.set(False)
    report = status_report(settings, store)
    text = status_text(report, clock.now)
    assert "import:        hourly; next run none while disconnected (`cmsync connect` resumes)" in text
    assert "outbound:      stopped (disconnected): nothing is pushed to Campaign Monitor" in text
    assert report["schedule"]["next_run"] is None and report["outbound"]["state"] == "stopped (disconnected)"
    store.connection.set(True)
    text = status_text(status_report(settings, store), clock.now)
    assert "import:        hourly; next run in 12 minutes" in text and "outbound:      active, every " in text


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


def _metrics(listen: str) -> dict[str, float]:
    text = requests.get(f"http://{listen}/metrics", timeout=5).text
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


def test_a_daemon_started_disconnected_shows_no_next_run_and_outbound_stopped_until_connect(
    world: World, tmp_path: Path
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    config = world.write_config(tmp_path / "cmsync.yaml", metrics={"listen": listen}, outbound={"poll_interval": "1s"},
                                logging={"format": "json", "level": "info"})  # fmt: skip
    store = StateStore.open(world.settings().state.url.get_secret_value())
    store.connection.set(False)
    store.close()
    daemon = Daemon(config, tmp_path).start()
    try:
        wait_until(lambda: _metrics(listen).get("cmsync_supervisor_heartbeat_timestamp_seconds", 0) > 0, "observed")
        seen = _metrics(listen)
        assert seen["cmsync_connected"] == 0 and seen["cmsync_next_run_timestamp_seconds"] == 0
        assert seen.get("cmsync_outbound_active") == 0
        health = requests.get(f"http://{listen}/healthz", timeout=5)
        assert health.status_code == 200 and "disconnected: nothing syncs until `cmsync connect`" in health.text
        status = cmsync("status", "--config", str(config)).stdout
        assert "next run none while disconnected" in status and "outbound:      stopped (disconnected)" in status
        assert cmsync("connect", "--config", str(config)).returncode == 0
        wait_until(lambda: _metrics(listen)["cmsync_next_run_timestamp_seconds"] > time.time(), "scheduled")
        wait_until(lambda: _metrics(listen)["cmsync_outbound_active"] == 1, "outbound active")
        assert "disconnected" not in requests.get(f"http://{listen}/healthz", timeout=5).text
        status = cmsync("status", "--config", str(config)).stdout
        assert "import:        hourly; next run in " in status and "outbound:      active, every 1s" in status
    finally:
        assert daemon.stop() == 0
