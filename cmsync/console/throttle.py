"""Sign-in attempts are rate-limited per client address: a password cannot be guessed at speed."""

import threading
import time
from collections import defaultdict, deque

FAILURES_ALLOWED = 5
WINDOW_SECONDS = 60.0


class SignInThrottle:
    """At most ``FAILURES_ALLOWED`` failed sign-ins per address in ``WINDOW_SECONDS``; then wait."""

    def __init__(self, allowed: int = FAILURES_ALLOWED, window: float = WINDOW_SECONDS) -> None:
        self.allowed = allowed
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> int:
        """0 when ``address`` may try now, else how many seconds until it may."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.allowed:
                return 0
            return max(1, int(failures[0] + self.window - time.monotonic()) + 1)

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(time.monotonic())

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures[address]
        while failures and failures[0] < time.monotonic() - self.window:
            failures.popleft()
        return failures
