"""Starting a main sync: one run at a time, owned by a live process, recorded before its first message is sent.

A run is recorded "not sent" (the outbox) with its owner and heartbeat in one transaction, then
``main_sync`` is sent and the run marked sent. If the owner dies in between, the next request or the
supervisor's loop finds the run unsent with a stale heartbeat and sends it; a sent run whose owner is
gone is closed as interrupted, and the next run resumes from the watermarks.
"""

from cmsync.logs import get_logger
from cmsync.state import RunStart, StateStore
from cmsync.state.heartbeat import heartbeat_timeout, process_owner
from cmsync.sync.plan import PLAN
from cmsync.workers.actors import main_sync
from cmsync.workers.run_jobs import job_options

log = get_logger(__name__)


def send_run(store: StateStore, run_id: int) -> None:
    """Send the run's first message and take it out of the outbox; a broker that refuses fails the run."""
    try:
        main_sync.send_with_options(args=(run_id,), **job_options(run_id, PLAN))
    except Exception as error:
        store.runs.finish(run_id, "failed", f"could not queue the run: {error}")
        raise
    store.runs.mark_sent(run_id)


def request_run(
    store: StateStore, trigger: str, *, full_pass: bool = False, send: bool = True, owner: str | None = None
) -> RunStart:
    """Start a run, or return the one in flight. With ``send`` False the run stays in the outbox for
    ``owner`` (the supervisor whose workers run it) to send; if queueing fails the run is closed as
    failed, with the reason, and the error raised."""
    start = store.runs.begin(
        trigger, owner=owner or process_owner(), full_pass=full_pass, stale_after=heartbeat_timeout()
    )
    if not start.started:
        return start
    store.runs.add_jobs(start.run.id, [PLAN])
    if send:
        send_run(store, start.run.id)
    return start


def tend_runs(store: StateStore, owner: str, *, runs_workers: bool) -> bool:
    """What the supervisor's loop does for runs: close runs whose owner is gone, send a run left in the
    outbox (for ``owner``, or by a process that died), and, when this process ``runs_workers``, renew
    the heartbeat of the run it owns. Returns True when it sent a run."""
    timeout = heartbeat_timeout()
    for run_id in store.runs.close_abandoned(timeout):
        log.warning("run closed as interrupted: its owner is gone; the next run resumes", run_id=run_id)
    current = store.runs.current()
    if runs_workers and current is not None and current.owner == owner and current.dispatched:
        store.runs.beat([current.id], owner)
    unsent = store.runs.claim_unsent(owner, timeout)
    if unsent is None:
        return False
    store.runs.add_jobs(unsent.id, [PLAN])
    send_run(store, unsent.id)
    log.info("main sync started", run_id=unsent.id, trigger=unsent.trigger)
    return True
