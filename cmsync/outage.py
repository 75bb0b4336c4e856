"""One outage of a system cmsync depends on (state store, broker): logged once when it starts and once
when it ends with its duration, counted, and readable for ``/healthz``, however many calls fail meanwhile."""

import threading
import time

from prometheus_client import Counter, Gauge

from cmsync.logs import get_logger

log = get_logger(__name__)


class OutageTracker:
    """Whether ``system`` is reachable now; ``failed`` and ``succeeded`` are cheap to call on every attempt."""

    def __init__(self, system: str, up: Gauge | None = None, outages: Counter | None = None) -> None:
        self.system = system
        self._up = up
        self._outages = outages
        self._lock = threading.Lock()
        self._since: float | None = None
        self.reason: str | None = None
        if up is not None:
            up.set(1)

    @property
    def down(self) -> bool:
        return self._since is not None

    def seconds_down(self) -> float:
        since = self._since
        return 0.0 if since is None else time.monotonic() - since

    def failed(self, reason: str) -> None:
        """Note a failed attempt; the first after a success starts an outage (one log line)."""
        with self._lock:
            self.reason = reason
            if self._since is not None:
                return
            self._since = time.monotonic()
        if self._up is not None:
            self._up.set(0)
        if self._outages is not None:
            self._outages.inc()
        log.error(f"{self.system} unavailable; retrying until it is back", reason=reason)

    def succeeded(self) -> None:
        """Note a successful attempt; the first after failures ends the outage (one log line)."""
        if self._since is None:
            return
        with self._lock:
            since, self._since, self.reason = self._since, None, None
        if since is None:
            return
        if self._up is not None:
            self._up.set(1)
        log.warning(f"{self.system} back", down_seconds=round(time.monotonic() - since, 1))
