"""Salesforce values as Campaign Monitor custom field values, in the field's CM data type.

Text, Country and USState take the text; Number a number; Date a date as ``YYYY/MM/DD`` within CM's range;
MultiSelectOne one of the field's options and MultiSelectMany several (Salesforce separates them with
``;``), spelled as the options are. An empty value clears the field. A value CM would refuse, or one longer
than CM's 250 characters, is refused here with the reason, so the record is rejected alone.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from cmsync.clients.campaign_monitor.records import ConsentToTrack, CustomFieldValue
from cmsync.mapping.records import field_key
from cmsync.outbound.catalog import CmField

MAX_LENGTH = 250
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2076, 6, 6)
_CONSENT: dict[str, ConsentToTrack] = {"yes": "Yes", "true": "Yes", "no": "No", "false": "No"}
_DAY = re.compile(r"^\d{4}[-/]\d{2}[-/]\d{2}$")


class ValueRefusedError(ValueError):
    """A value that cannot go to its CM field; the message says why, for the rejection record."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(key: str, value: Any) -> str:
    try:
        if isinstance(value, bool):
            raise ValueError
        return _text(float(value))
    except ValueError:
        raise ValueRefusedError(f"{key} is a Number field in Campaign Monitor; {value!r} is not a number") from None


def _date(key: str, value: Any) -> str:
    """``YYYY/MM/DD``; a Salesforce date-time gives its UTC date."""
    try:
        text = str(value).strip()
        day = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).astimezone(UTC).date()
    except ValueError:
        raise ValueRefusedError(f"{key} is a Date field in Campaign Monitor; {value!r} is not a date") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueRefusedError(f"{key}: {day.isoformat()} is outside the dates Campaign Monitor keeps (1900–2076)")
    return day.strftime("%Y/%m/%d")


def _options(key: str, field: CmField, values: list[str]) -> list[str]:
    by_fold = {option.casefold(): option for option in field.options}
    unknown = [value for value in values if value.casefold() not in by_fold]
    if unknown:
        raise ValueRefusedError(f"{key}: {', '.join(map(repr, unknown))} is not one of the field's options")
    return [by_fold[value.casefold()] for value in values]


def field_values(key: str, value: Any, field: CmField | None) -> tuple[CustomFieldValue, ...]:
    """What to send for CM field ``key`` (``[Key]``) given a Salesforce value; ``field`` None is sent as text."""
    if value is None or value == "":
        return (CustomFieldValue(key, "", clear=True),)
    data_type = field.data_type if field else "Text"
    if data_type == "Number":
        texts = [_number(key, value)]
    elif data_type == "Date":
        texts = [_date(key, value)]
    elif data_type == "MultiSelectMany" and field:
        texts = _options(key, field, [part.strip() for part in _text(value).split(";") if part.strip()])
    elif data_type == "MultiSelectOne" and field:
        texts = _options(key, field, [_text(value).strip()])
    else:
        texts = [_text(value)]
    for text in texts:
        if len(text) > MAX_LENGTH:
            raise ValueRefusedError(
                f"{key}: the value is {len(text)} characters; Campaign Monitor keeps at most {MAX_LENGTH}"
            )
    return tuple(CustomFieldValue(key, text) for text in texts)


def consent_to_track(value: Any) -> ConsentToTrack:
    """``ConsentToTrack`` from the field mapped to ``[ReservedConsentToTrack]``: true/yes, false/no, else as is."""
    return _CONSENT.get(_text(value).strip().lower(), "Unchanged") if value is not None else "Unchanged"


def _comparable(text: str) -> str:
    """A value as CM may hand it back: a date in either spelling, a number however written."""
    text = text.strip()
    if _DAY.match(text):
        return text.replace("-", "/")
    try:
        return _text(float(text))
    except ValueError:
        return text


def held_already(sent: Sequence[CustomFieldValue], held: Mapping[str, str | list[str]]) -> bool:
    """Whether CM holds these values already (``held``: a subscriber's fields by ``field_key``, as the main
    sync last read them): a cleared field is empty, a multi-select field holds the same options."""
    wanted: dict[str, list[str]] = {}
    for value in sent:
        values = wanted.setdefault(field_key(value.key), [])
        if not value.clear:
            values.append(_comparable(value.value))
    for key, values in wanted.items():
        have = held.get(key) or []
        have_values = [have] if isinstance(have, str) else have
        if sorted(values) != sorted(_comparable(text) for text in have_values if text):
            return False
    return True
