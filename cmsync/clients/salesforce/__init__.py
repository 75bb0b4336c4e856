"""The Salesforce client: sign-in (JWT bearer or refresh token), lazy SOQL queries with safe literals,
record writes through sObject Collections or Bulk API 2.0 with per-record results, retries, API usage."""

from cmsync.clients.salesforce.auth import JwtBearerAuth, RefreshTokenAuth, SignIn, jwt_audience
from cmsync.clients.salesforce.client import DeletedRecords, SalesforceClient, UpdatedRecords, plain
from cmsync.clients.salesforce.errors import (
    SalesforceAuthError,
    SalesforceBulkError,
    SalesforceError,
    SalesforceLimitError,
    SalesforceRequestError,
    SalesforceUnavailableError,
)
from cmsync.clients.salesforce.results import LOCKED, NOT_PROCESSED, RecordError, RecordResult
from cmsync.clients.salesforce.retry import PollPolicy, RetryPolicy
from cmsync.clients.salesforce.soql import like, literal, literal_list, quote, select
from cmsync.clients.salesforce.transport import ApiUsage

__all__ = [
    "LOCKED",
    "NOT_PROCESSED",
    "ApiUsage",
    "DeletedRecords",
    "JwtBearerAuth",
    "PollPolicy",
    "RecordError",
    "RecordResult",
    "RefreshTokenAuth",
    "RetryPolicy",
    "SalesforceAuthError",
    "SalesforceBulkError",
    "SalesforceClient",
    "SalesforceError",
    "SalesforceLimitError",
    "SalesforceRequestError",
    "SalesforceUnavailableError",
    "SignIn",
    "UpdatedRecords",
    "jwt_audience",
    "like",
    "literal",
    "literal_list",
    "plain",
    "quote",
    "select",
]
