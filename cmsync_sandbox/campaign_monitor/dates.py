"""Time in the emulator: a clock tests can move forward, and CM's date text in a client's time zone.

Instants are whole minutes since the epoch in UTC (CM reports dates to the minute). The API shows them as
``YYYY-MM-DD HH:MM:SS`` without a zone, in the time zone of the client that owns the data.
"""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cmsync_sandbox.campaign_monitor.errors import ApiError

MINUTE = 60
DAY = 24 * 60 * MINUTE
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_PARAMETER = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


class Clock:
    """Wall-clock minutes, shifted by an offset that tests advance to let time pass without sleeping."""

    def __init__(self) -> None:
        self._offset = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        """The current instant, to the minute."""
        return int(self.seconds()) // MINUTE * MINUTE

    def seconds(self) -> float:
        """The current time in seconds (for token lifetimes)."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: int) -> None:
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        """Back to the wall clock."""
        with self._lock:
            self._offset = 0


def format_date(instant: int, utc_offset_minutes: int) -> str:
    """CM's date text for ``instant`` in a zone ``utc_offset_minutes`` east of UTC.

    Written as a day and a time of day, each from a small cache: a page of 1000 subscribers holds ~2000
    different instants, which a cache of whole dates would mostly miss on a first read.
    """
    day, second = divmod(instant + utc_offset_minutes * MINUTE, DAY)
    return f"{_day_text(day)} {_time_of_day_text(second)}"


@lru_cache(maxsize=1 << 12)
def _day_text(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")


@lru_cache(maxsize=DAY)
def _time_of_day_text(second: int) -> str:
    return f"{second // 3600:02d}:{second // MINUTE % 60:02d}:{second % MINUTE:02d}"


def parse_date(text: str, utc_offset_minutes: int, error_code: int = 5) -> int | None:
    """The instant a ``date=`` parameter names (local time of the client), or None when it is empty."""
    text = text.strip()
    if not text:
        return None
    match = _DATE_PARAMETER.match(text)
    if match is None:
        raise ApiError(error_code)
    year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ApiError(error_code) from None
    return int((local - timedelta(minutes=utc_offset_minutes)).timestamp())
