"""The org's sense of time: the wall clock shifted by an offset tests move forward, so record stamps, token
lifetimes and SOQL date literals all see time pass without anyone waiting for it."""

import threading
import time
from datetime import UTC, datetime


class ServerClock:
    """Wall-clock time plus an offset that only grows until ``reset()``."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def seconds(self) -> float:
        """Seconds since the epoch, as the org sees them."""
        with self._lock:
            return time.time() + self._offset

    def milliseconds(self) -> int:
        return int(self.seconds() * 1000)

    def moment(self) -> datetime:
        """Now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.seconds(), UTC)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass at once; ValueError for a negative step (the org's time never goes back)."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; {seconds:.3f} seconds is a step back")
        with self._lock:
            self._offset += seconds

    def advance_to(self, moment: datetime) -> None:
        """Let time pass until ``moment`` (an aware datetime); ValueError when it is already past."""
        self.advance(moment.timestamp() - self.seconds())

    def reset(self) -> None:
        """Back to the wall clock."""
        with self._lock:
            self._offset = 0.0
