"""The two kinds of error the emulator answers with: a whole request refused, or one record rejected.

A refused request is an HTTP error whose body is a JSON array of ``{message, errorCode, fields}``; a
rejected record is one item of a per-record result, whose error uses ``statusCode`` instead.
"""

from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """A whole request refused with ``status`` and one ``errorCode``."""

    def __init__(self, status: int, error_code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields:
            item["fields"] = list(self.fields)
        return [item]


@dataclass(frozen=True)
class Problem:
    """Why one record was rejected, as a collection result or a Bulk ``sf__Error`` shows it."""

    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def as_bulk_error(self) -> str:
        return f"{self.status_code}:{self.message}:{','.join(self.fields)} --"


class RecordError(Exception):
    """Raised while preparing or writing one record; carries the problem to report for it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")
