"""A run's heartbeat: the timeout every process agrees on, and the thread that keeps held runs alive."""

import time
from datetime import timedelta
from pathlib import Path

import pytest

from cmsync.state import StateStore
from cmsync.state.heartbeat import Heartbeat, heartbeat_timeout, process_owner
from tests.workers.conftest import OWNER


def test_the_timeout_is_30_seconds_unless_the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMSYNC_RUN_HEARTBEAT_TIMEOUT", raising=False)
    assert heartbeat_timeout() == timedelta(seconds=30)
    monkeypatch.setenv("CMSYNC_RUN_HEARTBEAT_TIMEOUT", "2.5")
    assert heartbeat_timeout() == timedelta(seconds=2.5)


@pytest.mark.parametrize("value", ["0", "-3", "thirty", "nan"])
def test_a_bad_timeout_is_named_with_its_value(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CMSYNC_RUN_HEARTBEAT_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"CMSYNC_RUN_HEARTBEAT_TIMEOUT='{value}': expected a number of seconds"):
        heartbeat_timeout()


def test_a_held_run_keeps_beating_and_a_released_one_stops(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMSYNC_RUN_HEARTBEAT_TIMEOUT", "0.3")
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    run = store.runs.begin("test", **OWNER).run
    store.runs.mark_sent(run.id)
    heartbeat = Heartbeat()
    with heartbeat.hold(store, run.id):
        first = store.runs.get(run.id).heartbeat_at  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while store.runs.get(run.id).heartbeat_at == first:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no heartbeat within 10 s"
            time.sleep(0.02)
    assert store.runs.get(run.id).owner == process_owner()  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while not store.runs.close_abandoned(timedelta(seconds=0.3)):
        assert time.monotonic() < deadline, "a released run still beats"
        time.sleep(0.05)
    store.close()
