"""The supervisor's signals: a handler only records one (as in supervisord); the loop takes them and acts.

Once a stop (TERM or INT) is recorded, a later HUP or USR1 is ignored, as supervisord ignores them while it
shuts down: never acted on, and logged once for each kind.
"""

import signal
import threading
from collections import deque
from collections.abc import Iterator
from types import FrameType

from cmsync.logs import get_logger

log = get_logger(__name__)
STOPS = (signal.SIGTERM, signal.SIGINT)
HANDLED = (*STOPS, signal.SIGHUP, signal.SIGUSR1)


class SignalInbox:
    """The signals recorded and not yet taken; ``wakeup`` is set by each one, so that the loop acts at once."""

    def __init__(self) -> None:
        self.wakeup = threading.Event()
        self.stop_recorded = False
        self._pending: deque[int] = deque()
        self._ignored: deque[int] = deque()
        self._reported: set[int] = set()

    def install(self) -> None:
        for number in HANDLED:
            signal.signal(number, self.record)

    def record(self, number: int, _frame: FrameType | None = None) -> None:
        """The handler: keep the signal for the loop, or as ignored when it comes after a stop."""
        if self.stop_recorded and number not in STOPS:
            self._ignored.append(number)
        else:
            self.stop_recorded = self.stop_recorded or number in STOPS
            self._pending.append(number)
        self.wakeup.set()

    def take(self) -> Iterator[int]:
        """The signals to act on, oldest first (after logging those ignored)."""
        self.report_ignored()
        while self._pending:
            yield self._pending.popleft()

    def report_ignored(self) -> None:
        """Log each kind of signal ignored since the stop, the first time only."""
        while self._ignored:
            number = self._ignored.popleft()
            if number not in self._reported:
                self._reported.add(number)
                log.info(f"shutting down: {signal.Signals(number).name} ignored")
