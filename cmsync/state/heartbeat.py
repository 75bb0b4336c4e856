"""Run heartbeats: a run in flight belongs to a live owner, which renews the run's heartbeat in the state store.

The owner is the process working on the run: a worker process (or thread of the supervisor or of
``cmsync sync-now``) while it runs one of the run's jobs, and the process that recorded the run until
its first message is sent. A run with no heartbeat and no progress for ``heartbeat_timeout()`` has lost
its owner: the next request or the supervisor's loop sends it if it was never sent, or closes it as
interrupted so that a new run resumes from the watermarks.

The same thread renews the lease of every job attempt this process is working on (``keep``), so that a
second delivery of the job waits for the first attempt while it lives and takes over once it is gone.
"""

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from cmsync.logs import get_logger
from cmsync.process_identity import ProcessIdentity
from cmsync.state import Run, StateStore
from cmsync.state.leases import Lease

log = get_logger(__name__)
TIMEOUT_VARIABLE = "CMSYNC_RUN_HEARTBEAT_TIMEOUT"
DEFAULT_TIMEOUT = timedelta(seconds=30)
"""How long a run may show no sign of life before its owner counts as gone (``$CMSYNC_RUN_HEARTBEAT_TIMEOUT``
seconds overrides it; every cmsync process of an installation must agree on it)."""
BEATS_PER_TIMEOUT = 3


def heartbeat_timeout() -> timedelta:
    """The heartbeat timeout: ``$CMSYNC_RUN_HEARTBEAT_TIMEOUT`` seconds when set, else 30 s."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_VARIABLE}={text!r}: expected a number of seconds above 0")
    return timedelta(seconds=seconds)


def process_owner() -> str:
    """How this process names itself as a run's owner: host, process id and start time."""
    return ProcessIdentity.this_process().owner


def abandoned(run: Run, now: datetime, timeout: timedelta) -> bool:
    """True when a run in flight showed no heartbeat and no progress for ``timeout``."""
    last = max(moment for moment in (run.heartbeat_at, run.updated_at) if moment is not None)
    return run.in_flight and now - last > timeout


class Heartbeat:
    """Renews, from a thread of its own, the heartbeat of every run this process is working on and the
    lease of every job attempt it holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[StateStore, Counter[int]] = {}
        self._kept: dict[tuple[str, str], Lease] = {}
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        """Start the beating thread, once (the caller holds the lock)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat_forever, name="cmsync-heartbeat", daemon=True)
            self._thread.start()

    @contextmanager
    def keep(self, lease: Lease, owner: str) -> Iterator[None]:
        """Renew ``lease`` for ``owner`` while the block runs (each beat extends it by the heartbeat timeout)."""
        with self._lock:
            self._kept[(lease.name, owner)] = lease
            self._start()
        try:
            yield
        finally:
            with self._lock:
                del self._kept[(lease.name, owner)]

    @contextmanager
    def hold(self, store: StateStore, run_id: int) -> Iterator[None]:
        """Keep ``run_id`` beating while the block runs (nested and concurrent holds are counted)."""
        with self._lock:
            self._held.setdefault(store, Counter())[run_id] += 1
            self._start()
        try:
            yield
        finally:
            with self._lock:
                held = self._held[store]
                held[run_id] -= 1
                if held[run_id] <= 0:
                    del held[run_id]
                if not held:
                    del self._held[store]

    def _beat_forever(self) -> None:
        timeout = heartbeat_timeout()
        owner = process_owner()
        stop = threading.Event()
        while not stop.wait(timeout.total_seconds() / BEATS_PER_TIMEOUT):
            with self._lock:
                held = [(store, list(runs)) for store, runs in self._held.items()]
                kept = list(self._kept.items())
            for store, run_ids in held:
                try:
                    store.runs.beat(run_ids, owner)
                except Exception as error:
                    log.warning("run heartbeat not recorded", runs=run_ids, error=str(error))
            for (name, holder), lease in kept:
                try:
                    if not lease.take(holder, timeout):
                        log.error("a job's lease was taken over while its attempt still runs", lease=name)
                except Exception as error:
                    log.warning("job lease not renewed", lease=name, error=str(error))


HEARTBEAT = Heartbeat()
"""This process's heartbeat thread (started by the first hold)."""
