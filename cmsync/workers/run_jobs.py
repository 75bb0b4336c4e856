"""The bookkeeping around every job, as Dramatiq middleware (docs/DESIGN.md §2), so actors only do the work.

A job of a run carries its run, its name in the run's job set and what it works on in its message
options. Before it runs, those are bound to every log line, the run's heartbeat is held, a job whose
run is over or whose installation is disconnected is skipped, and the job's lease is taken: a second
delivery of a job still running elsewhere waits for that attempt, and one of a job already done is
skipped. After it ends, it counts as done (the last job closes the run); one that failed for good (refused
credentials) is recorded first; one that Dramatiq will retry is not done, and the run is vouched for
through its backoff. A job that runs out of retries is recorded by ``part_failed``. Any other job is
dropped while the installation is disconnected.
Bookkeeping the state store cannot take now makes Dramatiq retry the job, as the job's own errors do.
"""

import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from typing import Any, TypeVar

import dramatiq
from dramatiq.middleware import Middleware, MiddlewareError, Retries, SkipMessage
from structlog.contextvars import bound_contextvars

from cmsync.clients.campaign_monitor.errors import UnauthorizedError
from cmsync.clients.salesforce.errors import SalesforceAuthError
from cmsync.logs import get_logger
from cmsync.state.heartbeat import HEARTBEAT, process_owner
from cmsync.state.store import utc_now
from cmsync.sync.closing import end_job, fail_job
from cmsync.sync.streams import run_cancelled
from cmsync.systems import Systems, current
from cmsync.workers.job_attempts import JobAttempt

log = get_logger(__name__)
T = TypeVar("T")
PERMANENT = (UnauthorizedError, SalesforceAuthError)
"""Errors a retry cannot cure: the run records them and stops that part."""
MAX_BACKOFF_MS = 300_000
"""The longest pause before a job's retry."""


def job_options(run_id: int, job: str, about: dict[str, str] | None = None) -> dict[str, Any]:
    """The message options that make a message a job of run ``run_id``, named ``job`` in its job set."""
    return {"run_id": run_id, "job": job, "about": about or {}}


class JobCheckFailedError(MiddlewareError):
    """The state store could not say whether a job may run; Dramatiq retries the job."""


Bookkeeping = Callable[[Systems], None]


class RunJobs(Middleware):
    """Log context, heartbeat and the end of each job of a run; the connection check of every other job."""

    def __init__(self, regardless_of_connection: frozenset[str]) -> None:
        self.regardless_of_connection = regardless_of_connection
        """Actors that run while the installation is disconnected (recording a job's end)."""
        self._held = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> None:
        if "job" in message.options:
            self._begin_run_job(message.options)
        elif message.actor_name not in self.regardless_of_connection and not _checked(
            current().store.connection.connected
        ):
            log.info("job dropped: disconnected (run `cmsync connect`)", job=message.actor_name)
            raise SkipMessage("disconnected")

    def _begin_run_job(self, options: dict[str, Any]) -> None:
        """Bind the job's log context, skip it when its run is over, else hold the run's heartbeat and the
        job's lease (after the attempt already working on it, if any)."""
        run_id, job = options["run_id"], options["job"]
        held = ExitStack()
        self._held.stack = held
        held.enter_context(bound_contextvars(run_id=run_id, job=job, **options["about"]))
        store = current().store
        if _checked(lambda: run_cancelled(store, run_id)):
            raise SkipMessage(f"run {run_id} is over or the installation is disconnected")
        held.enter_context(HEARTBEAT.hold(store, run_id))
        attempt = JobAttempt(store, run_id, job)
        waited = not _checked(attempt.take)
        if waited:
            _checked(attempt.wait_for_turn)
        held.callback(_release, attempt)
        if waited and _checked(lambda: run_cancelled(store, run_id)):
            raise SkipMessage(f"run {run_id} ended while this delivery waited for an earlier one")
        if _checked(lambda: store.runs.job_done(run_id, job)):
            raise SkipMessage(f"job {job} of run {run_id} was done by an earlier delivery")
        held.enter_context(HEARTBEAT.keep(attempt.lease, attempt.owner))

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> None:
        if "job" in message.options:
            self._record(
                broker, message, lambda systems: end_job(systems, message.options["run_id"], message.options["job"])
            )
        self._let_go()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message[Any],
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        if "job" in message.options:
            self._end(broker, message, exception)
        self._let_go()

    def _end(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], exception: BaseException | None) -> None:
        run_id, job = message.options["run_id"], message.options["job"]
        if exception is None:
            self._record(broker, message, lambda systems: end_job(systems, run_id, job))
        elif isinstance(exception, PERMANENT):
            self._record(broker, message, lambda systems: fail_job(systems, run_id, job, str(exception)))
        else:
            try:
                _keep_through_backoff(current(), run_id)
            except Exception as error:
                log.warning("run not vouched for through the job's backoff", error=str(error))

    def _record(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], bookkeeping: Bookkeeping) -> None:
        """Do ``bookkeeping``; when the state store refuses it now, Dramatiq retries the job, as it would
        had the job itself met the outage."""
        try:
            bookkeeping(current())
        except Exception as error:
            log.warning("job stopped by a state store outage; Dramatiq retries it", error=str(error))
            retries = next(middleware for middleware in broker.middleware if isinstance(middleware, Retries))
            retries.after_process_message(broker, message, exception=error)

    def _let_go(self) -> None:
        """Unbind the job's log context and release its run's heartbeat."""
        held: ExitStack | None = getattr(self._held, "stack", None)
        self._held.stack = None
        if held is not None:
            held.close()


def _release(attempt: JobAttempt) -> None:
    """Release a job's lease; when the state store cannot take it now, the lease expires by itself."""
    try:
        attempt.release()
    except Exception as error:
        log.warning("job lease not released; it expires by itself", error=str(error))


def _checked(question: Callable[[], T]) -> T:
    """The state store's answer to ``question``; when it cannot answer now, Dramatiq retries the job."""
    try:
        return question()
    except Exception as error:
        raise JobCheckFailedError(str(error)) from error


def _keep_through_backoff(systems: Systems, run_id: int) -> None:
    """A job about to be retried leaves the run without a worker until its retry: vouch for the run that long."""
    until = utc_now() + timedelta(milliseconds=MAX_BACKOFF_MS)
    systems.store.runs.beat([run_id], process_owner(), until=until)
