"""Durations written as people write them: ``15s``, ``30m``, ``12h``, ``7d`` or a number of seconds."""

import math
import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=3650)
"""Ten years: longer than any interval cmsync waits, and far inside what dates can hold."""


def parse_duration(value: object) -> object:
    """Turn ``"7d"`` or ``15`` into a timedelta; leave other values to the model's own type check."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write it like 15s, 30m, 12h or 7d")
    if isinstance(value, int | float):
        return _bounded(value, float(value))
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration; write it like 15s, 30m, 12h or 7d")
        return _bounded(value, float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


def _bounded(given: object, seconds: float) -> timedelta:
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{given!r} is not allowed; a duration is 0s or more")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{given!r} is not allowed; the longest duration is {format_duration(MAX_DURATION)}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of ``value`` in the units ``parse_duration`` reads."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"
