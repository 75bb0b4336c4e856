"""Starting a main sync: one run at a time, recorded before its first message is sent."""

from cmsync.workers.actors import main_sync
from cmsync.workers.state import RunStart, StateStore

DISPATCH_FACT = "run_to_dispatch"
"""A run recorded by another process for the supervisor to send (the embedded broker lives in its process)."""


def request_run(store: StateStore, trigger: str, *, full_pass: bool = False, send: bool = True) -> RunStart:
    """Start a run, or return the one in flight. The run is recorded first, then ``main_sync`` is queued
    (or, with ``send`` False, left for the supervisor to send); if queueing fails the run is closed as
    failed, with the reason, and the error raised."""
    start = store.begin_run(trigger, full_pass=full_pass)
    if not start.started:
        return start
    store.add_jobs(start.run.id, ["plan"])
    if not send:
        store.set_fact(DISPATCH_FACT, start.run.id)
        return start
    try:
        main_sync.send(start.run.id)
    except Exception as error:
        store.finish_run(start.run.id, "failed", f"could not queue the run: {error}")
        raise
    return start
