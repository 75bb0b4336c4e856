"""When to try a Campaign Monitor call again, and how long to wait first.

429 waits ``X-RateLimit-Reset`` seconds when CM sends it (plus a little jitter so workers do not return
together), or backs off as every API call does (``cmsync.clients.retry``) when it does not; a call gives up
on 429s only after ``rate_limit_patience`` seconds of waiting, because a rate limit should slow a sync
down, not fail it. 5xx and connection errors back off for at most ``attempts`` tries.
"""

import random
from dataclasses import dataclass

from cmsync.clients import retry


@dataclass(frozen=True)
class RetryPolicy(retry.RetryPolicy):
    """Bounds of retrying, with CM's rate-limit rule; tests shrink the delays."""

    rate_limit_patience: float = 900.0
    max_reset_wait: float = 300.0

    def rate_limit_wait(self, reset_header: str | None, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th 429 of a call."""
        try:
            reset = float(reset_header) if reset_header is not None else None
        except ValueError:
            reset = None
        if reset is None or reset < 0:
            return self.backoff(attempt)
        return min(reset, self.max_reset_wait) + random.uniform(0.0, self.base_delay)
