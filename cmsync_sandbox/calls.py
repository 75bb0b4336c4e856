"""The call log every emulator keeps (method, path, status, duration, endpoint) and its latency fault.

Emulators name each call's endpoint (``"GET /lists/{id}/active"``) and API-call class so that tests and
benchmarks can count calls per endpoint; a WSGI wrapper times every call and waits out the injected latency.
Lowering the latency lets the calls waiting go at once, so a test can hold calls (a latency longer than the
test) and release them when it chooses.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

ENDPOINT_KEY = "cmsync_sandbox.endpoint"
"""WSGI environ key where an emulator writes the endpoint name of the call it is serving."""
CLASS_KEY = "cmsync_sandbox.call_class"
"""WSGI environ key for the API-call class (e.g. ``rest`` or ``bulk``) of the call being served."""


@dataclass(frozen=True)
class Call:
    """One HTTP call an emulator served."""

    method: str
    path: str
    query: str
    status: int
    duration: float
    endpoint: str
    call_class: str


class CallLog:
    """Thread-safe record of calls, with the latency to add to each (a fault tests can set)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._latency_changed = threading.Condition()
        self._latency = 0.0
        self._waiting = 0

    @property
    def latency(self) -> float:
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        with self._latency_changed:
            self._latency = seconds
            self._latency_changed.notify_all()

    @property
    def waiting(self) -> int:
        """Calls waiting out the latency now."""
        return self._waiting

    def delay(self) -> None:
        """Wait out the latency from now, or less should it be lowered meanwhile."""
        started = time.monotonic()
        with self._latency_changed:
            self._waiting += 1
            try:
                while (left := self._latency - (time.monotonic() - started)) > 0:
                    self._latency_changed.wait(left)
            finally:
                self._waiting -= 1

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def counts(self) -> dict[str, int]:
        """Calls per endpoint name."""
        return dict(Counter(call.endpoint for call in self.calls()))

    def class_counts(self) -> dict[str, int]:
        """Calls per API-call class."""
        return dict(Counter(call.call_class for call in self.calls()))

    def as_json(self) -> dict[str, Any]:
        calls = self.calls()
        return {
            "total": len(calls),
            "counts": dict(Counter(call.endpoint for call in calls)),
            "class_counts": dict(Counter(call.call_class for call in calls)),
            "calls": [call.__dict__ for call in calls],
        }


class Recorder:
    """WSGI wrapper: waits out the injected latency, then records the call with its status and duration."""

    def __init__(self, app: WsgiApp, log: CallLog) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[int] = [0]

        def recording_start_response(status_line: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, *args)

        path = environ.get("PATH_INFO", "")
        if self.log.latency and not path.startswith("/_sandbox"):
            self.log.delay()
        body = list(self.app(environ, recording_start_response))
        if not path.startswith("/_sandbox"):
            self.log.record(
                Call(
                    method=environ.get("REQUEST_METHOD", ""),
                    path=path,
                    query=environ.get("QUERY_STRING", ""),
                    status=status[0],
                    duration=time.perf_counter() - started,
                    endpoint=environ.get(ENDPOINT_KEY, path),
                    call_class=environ.get(CLASS_KEY, "other"),
                )
            )
        return body
