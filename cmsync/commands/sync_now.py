"""``cmsync sync-now``: start a main sync at once, or say which run is already in flight.

With RabbitMQ the run is queued for the workers. With the embedded broker the running supervisor sends
it (its workers live in its process); with no supervisor running, this command runs the workers itself
until the run ends, and owns the run meanwhile. ``--wait`` follows the run to its end, printing its
records per object as they grow, and exits non-zero when it fails. A followed run whose owner is gone
(no heartbeat for the heartbeat timeout) is closed as interrupted and a new run resumes from the
watermarks. Ctrl-C stops following at once: it cancels the run when this command runs its workers,
and otherwise detaches, leaving the run to its owner.
"""

import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TextIO

from cmsync.commands.progress import run_line
from cmsync.config import Settings
from cmsync.state import Run, RunStart, StateStore
from cmsync.state.heartbeat import HEARTBEAT, abandoned, heartbeat_timeout, process_owner
from cmsync.workers.placement import Placement
from cmsync.workers.runs import request_run

POLL_SECONDS = 0.5
INTERRUPTED = 130
"""The exit status after Ctrl-C, as shells report a command ended by SIGINT."""
Request = Callable[[], RunStart]


def follow(store: StateStore, run_id: int, out: TextIO) -> Run:
    """Print the run's progress whenever it changes, until it ends or loses its owner; return it then."""
    printed = ""
    timeout = heartbeat_timeout()
    while True:
        run = store.runs.get(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not in the state store")
        line = run_line(run)
        if line != printed:
            print(line, file=out, flush=True)
            printed = line
        if not run.in_flight or abandoned(run, store.clock(), timeout):
            return run
        time.sleep(POLL_SECONDS)


def _announce(start: RunStart, out: TextIO) -> None:
    for run_id in start.interrupted:
        print(f"run {run_id} lost its owner: closed as interrupted; the next run resumes from here", file=out)
    if start.replayed:
        verb = "started (recorded earlier by a process that stopped before sending it)"
    elif start.started:
        verb = "started"
    else:
        verb = f"already in flight (started by {start.run.trigger})"
    print(f"run {start.run.id} {verb}", file=out, flush=True)


class Follower:
    """Follows a run to its end; takes over from an owner that is gone; turns Ctrl-C into a clear exit."""

    def __init__(self, store: StateStore, out: TextIO, request: Request, *, runs_workers: bool) -> None:
        self.store = store
        self.out = out
        self.request = request
        self.runs_workers = runs_workers
        self.following: RunStart | None = None

    def outcome(self, start: RunStart) -> int:
        """0 when the followed run succeeded (or partly), 1 when it failed, 130 after Ctrl-C."""
        self.following = start
        try:
            return self._follow(start)
        except KeyboardInterrupt:
            return self._interrupted(self.following)

    def _follow(self, start: RunStart) -> int:
        while True:
            self.following = start
            with self._ownership(start):
                ended = follow(self.store, start.run.id, self.out)
            if not ended.in_flight:
                return 0 if ended.status in ("succeeded", "partial") else 1
            start = self.request()
            _announce(start, self.out)

    def _ownership(self, start: RunStart) -> AbstractContextManager[None]:
        return HEARTBEAT.hold(self.store, start.run.id) if self.runs_workers and start.started else nullcontext()

    def _interrupted(self, start: RunStart) -> int:
        run = self.store.runs.current()
        owned = self.runs_workers and run is not None and run.owner == process_owner()
        if owned and run is not None:
            self.store.runs.finish(run.id, "cancelled", "cancelled: Ctrl-C on `cmsync sync-now --wait`")
            print(
                f"run {run.id} cancelled (Ctrl-C): its workers ran in this command; the next run resumes from here",
                file=self.out,
                flush=True,
            )
        else:
            print(
                f"detached from run {start.run.id} (Ctrl-C): it goes on without this command; `cmsync status` shows it",
                file=self.out,
                flush=True,
            )
        return INTERRUPTED


def request_sync(settings: Settings, *, wait: bool, full: bool, out: TextIO | None = None) -> int:
    """Start (or find) the run; 0 when started or still going, 1 when a followed run failed."""
    out = out or sys.stdout
    store = StateStore.open(settings.state.url.get_secret_value())
    try:
        if not store.connection.connected():
            print("disconnected: run `cmsync connect` first", file=out)
            return 1
        placement = Placement(settings.broker)
        try:
            supervisor = store.leases.supervisor.holder() if placement.in_process else None
            if supervisor is not None:
                return _delegate(store, supervisor, full, wait, out)
            return _send(settings, store, placement, full, wait, out)
        finally:
            placement.close()
    finally:
        store.close()


def _delegate(store: StateStore, supervisor: str, full: bool, wait: bool, out: TextIO) -> int:
    """The jobs run in the supervisor's process: record the run for the supervisor to send."""

    def request() -> RunStart:
        return request_run(store, "sync-now", full_pass=full, send=False, owner=supervisor)

    start = request()
    _announce(start, out)
    return Follower(store, out, request, runs_workers=False).outcome(start) if wait else 0


def _send(settings: Settings, store: StateStore, placement: Placement, full: bool, wait: bool, out: TextIO) -> int:
    """Send the run; when its jobs run in this process and no supervisor runs them, run the workers here
    until the run ends."""
    placement.bind_actors()
    with placement.hosting_workers(settings, store) as runs_workers:

        def request() -> RunStart:
            return request_run(store, "sync-now", full_pass=full)

        start = request()
        _announce(start, out)
        if runs_workers and start.started:
            print("no cmsync daemon is running: running the workers here until the run ends", file=out, flush=True)
        elif not wait:
            return 0
        return Follower(store, out, request, runs_workers=runs_workers).outcome(start)
