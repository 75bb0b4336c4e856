"""Faults tests inject into the API: rate limiting (HTTP 429), server errors (HTTP 500 or 503), bad
responses and corrupt records.

Rate limiting comes every N calls or for T seconds, with CM's ``X-RateLimit-*`` headers or without them
(CM's subscriber endpoints have been seen to send none). Latency per call lives in the call log.
Bad responses are what a proxy or a struggling server sends on the way (see ``BAD_RESPONSES``), for the
next N calls of the endpoints whose name holds a given text. Corrupt records are subscribers and events
whose fields are changed or removed in every answer that holds them, as a data fault in CM would be.
"""

import json
import math
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from cmsync_sandbox.calls import CallLog


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


BAD_RESPONSES = ("html", "truncated_json", "wrong_content_type", "slow_body", "server_error")
"""``html``: 200 with a proxy's HTML page; ``truncated_json``: 200 with the answer cut off half-way;
``wrong_content_type``: 200 with an XML body; ``slow_body``: the answer's first bytes, then a stall of
``stall`` seconds before the rest; ``server_error``: 500 with CM's error body."""


@dataclass(frozen=True)
class BadResponses:
    """The next ``calls`` calls of endpoints whose name holds ``endpoint`` get a bad response of ``kind``."""

    kind: str
    calls: int
    endpoint: str
    stall: float


@dataclass(frozen=True)
class RecordPatch:
    """Fields to set (any JSON value) and to remove on every record of ``email`` in an answer."""

    set: dict[str, Any]
    remove: tuple[str, ...]


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
            self._bad: BadResponses | None = None
            self._patches: dict[str, RecordPatch] = {}

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

    def bad_responses(self, *, kind: str, calls: int = 1, endpoint: str = "", stall: float = 2.0) -> None:
        """Answer the next ``calls`` calls of endpoints whose name holds ``endpoint`` with a bad response."""
        if kind not in BAD_RESPONSES or calls < 0 or stall < 0:
            raise ValueError(f"kind is one of {', '.join(BAD_RESPONSES)}; calls and stall are 0 or more")
        with self._lock:
            self._bad = BadResponses(kind, calls, endpoint, stall) if calls else None

    def next_bad_response(self, endpoint: str) -> BadResponses | None:
        """The bad response this call of ``endpoint`` gets, if any (asked once per API call)."""
        with self._lock:
            bad = self._bad
            if bad is None or bad.endpoint not in endpoint:
                return None
            self._bad = BadResponses(bad.kind, bad.calls - 1, bad.endpoint, bad.stall) if bad.calls > 1 else None
            return bad

    def corrupt_records(self, patches: dict[str, dict[str, Any]]) -> None:
        """Change the records of these emails in every answer: ``{email: {"set": {…}, "remove": […]}}``."""
        with self._lock:
            for email, patch in patches.items():
                self._patches[email.lower()] = RecordPatch(
                    dict(patch.get("set") or {}), tuple(patch.get("remove") or ())
                )

    def patched(self, body: Any) -> Any:
        """An answer with the corrupt records in it changed (records are found by their ``EmailAddress``);
        an answer written as JSON text (``bytes``) is read back to change it."""
        with self._lock:
            patches = dict(self._patches)
        if not patches:
            return body
        if isinstance(body, bytes):
            body = json.loads(body)
        items = body.get("Results") if isinstance(body, dict) and isinstance(body.get("Results"), list) else None
        if items is not None:
            return {**body, "Results": [_patch(item, patches) for item in items]}
        return _patch(body, patches)

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
                "bad_responses": asdict(self._bad) if self._bad else None,
                "corrupt_records": {email: asdict(patch) for email, patch in self._patches.items()},
                "latency": self._calls_log.latency,
                "rate_limit": asdict(rule) if rule else None,
                "server_errors": {
                    "rate": self._error_rate,
                    "status": self._error_status,
                    "next_calls": self._failing_calls,
                },
            }


def _patch(record: Any, patches: dict[str, RecordPatch]) -> Any:
    if not isinstance(record, dict) or not isinstance(record.get("EmailAddress"), str):
        return record
    patch = patches.get(record["EmailAddress"].lower())
    if patch is None:
        return record
    changed = {name: value for name, value in record.items() if name not in patch.remove}
    changed.update(patch.set)
    return changed
