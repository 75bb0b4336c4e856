"""The Dramatiq actors of the main sync. Thin: each calls a plain function of ``cmsync.sync``.

Every actor is idempotent (upserts by external ID, a job set that counts each job once), so a message
delivered twice does no harm, and checks the connection before it writes anything (a message that
outlived ``cmsync disconnect`` does nothing). A job of a run keeps the run's heartbeat while it works.
Transient errors are retried with backoff; errors retrying cannot cure (refused credentials) and
cancellation stop at once. A job that fails for good is recorded against its
run, which still closes when its last job ends.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from structlog.contextvars import bound_contextvars

from cmsync.clients.campaign_monitor.errors import UnauthorizedError
from cmsync.clients.salesforce.errors import SalesforceAuthError
from cmsync.logs import get_logger
from cmsync.retention import purge
from cmsync.state.heartbeat import HEARTBEAT, process_owner
from cmsync.state.moments import utc_now
from cmsync.sync import members, reimport, tracking
from cmsync.sync.closing import close_run
from cmsync.sync.failures import record_failure
from cmsync.sync.plan import plan_run
from cmsync.sync.streams import RunCancelledError
from cmsync.systems import Systems, current
from cmsync.workers.broker import QUEUE

log = get_logger(__name__)
PERMANENT = (UnauthorizedError, SalesforceAuthError)
"""Errors a retry cannot cure: the run records them and stops that part."""
_declared_on = StubBroker()
_RETRIES = {"max_retries": 5, "min_backoff": 5_000, "max_backoff": 300_000}
_MINUTE = 60_000


def _job_name(actor_name: str, args: list[Any]) -> str:
    if actor_name == "main_sync":
        return "plan"
    if actor_name == "import_list":
        return f"list:{args[2]}"
    return f"tracking:{args[2]}"


def _finish_job(systems: Systems, run_id: int, job: str) -> None:
    if systems.store.runs.complete_job(run_id, job) == 0:
        close_run(systems, run_id)


def _context(actor_name: str, args: list[Any]) -> dict[str, Any]:
    """What every log line of a job carries: its run, and the client and list or source it works on."""
    context: dict[str, Any] = {"run_id": int(args[0]), "job": _job_name(actor_name, args)}
    if actor_name == "import_list":
        context.update(client=args[1], list=args[2])
    elif actor_name == "import_tracking":
        context.update(source=args[2])
    return context


def _run_job(actor_name: str, args: list[Any], work: Callable[[Systems], None]) -> None:
    """Do one job of a run in flight, then mark it done; the last job closes the run."""
    with bound_contextvars(**_context(actor_name, args)):
        _run_bound_job(actor_name, args, work)


def _run_bound_job(actor_name: str, args: list[Any], work: Callable[[Systems], None]) -> None:
    systems = current()
    run_id = int(args[0])
    run = systems.store.runs.get(run_id)
    job = _job_name(actor_name, args)
    if run is None or not run.in_flight or not systems.store.connection.connected():
        _finish_job(systems, run_id, job)
        return
    with HEARTBEAT.hold(systems.store, run_id):
        try:
            work(systems)
        except RunCancelledError:
            log.info("job stopped: run cancelled", run_id=run_id, job=job)
        except PERMANENT as error:
            record_failure(systems.store, run_id, f"{job}: {error}")
            _finish_job(systems, run_id, job)
            raise
        except Exception:
            _keep_through_backoff(systems, run_id)
            raise
        _finish_job(systems, run_id, job)


def _keep_through_backoff(systems: Systems, run_id: int) -> None:
    """A job about to be retried leaves the run without a worker until its retry: vouch for the run that long."""
    until = utc_now() + timedelta(milliseconds=_RETRIES["max_backoff"])
    systems.store.runs.beat([run_id], process_owner(), until=until)


def _connected(systems: Systems, job: str) -> bool:
    """True unless the installation was disconnected (then the job is dropped, and says so)."""
    if systems.store.connection.connected():
        return True
    log.info("job dropped: disconnected (run `cmsync connect`)", job=job)
    return False


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

    def work(systems: Systems) -> None:
        run = systems.store.runs.get(run_id)
        jobs = plan_run(systems, run_id, bool(run and run.full_pass))
        systems.store.runs.add_jobs(run_id, [job.name for job in jobs])
        for job in jobs:
            ACTORS[job.actor].send(*job.args)

    _run_job("main_sync", [run_id], work)


@_actor(time_limit_minutes=60)
def import_list(run_id: int, client_id: str, list_id: str) -> None:
    """Import one list's members (a retry resumes from the watermark the last attempt reached)."""

    def work(systems: Systems) -> None:
        run = systems.store.runs.get(run_id)
        members.import_list(systems, run_id, client_id, list_id, full_pass=bool(run and run.full_pass))

    _run_job("import_list", [run_id, client_id, list_id], work)


@_actor(time_limit_minutes=60)
def import_tracking(run_id: int, source_kind: str, source_id: str) -> None:
    """Import one campaign's or journey email's tracking events of the selected types."""
    _run_job(
        "import_tracking",
        [run_id, source_kind, source_id],
        lambda systems: tracking.import_tracking(systems, run_id, source_kind, source_id),
    )


@dramatiq.actor(broker=_declared_on, queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def part_failed(message: dict[str, Any], retries: dict[str, Any]) -> None:
    """A job ran out of retries: record why against its run, and count the job as ended."""
    args = list(message.get("args", []))
    systems = current()
    run_id = int(args[0])
    job = _job_name(message["actor_name"], args)
    record_failure(systems.store, run_id, f"{job}: failed after {retries.get('retries')} attempts")
    _finish_job(systems, run_id, job)


@dramatiq.actor(broker=_declared_on, queue_name=QUEUE, time_limit=6 * 60 * _MINUTE, max_retries=0)
def purge_tracking(reason: str, confirm: bool = False) -> None:
    """Delete tracking records older than ``tracking.days_to_keep``; what is left waits for the next purge."""
    systems = current()
    if _connected(systems, "purge_tracking"):
        purge.purge_tracking(systems, reason, confirm=confirm)


@dramatiq.actor(
    broker=_declared_on, queue_name=QUEUE, time_limit=6 * 60 * _MINUTE, throws=(reimport.ReimportRefusedError,),
    **_RETRIES,
)  # fmt: skip
def reimport_tracking(request: dict[str, Any]) -> None:
    """Import the tracking events of a window again (upserts: a redelivered message doubles nothing)."""
    systems = current()
    if _connected(systems, "reimport_tracking"):
        reimport.reimport_tracking(systems, reimport.Reimport.from_message(request))


ACTORS: dict[str, dramatiq.Actor[Any, Any]] = {
    actor.actor_name: actor
    for actor in (main_sync, import_list, import_tracking, part_failed, purge_tracking, reimport_tracking)
}


def bind(broker: dramatiq.Broker) -> None:
    """Declare every actor on ``broker`` (the one this process sends to and consumes from)."""
    dramatiq.set_broker(broker)
    for actor in ACTORS.values():
        actor.broker = broker
        broker.declare_actor(actor)
