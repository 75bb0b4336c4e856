"""Field values between their three forms: JSON or CSV as clients send them, and the compact stored form.

Stored forms keep a million records small and comparable: text as ``str``, numbers as ``float`` or
``int``, booleans as ``bool``, dates as ``YYYY-MM-DD`` and date-times as integer milliseconds since the
epoch (UTC), which order correctly as they are.
"""

import math
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from typing import Any

from cmsync_sandbox.salesforce.errors import Problem, RecordError
from cmsync_sandbox.salesforce.schema import NUMBER_TYPES, TEXT_TYPES, Field, FieldType

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class WrongTypeError(Exception):
    """A value that is not of the field's type at all (a request-level error for JSON bodies)."""

    def __init__(self, field: Field, value: object) -> None:
        super().__init__(f"{field.label}: value not of required type: {value}")
        self.field = field
        self.value = value


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def parse_datetime(text: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 date-time (no offset means UTC); ValueError if it is not one."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@lru_cache(maxsize=65_536)
def _second(seconds: int) -> str:
    """A whole second since the epoch as ``2024-05-01T12:00:00``, spelled once for the many values stamped in
    it (a query's results spell two stamps a row)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()[:19]


def format_datetime(milliseconds: int) -> str:
    """The REST form, ``2024-05-01T12:00:00.000+0000``."""
    return f"{_second(milliseconds // 1000)}.{milliseconds % 1000:03d}+0000"


def parse_date(text: str) -> str:
    if not _DATE.match(text.strip()):
        raise ValueError(text)
    return date.fromisoformat(text.strip()).isoformat()


def _reject(status: str, message: str, field: Field) -> RecordError:
    return RecordError(Problem(status, message, (field.name,)))


def _length(text: str) -> int:
    """A text's length as Salesforce checks it against a field's length: UTF-16 units (an emoji counts 2)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _checked_text(field: Field, value: str) -> str:
    if field.type == FieldType.EMAIL and value and not _EMAIL.match(value):
        raise _reject("INVALID_EMAIL_ADDRESS", f"{field.label}: invalid email address: {value}", field)
    if field.length and _length(value) > field.length:
        raise _reject(
            "STRING_TOO_LONG",
            f"{field.label}: data value too large: {value[:40]}{'...' if len(value) > 40 else ''} "
            f"(max length={field.length})",
            field,
        )
    if field.type == FieldType.PICKLIST and field.restricted and value not in field.picklist:
        raise _reject(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{field.label}: bad value for restricted picklist field: {value}",
            field,
        )
    return value


def _checked_number(field: Field, number: float) -> float | int:
    if math.isnan(number) or math.isinf(number):
        raise WrongTypeError(field, number)
    if field.type == FieldType.INT:
        return int(number)
    scale = field.scale
    rounded = round(number, scale)
    if field.precision and abs(rounded) >= 10 ** (field.precision - scale):
        raise _reject(
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{field.label}: value outside of valid range on numeric field: {number}",
            field,
        )
    return float(rounded)


def from_json(field: Field, value: Any) -> Any:
    """The stored form of a JSON value; WrongTypeError for a value of another type, RecordError for a bad one."""
    if value is None:
        return False if field.type == FieldType.BOOLEAN else None
    if field.type == FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise WrongTypeError(field, value)
    if field.type in NUMBER_TYPES:
        if isinstance(value, bool):
            raise WrongTypeError(field, value)
        if isinstance(value, int | float):
            return _checked_number(field, float(value))
        if isinstance(value, str):
            try:
                return _checked_number(field, float(value))
            except ValueError:
                raise WrongTypeError(field, value) from None
        raise WrongTypeError(field, value)
    if not isinstance(value, str):
        if field.type in TEXT_TYPES and isinstance(value, int | float) and not isinstance(value, bool):
            return _checked_text(field, str(value))
        raise WrongTypeError(field, value)
    if field.type == FieldType.DATETIME:
        try:
            return parse_datetime(value)
        except ValueError:
            raise WrongTypeError(field, value) from None
    if field.type == FieldType.DATE:
        try:
            return parse_date(value)
        except ValueError:
            raise WrongTypeError(field, value) from None
    return _checked_text(field, value)


def from_csv(field: Field, text: str) -> Any:
    """The stored form of a Bulk CSV value (``#N/A`` is null); a wrong type rejects the record."""
    if text == "#N/A":
        return from_json(field, None)
    try:
        if field.type == FieldType.BOOLEAN:
            if text.lower() not in _TRUE | _FALSE:
                raise WrongTypeError(field, text)
            return text.lower() in _TRUE
        return from_json(field, text)
    except WrongTypeError as error:
        raise _reject(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{field.label}: value not of required type: {error.value}", field
        ) from None


def json_reader(field: Field) -> Callable[[Any], Any]:
    """``from_json`` for one field with its type looked at once (a text is only checked, as from_json does)."""
    if field.type in TEXT_TYPES:

        def read_text(value: Any) -> Any:
            return _checked_text(field, value) if type(value) is str else from_json(field, value)

        return read_text
    return partial(from_json, field)


def csv_reader(field: Field) -> Callable[[str], Any]:
    """``from_csv`` for one field with its type looked at once: what a Bulk job applies to each of its cells
    (a date-time's recent texts remembered, as a job's rows share a few)."""
    if field.type == FieldType.DATETIME:

        @lru_cache(maxsize=1 << 16)
        def read_datetime(text: str) -> int | None:
            if text == "#N/A":
                return None
            try:
                return parse_datetime(text)
            except ValueError:
                raise _reject(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{field.label}: value not of required type: {text}", field
                ) from None

        return read_datetime
    if field.type in TEXT_TYPES and field.type not in (FieldType.EMAIL, FieldType.PICKLIST):
        length = field.length

        def read_text(text: str) -> str | None:
            if text == "#N/A":
                return None
            if length and len(text) * 2 > length and (len(text) > length or not text.isascii()):
                return _checked_text(field, text)  # maybe too long (a character is 1 or 2 units): the full check says
            return text

        return read_text
    if field.type == FieldType.PICKLIST and field.restricted:
        allowed = frozenset(value for value in field.picklist if not field.length or _length(value) <= field.length)
        """The values that pass every check, so a cell holding one needs no other."""

        def read_choice(text: str) -> str | None:
            if text == "#N/A":
                return None
            return text if text in allowed else _checked_text(field, text)

        return read_choice
    if field.type in TEXT_TYPES:

        def read_checked_text(text: str) -> str | None:
            return None if text == "#N/A" else _checked_text(field, text)

        return read_checked_text
    return partial(from_csv, field)


def kept_csv_length(field: Field) -> int:
    """The longest CSV text (but ``#N/A``) that ``csv_reader(field)`` stores as it is, without a check that
    could refuse it: half a text field's length (a character is at most 2 UTF-16 units); -1 for other types."""
    if field.type not in TEXT_TYPES or field.type in (FieldType.EMAIL, FieldType.PICKLIST):
        return -1
    return field.length // 2 if field.length else sys.maxsize


def to_json(field: Field, stored: Any) -> Any:
    if stored is None:
        return None
    if field.type == FieldType.DATETIME:
        return format_datetime(stored)
    if field.type in NUMBER_TYPES and field.type != FieldType.INT:
        return float(stored)
    return stored


def to_csv(field: Field, stored: Any) -> str:
    if stored is None:
        return ""
    if isinstance(stored, bool):
        return "true" if stored else "false"
    if field.type == FieldType.DATETIME:
        return format_datetime(stored).replace("+0000", "Z")
    if isinstance(stored, float) and stored.is_integer() and field.scale == 0:
        return str(int(stored))
    return str(stored)
