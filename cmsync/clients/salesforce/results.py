"""The outcome of writing one record, the same whether it went through sObject Collections or Bulk API 2.0."""

from dataclasses import dataclass

LOCKED = "UNABLE_TO_LOCK_ROW"
NOT_PROCESSED = "NOT_PROCESSED"
"""Status of a record a Bulk job never got to (the job failed or was aborted)."""


@dataclass(frozen=True)
class RecordError:
    """Why Salesforce rejected a record: ``status_code`` such as STRING_TOO_LONG, its message, the fields."""

    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        fields = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.status_code}: {self.message}{fields}"


@dataclass(frozen=True)
class RecordResult:
    """One input record's result: ``index`` is its position in the input, ``created`` is set by upserts and inserts."""

    index: int
    id: str | None
    success: bool
    created: bool | None = None
    errors: tuple[RecordError, ...] = ()

    @property
    def status_codes(self) -> tuple[str, ...]:
        return tuple(error.status_code for error in self.errors)

    @property
    def locked(self) -> bool:
        """Failed only because a row lock could not be had: worth trying again."""
        return not self.success and LOCKED in self.status_codes


def bulk_error(index: int, record_id: str | None, text: str) -> RecordResult:
    """A failed result from Bulk's ``sf__Error`` (``STATUS:message:FIELD1,FIELD2 --``)."""
    status, _, rest = text.partition(":")
    rest = rest.removesuffix("--").rstrip()
    message, _, fields = rest.rpartition(":")
    if not message:
        message, fields = rest, ""
    error = RecordError(status.strip(), message.strip(), tuple(field for field in fields.split(",") if field.strip()))
    return RecordResult(index, record_id or None, False, None, (error,))
