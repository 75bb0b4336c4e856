"""Fixtures of the end-to-end sync tests: a seeded world, and cmsync running on the embedded broker."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmsync.config import Settings
from cmsync.state import Run, StateStore
from cmsync.systems import Systems, install
from cmsync.workers import actors
from cmsync.workers.broker import EmbeddedWorkers, make_broker
from cmsync.workers.runs import request_run
from tests.sync.world import World, start_world, stop_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


def wait_for_end(store: StateStore, run_id: int, timeout: float = 90) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.runs.get(run_id)
        assert run is not None
        if not run.in_flight:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end within {timeout} s: {store.runs.get(run_id)}")


def wait_for_first_run(store: StateStore, timeout: float = 90) -> Run:
    """The first run of a fresh state store (which a supervisor starts as soon as it runs), once ended."""
    deadline = time.monotonic() + timeout
    while store.runs.get(1) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return wait_for_end(store, 1, timeout)


class EmbeddedCmsync:
    """cmsync's systems and workers on threads of the test process, as ``broker.url: embedded`` runs them."""

    def __init__(self, settings: Settings) -> None:
        self.systems = Systems.from_settings(settings)
        install(self.systems)
        self.broker = make_broker("embedded")
        actors.bind(self.broker)
        self.threads = 4
        self.workers = EmbeddedWorkers(self.broker, threads=self.threads)
        self.workers.start()

    def wait_until_idle(self, timeout: float = 60) -> None:
        """Until every queued message was handled and no job is in progress."""
        for queue in self.broker.get_declared_queues():
            self.broker.join(queue, timeout=int(timeout * 1000))
        self.workers.worker.join()

    @property
    def store(self) -> StateStore:
        return self.systems.store

    def sync(self, *, full_pass: bool = False) -> Run:
        start = request_run(self.store, "test", full_pass=full_pass)
        assert start.started
        return wait_for_end(self.store, start.run.id)

    def stop(self) -> None:
        self.workers.stop()
        self.systems.close()
        self.store.close()


@pytest.fixture
def embedded(world: World) -> Iterator[Any]:
    """A factory: ``embedded(**settings)`` starts cmsync on the world with those settings."""
    running: list[EmbeddedCmsync] = []

    def start(**sections: Any) -> EmbeddedCmsync:
        cmsync = EmbeddedCmsync(world.settings(**sections))
        running.append(cmsync)
        return cmsync

    yield start
    for cmsync in running:
        cmsync.stop()
