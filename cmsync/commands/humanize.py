"""Times as the product tells them: ``seconds ago``, ``a minute ago`` … ``N days ago``, ``in N minutes``."""

from datetime import datetime, timedelta

_UNITS = ((86400, "a day", "days"), (3600, "an hour", "hours"), (60, "a minute", "minutes"))


def _span(seconds: float) -> str:
    for size, one, many in _UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return one if count == 1 else f"{count} {many}"
    return "seconds"


def time_ago(moment: datetime, now: datetime) -> str:
    """``moment`` relative to ``now``: ``3 hours ago``, or ``in 12 minutes`` for a time still to come."""
    delta: timedelta = now - moment
    seconds = delta.total_seconds()
    if seconds >= 0:
        return f"{_span(seconds)} ago"
    ahead = -seconds
    return "in a few seconds" if ahead < 60 else f"in {_span(ahead)}"
