"""Where jobs run, decided once from ``broker`` settings (docs/DESIGN.md §2).

With the embedded broker the jobs run on worker threads of the process that holds the broker; with
RabbitMQ they run on ``cmsync worker`` processes anywhere. Callers send jobs through the actors this
placement binds, ask whether the work happens in this process, host the workers when it does, and purge
what is queued; none of them asks which broker it is.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq

from cmsync.config import Settings
from cmsync.config.model import BrokerSettings
from cmsync.state import StateStore
from cmsync.systems import Systems, install
from cmsync.workers import actors
from cmsync.workers.broker import EmbeddedWorkers, make_broker, purge_queued
from cmsync.workers.garbage_collection import tune_for_jobs

_STOP_HOSTED_WORKERS_MS = 5_000


class Placement:
    """The broker this process sends to and, when the work happens here, the worker threads that run it."""

    def __init__(self, broker: BrokerSettings) -> None:
        self.in_process = broker.embedded
        """The jobs run on threads of whichever process holds the broker (only it can run or purge them)."""
        self._settings = broker
        self._broker: dramatiq.Broker | None = None
        self._workers: EmbeddedWorkers | None = None

    def bind_actors(self) -> dramatiq.Broker:
        """Make the broker (once) and have this process's actors send to it. Only a placement that sends or
        runs jobs binds: a command that merely asks ``in_process`` inside the daemon leaves its actors alone."""
        if self._broker is None:
            self._broker = make_broker(self._settings.url.get_secret_value())
            actors.bind(self._broker)
            if self.in_process:
                self._workers = EmbeddedWorkers(self._broker, self._settings.embedded_workers)
        return self._broker

    def start_workers(self) -> bool:
        """Start the worker threads when the work happens in this process; say whether it does."""
        if not self.in_process:
            return False
        self.bind_actors()
        assert self._workers is not None
        tune_for_jobs()
        self._workers.start()
        return True

    def stop_workers(self, timeout_ms: int) -> None:
        """Let the worker threads of this process reach their next page and stop (within ``timeout_ms``)."""
        if self._workers is not None:
            self._workers.stop(timeout_ms=timeout_ms)

    @contextmanager
    def hosting_workers(self, settings: Settings, store: StateStore) -> Iterator[bool]:
        """While the block runs, run the workers in this process when the work happens here (with Systems of
        their own, built from ``settings``); yields whether it does."""
        if not self.in_process:
            yield False
            return
        systems = Systems.from_settings(settings, store)
        install(systems)
        self.start_workers()
        try:
            yield True
        finally:
            self.stop_workers(_STOP_HOSTED_WORKERS_MS)
            systems.close()

    def purge_queued(self) -> int | None:
        """Drop every message waiting for the workers and say how many; None when they wait in another
        process (the embedded broker's queues live in the daemon, which drops its own)."""
        return None if self.in_process else purge_queued(self.bind_actors())

    def drop_held_messages(self) -> None:
        """Drop the messages this process holds for its own worker threads (none when RabbitMQ holds them)."""
        if self.in_process and self._broker is not None:
            self._broker.flush_all()

    def close(self) -> None:
        """Let go of this thread's broker connection, as after a send from a loop that sends rarely (an idle
        RabbitMQ connection would miss its heartbeats); a later send opens a new one."""
        if self._broker is not None:
            self._broker.close()
