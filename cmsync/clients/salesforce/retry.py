"""When to try a Salesforce call (or a locked record) again, and how long to wait first.

UNABLE_TO_LOCK_ROW, 5xx and connection errors back off as every API call does (``cmsync.clients.retry``)
for at most ``attempts`` tries. REQUEST_LIMIT_EXCEEDED waits longer (the concurrency limit clears in
seconds, the daily allowance does not) and gives up after ``limit_attempts`` so the caller can report it
and slow down.
"""

from dataclasses import dataclass

from cmsync.clients import retry


@dataclass(frozen=True)
class RetryPolicy(retry.RetryPolicy):
    """Bounds of retrying, with Salesforce's limit and record-lock rules; tests shrink the delays."""

    limit_attempts: int = 3
    limit_delay: float = 20.0
    lock_attempts: int = 4

    def limit_backoff(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th REQUEST_LIMIT_EXCEEDED of a call."""
        return retry.jittered(self.limit_delay * 2 ** (attempt - 1))


@dataclass(frozen=True)
class PollPolicy:
    """How often a Bulk job is polled: from ``initial`` seconds growing by ``factor`` up to ``maximum``."""

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 1.5
    measured_maximum: float = 30.0
    """The longest wait for an end predicted from a measured pace (an earlier job's, or the job's own
    progress): a big job is then polled once at its end rather than every ``maximum`` seconds."""
    timeout: float = 3600.0
    report_after: float = 120.0
    """When a job still running is first logged; each later line comes at twice the time of the one before."""

    def after(self, delay: float) -> float:
        """The delay that follows ``delay``."""
        return min(self.maximum, delay * self.factor)
