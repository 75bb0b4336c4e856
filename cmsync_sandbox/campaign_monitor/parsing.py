"""Reading requests as CM does: query parameter names and values in any case, JSON body keys in any case,
paging parameters checked with CM's error codes (800–803)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from cmsync_sandbox.campaign_monitor.errors import ApiError
from cmsync_sandbox.campaign_monitor.state import CONSENT_VALUES, FieldValue, SubscriberInput


def query(request: Request) -> dict[str, str]:
    """Query parameters by lower-case name (the first value of each)."""
    params: dict[str, str] = {}
    for name, value in request.args.items(multi=True):
        params.setdefault(name.lower(), value)
    return params


def flag(value: object) -> bool:
    """A boolean as CM reads it: ``true`` in any case (or JSON true) is true."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def folded(value: Any) -> Any:
    """A JSON value with every object key lower-cased, so ``QueueSubscriptionBasedAutoResponders`` and
    ``QueueSubscriptionBasedAutoresponders`` read the same."""
    if isinstance(value, dict):
        return {str(key).lower(): folded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [folded(item) for item in value]
    return value


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, keys folded; CM answers 400 to anything else."""
    try:
        body = json.loads(request.get_data() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400) from None
    if not isinstance(body, dict):
        raise ApiError(400)
    return folded(body)


def subscriber_input(body: Mapping[str, Any], *, consent_required: bool) -> SubscriberInput:
    """A subscriber from a folded body (add, update or one entry of an import)."""
    consent_text = body.get("consenttotrack")
    if consent_text is None or consent_text == "":
        if consent_required:
            raise ApiError(214)
        consent_text = "Unchanged"
    consent = CONSENT_VALUES.get(str(consent_text).strip().lower())
    if consent is None:
        raise ApiError(215)
    fields = tuple(
        FieldValue(
            str(entry.get("key", "")),
            "" if entry.get("value") is None else str(entry.get("value")),
            flag(entry.get("clear")),
        )
        for entry in body.get("customfields") or ()
        if isinstance(entry, dict)
    )
    name = body.get("name")
    return SubscriberInput(
        str(body.get("emailaddress") or "").strip(), None if name is None else str(name), fields, consent
    )


@dataclass(frozen=True)
class Paging:
    """Which page, how big, in what order."""

    number: int
    size: int
    field: str
    direction: str

    @property
    def descending(self) -> bool:
        return self.direction == "desc"


def paging(params: Mapping[str, str], *, fields: tuple[str, ...], default_field: str, default_direction: str) -> Paging:
    """Check ``page``, ``pagesize``, ``orderfield`` and ``orderdirection`` (``fields`` empty: no order field)."""
    number = _whole_number(params.get("page", ""), default=1)
    if number is None or number < 1:
        raise ApiError(800)
    size = _whole_number(params.get("pagesize", ""), default=1000)
    if size is None or not 10 <= size <= 1000:
        raise ApiError(801)
    field = params.get("orderfield", "").strip().lower() or default_field
    if fields and field not in fields:
        raise ApiError(802)
    direction = params.get("orderdirection", "").strip().lower() or default_direction
    if direction not in ("asc", "desc"):
        raise ApiError(803)
    return Paging(number, size, field if fields else default_field, direction)


def _whole_number(text: str, *, default: int) -> int | None:
    text = text.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        return None
