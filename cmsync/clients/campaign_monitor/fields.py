"""Reading the fields of one CM record as documented, so a record that breaks the documented shape fails
alone with an error naming the record, the field and its value (``UnreadableRecordError``)."""

from datetime import datetime
from typing import Any

from cmsync.clients.campaign_monitor.errors import UnreadableRecordError


class RecordReader:
    """The fields of one record of ``kind`` (``subscriber``, ``opens`` …), read with their documented types."""

    def __init__(self, kind: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise UnreadableRecordError(kind, None, "record", body, "is not a JSON object", body)
        self.kind = kind
        self.body: dict[str, Any] = body
        email = body.get("EmailAddress")
        self.email = email if isinstance(email, str) and email else None

    def fail(self, field: str, problem: str) -> UnreadableRecordError:
        return UnreadableRecordError(self.kind, self.email, field, self.body.get(field), problem, self.body)

    def email_address(self) -> str:
        """``EmailAddress``: present, text, with an ``@``."""
        if self.email is None:
            raise self.fail("EmailAddress", "is missing or not text")
        if "@" not in self.email:
            raise self.fail("EmailAddress", "is not an email address")
        return self.email

    def text(self, field: str) -> str:
        """A text field; missing or null reads as empty."""
        value = self.body.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(field, "is not text")
        return value

    def date(self, *fields: str) -> datetime | None:
        """The first of ``fields`` that has a value, as a CM date (``YYYY-MM-DD HH:MM:SS``); None when none has."""
        for field in fields:
            value = self.body.get(field)
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                raise self.fail(field, "is not a date")
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(field, "is not a valid date") from None
        return None

    def number(self, field: str) -> float | None:
        """A number field (CM sends coordinates as numbers or numeric text); None when missing."""
        value = self.body.get(field)
        if value in (None, ""):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise self.fail(field, "is not a number") from None

    def objects(self, field: str) -> list[dict[str, Any]]:
        """A list of JSON objects; missing or null reads as empty."""
        value = self.body.get(field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(field, "is not a list of objects")
        return value
