"""Faults tests inject into the API: rate limiting (HTTP 429) and server errors (HTTP 500 or 503).

Rate limiting comes every N calls or for T seconds, with CM's ``X-RateLimit-*`` headers or without them
(CM's subscriber endpoints have been seen to send none). Latency per call lives in the call log.
"""

import math
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from cmsync.sandbox.calls import CallLog


@dataclass(frozen=True)
class RateLimit:
    """429 on every ``every``-th call, or on all calls until ``until`` (monotonic seconds)."""

    every: int | None
    until: float | None
    headers: bool
    limit: int
    reset: int


@dataclass(frozen=True)
class FaultResponse:
    """The response a faulty call gets instead of its own."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any] | str


class Faults:
    """The faults in force; ``next_fault()`` is asked once per API call."""

    def __init__(self, calls: CallLog) -> None:
        self._calls_log = calls
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._rate_limit: RateLimit | None = None
            self._since_rate_limit = 0
            self._error_rate = 0.0
            self._error_status = 500
            self._failing_calls = 0
            self._random = random.Random(1)
            self._calls_log.latency = 0.0

    def set_latency(self, seconds: float) -> None:
        """Delay every API call by ``seconds``."""
        self._calls_log.latency = seconds

    def rate_limit(
        self,
        *,
        every: int | None = None,
        seconds: float | None = None,
        headers: bool = True,
        limit: int = 60,
        reset: int = 1,
    ) -> None:
        """Answer 429 on every ``every``-th call from now on, or on every call for ``seconds``.

        ``X-RateLimit-Reset`` is ``reset`` in the every-N mode and the seconds left in the timed mode.
        """
        if (every is None) == (seconds is None):
            raise ValueError("give either every (calls) or seconds")
        if every is not None and every < 1:
            raise ValueError("every must be 1 or more")
        with self._lock:
            until = time.monotonic() + seconds if seconds is not None else None
            self._rate_limit = RateLimit(every, until, headers, limit, reset)
            self._since_rate_limit = 0

    def server_errors(self, *, rate: float = 0.0, status: int = 500, next_calls: int = 0, seed: int = 1) -> None:
        """Fail the next ``next_calls`` calls, then a share ``rate`` of calls (repeatable with ``seed``)."""
        if status not in (500, 502, 503, 504) or not 0.0 <= rate <= 1.0:
            raise ValueError("status is 500, 502, 503 or 504 and rate is from 0 to 1")
        with self._lock:
            self._error_rate = rate
            self._error_status = status
            self._failing_calls = next_calls
            self._random = random.Random(seed)

    def next_fault(self) -> FaultResponse | None:
        """The fault this call meets, if any."""
        with self._lock:
            limited = self._rate_limited()
            if limited is not None:
                return limited
            failing = self._failing_calls > 0
            if failing:
                self._failing_calls -= 1
            elif self._error_rate and self._random.random() < self._error_rate:
                failing = True
            if not failing:
                return None
            if self._error_status == 500:
                return FaultResponse(500, {}, {"Code": 500, "Message": "Sorry, we've run into a problem"})
            return FaultResponse(
                self._error_status, {"Content-Type": "text/html"}, "<html><body>Service Unavailable</body></html>"
            )

    def _rate_limited(self) -> FaultResponse | None:
        rule = self._rate_limit
        if rule is None:
            return None
        self._since_rate_limit += 1
        if rule.until is not None:
            left = rule.until - time.monotonic()
            if left <= 0:
                return None
            reset = math.ceil(left)
        elif rule.every is not None and self._since_rate_limit % rule.every == 0:
            reset = rule.reset
        else:
            return None
        headers = (
            {"X-RateLimit-Limit": str(rule.limit), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
            if rule.headers
            else {}
        )
        return FaultResponse(429, headers, {"Code": 429, "Message": "Rate limit exceeded"})

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            rule = self._rate_limit
            return {
                "latency": self._calls_log.latency,
                "rate_limit": asdict(rule) if rule else None,
                "server_errors": {
                    "rate": self._error_rate,
                    "status": self._error_status,
                    "next_calls": self._failing_calls,
                },
            }
