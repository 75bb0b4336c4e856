"""One attempt at a time per job of a run: a second delivery waits for the attempt that holds the job's
lease, takes over at once from a process that is gone, and a lease kept by the heartbeat lasts as long as
its attempt and lapses soon after it."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from cmsync.process_identity import start_time
from cmsync.state import StateStore
from cmsync.state.heartbeat import Heartbeat
from cmsync.workers.job_attempts import JobAttempt

JOB = "list:0f3e"


@pytest.fixture
def store(state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[StateStore]:
    monkeypatch.setenv("CMSYNC_RUN_HEARTBEAT_TIMEOUT", "0.6")
    opened = StateStore.open(state_url)
    yield opened
    opened.close()


def test_a_second_delivery_waits_until_the_first_attempt_lets_go(store: StateStore) -> None:
    first, second = JobAttempt(store, 1, JOB), JobAttempt(store, 1, JOB)
    assert first.take()
    assert not second.take()
    assert JobAttempt(store, 2, JOB).take(), "the same job of another run is another lease"
    turn = threading.Thread(target=second.wait_for_turn)
    turn.start()
    turn.join(0.4)
    assert turn.is_alive(), "the second delivery went on while the first attempt held the job"
    first.release()
    turn.join(5)
    assert not turn.is_alive()
    assert store.leases.job(1, JOB).holder() == second.owner


def test_an_attempt_of_a_process_that_is_gone_is_taken_over_at_once(store: StateStore) -> None:
    started = start_time(os.getpid())
    assert started is not None
    gone = f"{socket.gethostname()}:{os.getpid()}/{started + 1}#5eed"
    assert store.leases.job(1, JOB).take(gone, timedelta(hours=1))
    assert JobAttempt(store, 1, JOB).take()
    elsewhere = f"another-host:{os.getpid()}/{started + 1}#5eed"
    assert store.leases.job(2, JOB).take(elsewhere, timedelta(hours=1))
    assert not JobAttempt(store, 2, JOB).take(), "a process of another host is waited out"


def test_a_kept_lease_outlives_its_timeout_and_lapses_after_its_attempt(store: StateStore) -> None:
    first, second = JobAttempt(store, 1, JOB), JobAttempt(store, 1, JOB)
    assert first.take()
    with Heartbeat().keep(first.lease, first.owner):
        time.sleep(1.5)
        assert not second.take(), "a lease the heartbeat renews expired under its attempt"
    deadline = time.monotonic() + 5
    while not second.take():
        assert time.monotonic() < deadline, "a lease nobody renews did not lapse"
        time.sleep(0.05)
