"""The Dramatiq actors: each is one call to a plain function of ``cmsync.sync`` or ``cmsync.retention``.

Every actor is idempotent (upserts by external ID, a job set that counts each job once), so a message
delivered twice does no harm. The bookkeeping around a job of a run (log context, heartbeat, the check
that its run still wants it, counting it done, closing the run) is the ``RunJobs`` middleware's.
Transient errors are retried with backoff; errors retrying cannot cure (refused credentials) and
cancellation stop at once. A job that fails for good is recorded against its run, which still closes
when its last job ends.
"""

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from cmsync.retention.purge import purge_old_tracking
from cmsync.sync import members, reimport, tracking
from cmsync.sync.closing import fail_job
from cmsync.sync.plan import Job, fan_out
from cmsync.systems import current
from cmsync.workers.broker import QUEUE
from cmsync.workers.run_jobs import MAX_BACKOFF_MS, PERMANENT, RunJobs, job_options

_declared_on = StubBroker()
_RETRIES = {"max_retries": 5, "min_backoff": 5_000, "max_backoff": MAX_BACKOFF_MS}
_MINUTE = 60_000


def _actor(time_limit_minutes: int) -> Callable[[Callable[..., None]], dramatiq.Actor[Any, Any]]:
    return dramatiq.actor(
        broker=_declared_on,
        queue_name=QUEUE,
        time_limit=time_limit_minutes * _MINUTE,
        throws=PERMANENT,
        on_retry_exhausted="part_failed",
        **_RETRIES,
    )


@_actor(time_limit_minutes=15)
def main_sync(run_id: int) -> None:
    """Plan a run: upsert clients, lists and campaigns, then fan out one job per list and tracking source."""
    fan_out(current(), run_id, lambda job: _send_job(run_id, job))


def _send_job(run_id: int, job: Job) -> None:
    """Send one fan-out job of run ``run_id``, its name and what it works on in the message options."""
    ACTORS[job.actor].send_with_options(args=job.args, **job_options(run_id, job.name, job.about))


@_actor(time_limit_minutes=60)
def import_list(run_id: int, client_id: str, list_id: str) -> None:
    """Import one list's members (a retry resumes from the watermark the last attempt reached)."""
    members.import_list(current(), run_id, client_id, list_id)


@_actor(time_limit_minutes=60)
def import_tracking(run_id: int, source_kind: str, source_id: str) -> None:
    """Import one campaign's or journey email's tracking events of the selected types."""
    tracking.import_tracking(current(), run_id, source_kind, source_id)


@dramatiq.actor(broker=_declared_on, queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def part_failed(message: dict[str, Any], retries: dict[str, Any]) -> None:
    """A job ran out of retries: record why against its run, and count the job as ended."""
    options = message["options"]
    fail_job(current(), options["run_id"], options["job"], f"failed after {retries.get('retries')} attempts")


@dramatiq.actor(
    broker=_declared_on, queue_name=QUEUE, actor_name="purge_tracking", time_limit=6 * 60 * _MINUTE, max_retries=0
)
def purge_tracking_job(reason: str, confirm: bool = False) -> None:
    """Delete tracking records older than ``tracking.days_to_keep``; what is left waits for the next purge."""
    purge_old_tracking(current(), reason, confirm=confirm)


@dramatiq.actor(
    broker=_declared_on, queue_name=QUEUE, actor_name="reimport_tracking", time_limit=6 * 60 * _MINUTE,
    throws=(reimport.ReimportRefusedError,), **_RETRIES,
)  # fmt: skip
def reimport_tracking_job(request: dict[str, Any]) -> None:
    """Import the tracking events of a window again (upserts: a redelivered message doubles nothing)."""
    reimport.reimport_window(current(), reimport.Reimport.from_message(request))


ACTORS: dict[str, dramatiq.Actor[Any, Any]] = {
    actor.actor_name: actor
    for actor in (main_sync, import_list, import_tracking, part_failed, purge_tracking_job, reimport_tracking_job)
}


def bind(broker: dramatiq.Broker) -> None:
    """Declare every actor on ``broker`` (the one this process sends to and consumes from), with the
    middleware that keeps the books of their jobs (once per broker)."""
    dramatiq.set_broker(broker)
    if not any(isinstance(middleware, RunJobs) for middleware in broker.middleware):
        broker.add_middleware(RunJobs(regardless_of_connection=frozenset({part_failed.actor_name})))
    for actor in ACTORS.values():
        actor.broker = broker
        broker.declare_actor(actor)
