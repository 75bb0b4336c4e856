"""Retrying API calls, the same way for both clients: exponential backoff with jitter, a bound on failed
tries, and a metric and a log line for every wait.

Each client decides which answers are worth another try (its ``retry`` module adds its rate-limit rule);
this module decides how long to wait and how many times.
"""

import random
import time
from dataclasses import dataclass

from cmsync.logs import get_logger
from cmsync.metrics import API_RETRIES

_log = get_logger(__name__)


def jittered(ceiling: float) -> float:
    """Half of ``ceiling`` plus a random part up to the other half: workers that failed together come back
    apart, and every wait is still long enough for a short outage to pass."""
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of retrying a failed call; tests shrink the delays."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based): doubling from ``base_delay``, capped."""
        return jittered(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class Retries:
    """The failed tries of one call to one endpoint, against ``policy.attempts``, and the waits between them."""

    def __init__(self, policy: RetryPolicy, system: str, endpoint: str) -> None:
        self.policy = policy
        self.system = system
        self.endpoint = endpoint
        self.failures = 0

    def failed(self, *, retryable: bool = True) -> bool:
        """Count one failure; whether another try may follow (``retryable`` and within ``policy.attempts``)."""
        self.failures += 1
        return retryable and self.failures < self.policy.attempts

    def wait(self, reason: str, seconds: float | None = None) -> None:
        """Sleep before the next try, the backoff of the failures so far unless ``seconds`` says otherwise (a
        rate limit's own wait); counted in ``cmsync_api_retries_total`` and logged as a warning."""
        delay = self.policy.backoff(self.failures) if seconds is None else seconds
        API_RETRIES.labels(system=self.system, reason=reason).inc()
        _log.warning(
            f"{self.system.replace('_', ' ')} call retried",
            endpoint=self.endpoint,
            reason=reason,
            wait_seconds=round(delay, 3),
        )
        time.sleep(delay)
