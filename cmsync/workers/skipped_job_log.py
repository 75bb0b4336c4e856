"""Dramatiq logs every skipped message as a warning; ``RunJobs`` skips, on purpose, the jobs of a run that is
over (cancelled, closed as interrupted) or of a disconnected installation. This filter says those at info
level, so a warning still means something went wrong."""

import logging

from cmsync.logs import add_handler_filter

SKIPPED = "Message %s was skipped."
"""Dramatiq's line for a message a middleware skipped (``dramatiq.worker``)."""


class SkippedJobLog(logging.Filter):
    """Lowers Dramatiq's "was skipped" warning to info; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("dramatiq") and record.msg == SKIPPED:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


SKIPPED_JOBS = SkippedJobLog()
add_handler_filter(SKIPPED_JOBS)
