"""When to try a Salesforce call (or a locked record) again, and how long to wait first.

UNABLE_TO_LOCK_ROW, 5xx and connection errors back off exponentially with jitter for at most ``attempts``
tries. REQUEST_LIMIT_EXCEEDED waits longer (the concurrency limit clears in seconds, the daily allowance
does not) and gives up after ``limit_attempts`` so the caller can report it and slow down.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of retrying; tests shrink the delays."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    limit_attempts: int = 3
    limit_delay: float = 20.0
    lock_attempts: int = 4

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based): half fixed, half jitter, capped."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0.0, ceiling / 2)

    def limit_backoff(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th REQUEST_LIMIT_EXCEEDED of a call."""
        ceiling = self.limit_delay * 2 ** (attempt - 1)
        return ceiling / 2 + random.uniform(0.0, ceiling / 2)


@dataclass(frozen=True)
class PollPolicy:
    """How often a Bulk job is polled: from ``initial`` seconds growing by ``factor`` up to ``maximum``."""

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 1.5
    timeout: float = 3600.0
    report_after: float = 120.0
    """When a job still running is first logged; each later line comes at twice the time of the one before."""

    def after(self, delay: float) -> float:
        """The delay that follows ``delay``."""
        return min(self.maximum, delay * self.factor)
