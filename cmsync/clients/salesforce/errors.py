"""Typed errors of Salesforce calls, carrying Salesforce's ``errorCode`` and message (never a credential)."""


class SalesforceError(Exception):
    """A Salesforce call failed: the endpoint class, HTTP status, and Salesforce's error code and message."""

    def __init__(
        self, message: str, *, endpoint: str, status: int | None = None, error_code: str | None = None
    ) -> None:
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.error_code = error_code
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f" {self.error_code}" if self.error_code else ""
        return f"Salesforce {self.endpoint}: {status}{code}: {self.message}"


class SalesforceAuthError(SalesforceError):
    """The token endpoint refused to sign in (``error_code`` is OAuth's ``error``, e.g. ``invalid_grant``)."""


class SalesforceRequestError(SalesforceError):
    """Salesforce refused the request itself (bad SOQL, unknown field or object, malformed body): not retried."""


class SalesforceLimitError(SalesforceError):
    """REQUEST_LIMIT_EXCEEDED persisted through the back-off: the org's API allowance (or its concurrency
    limit) is spent. Callers should slow down and try later, not fail records."""


class SalesforceUnavailableError(SalesforceError):
    """5xx answers or connection failures persisted through every retry."""


class SalesforceBadResponseError(SalesforceUnavailableError):
    """A success status whose body is not the answer the call documents (not JSON, an unknown Bulk job
    state) on every attempt: a fault of Salesforce or a proxy on the way, retried like a 5xx."""


class SalesforceBulkError(SalesforceError):
    """A Bulk API 2.0 query job failed, was aborted or did not finish in time."""


TRANSIENT = (SalesforceUnavailableError, SalesforceLimitError)
"""Errors a later attempt may not meet (a bad response is ``SalesforceUnavailableError``): jobs retry them."""
