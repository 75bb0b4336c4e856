"""Typed errors of Campaign Monitor calls, carrying CM's ``Code`` and ``Message`` (never a credential)."""

from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    """CM's error codes that cmsync acts on (the ``Code`` of an error body)."""

    INVALID_EMAIL = 1
    INVALID_DATE = 5
    MISSING_AUTHORIZATION = 50
    INVALID_API_KEY = 100
    INVALID_LIST_ID = 101
    INVALID_CLIENT_ID = 102
    INVALID_OAUTH_TOKEN = 120
    EXPIRED_OAUTH_TOKEN = 121
    REVOKED_OAUTH_TOKEN = 122
    ALREADY_SUBSCRIBED = 201
    SUBSCRIBER_NOT_IN_LIST = 203
    IN_SUPPRESSION_LIST = 204
    IS_DELETED = 205
    IS_UNSUBSCRIBED = 206
    IS_BOUNCED = 207
    IS_UNCONFIRMED = 208
    TOO_MANY_IN_IMPORT = 209
    IMPORT_HAD_FAILURES = 210
    INVALID_NEW_EMAIL = 211
    NOTHING_TO_IMPORT = 212
    CONSENT_TO_TRACK_MISSING = 214
    CONSENT_TO_TRACK_INVALID = 215
    INVALID_FIELD_KEY = 253
    INVALID_FIELD_NAME = 254
    DUPLICATE_FIELD_NAME = 255
    INVALID_CAMPAIGN_ID = 301
    RATE_LIMITED = 429
    INVALID_PAGE_NUMBER = 800
    INVALID_PAGE_SIZE = 801
    INVALID_ORDER_FIELD = 802
    INVALID_ORDER_DIRECTION = 803
    INVALID_JOURNEY_ID = 3000
    INVALID_JOURNEY_EMAIL_ID = 3002


class CampaignMonitorError(Exception):
    """A Campaign Monitor call failed: the endpoint class, HTTP status, and CM's code and message."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        status: int | None = None,
        code: int | None = None,
        result_data: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.result_data = result_data
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f", code {self.code}" if self.code is not None else ""
        return f"Campaign Monitor {self.endpoint}: {status}{code}: {self.message}"


class BadRequestError(CampaignMonitorError):
    """HTTP 400: CM refused the input (see ``code``)."""


class UnauthorizedError(CampaignMonitorError):
    """HTTP 401: bad credentials, an expired token that could not be refreshed, or an ID not ours (102)."""


class ForbiddenError(CampaignMonitorError):
    """HTTP 403."""


class NotFoundError(CampaignMonitorError):
    """HTTP 404."""


class RateLimitedError(CampaignMonitorError):
    """HTTP 429 for longer than the retry policy's patience."""


class ServerError(CampaignMonitorError):
    """HTTP 5xx on every attempt."""


class ConnectionFailedError(CampaignMonitorError):
    """No response on any attempt (connection refused or reset, TLS failure, timeout)."""


class BadResponseError(ServerError):
    """A success status whose body is not the API's answer (an HTML page, cut-off or non-JSON body, wrong
    shape) on every attempt: a fault of the server or a proxy on the way, retried like a 5xx."""


class TokenRefreshError(UnauthorizedError):
    """CM's OAuth token endpoint refused the refresh token."""


_BY_STATUS: dict[int, type[CampaignMonitorError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitedError,
}


_SHOWN = 80
TRANSIENT = (ServerError, ConnectionFailedError, RateLimitedError)
"""Errors a later attempt may not meet (a bad response is a ``ServerError``): jobs retry them."""


class UnreadableRecordError(ValueError):
    """One record of a good response is not what CM documents (a missing email, an impossible date, a
    name that is not text): that record is rejected alone, the rest of its page is read."""

    def __init__(self, kind: str, email: str | None, field: str, value: Any, problem: str, record: Any) -> None:
        self.kind = kind
        self.record = record
        self.email = email
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f"{self.kind} {self.email!r}" if self.email else f"{self.kind} without an EmailAddress"
        shown = repr(self.value)
        shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
        return f"{who}: {self.field} {self.problem}: {shown}"


def error_for(status: int, body: Any, reason: str, endpoint: str) -> CampaignMonitorError:
    """The typed error for an HTTP error response (``body`` parsed JSON, or None when it was not JSON)."""
    code = message = result_data = None
    if isinstance(body, dict):
        code = body.get("Code") if isinstance(body.get("Code"), int) else None
        message = body.get("Message") if isinstance(body.get("Message"), str) else None
        result_data = body.get("ResultData") if isinstance(body.get("ResultData"), dict) else None
    kind = ServerError if status >= 500 else _BY_STATUS.get(status, CampaignMonitorError)
    return kind(message or reason or "error", endpoint=endpoint, status=status, code=code, result_data=result_data)
