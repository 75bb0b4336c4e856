"""A job that meets a state store outage fails into Dramatiq's retry; Dramatiq logs that as an unexpected
error with a traceback per attempt, which this filter turns into one warning line saying what happened (also
when the outage met the job's bookkeeping before it ran, see ``run_jobs``)."""

import logging

from cmsync.logs import add_handler_filter
from cmsync.state.database import StateStoreUnavailableError


class TransientJobLog(logging.Filter):
    """Rewrites Dramatiq's "unhandled exception" line of a job stopped by a state store outage."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        outage = isinstance(error, StateStoreUnavailableError) or isinstance(
            error and error.__cause__, StateStoreUnavailableError
        )
        if record.name.startswith("dramatiq") and outage:
            job = record.args[0] if isinstance(record.args, tuple) and record.args else "a job"
            record.msg, record.args = "job %s stopped by a state store outage; Dramatiq retries it (%s)", (job, error)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


TRANSIENT_JOBS = TransientJobLog()
add_handler_filter(TRANSIENT_JOBS)
