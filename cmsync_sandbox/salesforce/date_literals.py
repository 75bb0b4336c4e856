"""SOQL date literals (``TODAY``, ``LAST_N_DAYS:30``, ``THIS_QUARTER`` …): each names a range of whole days
in GMT counted from the org clock's today, as Salesforce documents them. Weeks start on Sunday and quarters
and years are calendar ones, as in an org with the en_US locale and the default fiscal year."""

from dataclasses import dataclass
from datetime import date, timedelta

from cmsync_sandbox.salesforce.errors import ApiError

_UNITS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
_FIXED = {
    "YESTERDAY": ("LAST", "DAY"),
    "TODAY": ("THIS", "DAY"),
    "TOMORROW": ("NEXT", "DAY"),
    **{f"{when}_{unit}": (when, unit) for when in ("LAST", "THIS", "NEXT") for unit in _UNITS[1:]},
}
_COUNTED = {
    **{f"LAST_N_{unit}S": ("LAST_N", unit) for unit in _UNITS},
    **{f"NEXT_N_{unit}S": ("NEXT_N", unit) for unit in _UNITS},
    **{f"N_{unit}S_AGO": ("AGO", unit) for unit in _UNITS},
}
_NINETY = {"LAST_90_DAYS": "LAST_N_DAYS", "NEXT_90_DAYS": "NEXT_N_DAYS"}


def is_date_literal(word: str) -> bool:
    """Whether ``word`` (without any ``:n``) names a date literal."""
    upper = word.upper()
    return upper in _FIXED or upper in _COUNTED or upper in _NINETY


@dataclass(frozen=True)
class DateLiteral:
    """A date literal as written: its name in upper case and its ``n`` for the counted forms."""

    name: str
    count: int | None

    def days(self, today: date) -> tuple[date, date]:
        """The first day of the range and the day after its last."""
        if self.name in _FIXED:
            when, unit = _FIXED[self.name]
            start = _start_of(unit, today)
            step = {"LAST": -1, "THIS": 0, "NEXT": 1}[when]
            return _shift(unit, start, step), _shift(unit, start, step + 1)
        form, unit = _COUNTED[self.name]
        count = self.count or 0
        start = _start_of(unit, today)
        if form == "AGO":
            return _shift(unit, start, -count), _shift(unit, start, 1 - count)
        if form == "LAST_N" and unit == "DAY":  # the only LAST_N form that includes the current unit
            return today - timedelta(days=count), today + timedelta(days=1)
        if form == "LAST_N":
            return _shift(unit, start, -count), start
        return _shift(unit, start, 1), _shift(unit, start, 1 + count)


def parse_date_literal(text: str) -> DateLiteral:
    """The literal ``text`` names (``TODAY``, ``LAST_N_DAYS:30``); MALFORMED_QUERY when it is not one."""
    word, colon, number = text.partition(":")
    name = word.strip().upper()
    if name in _NINETY and not colon:
        return DateLiteral(_NINETY[name], 90)
    if name in _FIXED and not colon:
        return DateLiteral(name, None)
    if name in _COUNTED:
        if not colon or not number.strip().isdigit():
            raise ApiError(
                400, "MALFORMED_QUERY", f"Invalid date literal '{text}': {name} takes a whole number, as {name}:30"
            )
        return DateLiteral(name, int(number))
    raise ApiError(400, "MALFORMED_QUERY", f"unexpected token: '{text}'")


def _start_of(unit: str, today: date) -> date:
    if unit == "DAY":
        return today
    if unit == "WEEK":
        return today - timedelta(days=(today.weekday() + 1) % 7)
    if unit == "MONTH":
        return today.replace(day=1)
    if unit == "QUARTER":
        return date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    return date(today.year, 1, 1)


def _shift(unit: str, start: date, steps: int) -> date:
    """``start`` (the first day of a unit) moved by whole units."""
    if unit == "DAY":
        return start + timedelta(days=steps)
    if unit == "WEEK":
        return start + timedelta(weeks=steps)
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit] * steps
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
