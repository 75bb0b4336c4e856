"""``cmsync sync-now``: start a main sync at once, or say which run is already in flight.

With RabbitMQ the run is queued for the workers. With the embedded broker and no daemon running, this
command runs the workers itself until the run ends. ``--wait`` follows the run to its end, printing its
records per object as they grow, and exits non-zero when it fails.
"""

import sys
import time
from typing import TextIO

from cmsync.config import Settings
from cmsync.daemon.progress import run_line
from cmsync.workers import actors
from cmsync.workers.broker import EmbeddedWorkers, make_broker
from cmsync.workers.engine import Engine, install
from cmsync.workers.runs import request_run
from cmsync.workers.state import Run, StateStore

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


def sync_now(settings: Settings, *, wait: bool, full: bool, out: TextIO = sys.stdout) -> int:
    """Start (or find) the run; 0 when started or still going, 1 when a followed run failed."""
    store = StateStore.open(settings.state.url.get_secret_value())
    url = settings.broker.url.get_secret_value()
    broker = make_broker(url)
    actors.bind(broker)
    embedded = url == "embedded"
    workers = None
    if embedded:
        install(Engine.from_settings(settings, store))
        workers = EmbeddedWorkers(broker)
        workers.start()
    try:
        start = request_run(store, "sync-now", full_pass=full)
        verb = "started" if start.started else "already in flight (started " + start.run.trigger + ")"
        print(f"run {start.run.id} {verb}", file=out, flush=True)
        if not wait and (start.started is False or not embedded):
            return 0
        ended = follow(store, start.run.id, out)
        return 0 if ended.status in ("succeeded", "partial") else 1
    finally:
        if workers is not None:
            workers.stop()
        broker.close()
        store.close()
