"""``cmsync sync-now``: start a main sync at once, or say which run is already in flight.

With RabbitMQ the run is queued for the workers. With the embedded broker the running supervisor sends
it (its workers live in its process); with no supervisor running, this command runs the workers itself
until the run ends. ``--wait`` follows the run to its end, printing its records per object as they grow,
and exits non-zero when it fails.
"""

import sys
import time
from typing import TextIO

from cmsync.config import Settings
from cmsync.daemon.progress import run_line
from cmsync.daemon.supervisor import LEASE
from cmsync.workers import actors
from cmsync.workers.broker import EmbeddedWorkers, make_broker
from cmsync.workers.engine import Engine, install
from cmsync.workers.runs import request_run
from cmsync.workers.state import Run, RunStart, StateStore

POLL_SECONDS = 0.5


def follow(store: StateStore, run_id: int, out: TextIO) -> Run:
    """Print the run's progress whenever it changes, until it ends; return how it ended."""
    printed = ""
    while True:
        run = store.run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not in the state store")
        line = run_line(run)
        if line != printed:
            print(line, file=out, flush=True)
            printed = line
        if not run.in_flight:
            return run
        time.sleep(POLL_SECONDS)


def _announce(start: RunStart, out: TextIO) -> None:
    verb = "started" if start.started else f"already in flight (started by {start.run.trigger})"
    print(f"run {start.run.id} {verb}", file=out, flush=True)


def _outcome(store: StateStore, start: RunStart, wait: bool, out: TextIO) -> int:
    if not wait:
        return 0
    ended = follow(store, start.run.id, out)
    return 0 if ended.status in ("succeeded", "partial") else 1


def sync_now(settings: Settings, *, wait: bool, full: bool, out: TextIO | None = None) -> int:
    """Start (or find) the run; 0 when started or still going, 1 when a followed run failed."""
    out = out or sys.stdout
    store = StateStore.open(settings.state.url.get_secret_value())
    try:
        if not store.connected():
            print("disconnected: run `cmsync connect` first", file=out)
            return 1
        url = settings.broker.url.get_secret_value()
        if url == "embedded" and store.lock_holder(LEASE) is not None:
            start = request_run(store, "sync-now", full_pass=full, send=False)
            _announce(start, out)
            return _outcome(store, start, wait, out)
        broker = make_broker(url)
        actors.bind(broker)
        if url != "embedded":
            start = request_run(store, "sync-now", full_pass=full)
            broker.close()
            _announce(start, out)
            return _outcome(store, start, wait, out)
        engine = Engine.from_settings(settings, store)
        install(engine)
        workers = EmbeddedWorkers(broker, settings.broker.embedded_workers)
        workers.start()
        try:
            start = request_run(store, "sync-now", full_pass=full)
            _announce(start, out)
            if not start.started:
                return _outcome(store, start, wait, out)
            print("no cmsync daemon is running: running the workers here until the run ends", file=out)
            return _outcome(store, start, True, out)
        finally:
            workers.stop()
            engine.close()
    finally:
        store.close()
