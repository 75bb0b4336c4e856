"""HTTP to Salesforce: one pooled session, sign-in (one re-sign-in per call on INVALID_SESSION_ID),
retries (``cmsync.clients.retry``), typed errors, and API usage from ``Sforce-Limit-Info``.

Every call is counted in Prometheus by endpoint class (auth, query, sobject, collections, bulk_job,
bulk_query, describe, limits, replication) and outcome; the daily API usage is a gauge. The client, its
record writer and its Bulk runner all call through one transport.
"""

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from cmsync import __version__
from cmsync.clients.retry import Retries
from cmsync.clients.salesforce.auth import Authenticator, SignIn
from cmsync.clients.salesforce.errors import (
    SalesforceAuthError,
    SalesforceBadResponseError,
    SalesforceError,
    SalesforceLimitError,
    SalesforceRequestError,
    SalesforceUnavailableError,
)
from cmsync.clients.salesforce.retry import PollPolicy, RetryPolicy
from cmsync.logs import get_logger
from cmsync.metrics import API_CALL_SECONDS, API_CALLS, API_RETRIES, SALESFORCE_API_USAGE
from cmsync.redaction import REDACTOR

SYSTEM = "salesforce"
BULK_JOB_STATES = frozenset({"Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"})
"""The states of a Bulk API 2.0 ingest or query job."""
CALL_OPTIONS = "client=cmsync"
"""Every call names cmsync as its client: change events carry it in ``changeOrigin``, so cmsync knows its own
writes from a person's (DESIGN.md §5)."""
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_log = get_logger(__name__)


@dataclass(frozen=True)
class ApiUsage:
    """The org's daily API requests as of the last response: used of limit."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def _first_error(response: requests.Response) -> tuple[str | None, str]:
    """Salesforce's ``errorCode`` and message of an error response (an array of errors), if it has one."""
    try:
        body = response.json()
    except ValueError:
        return None, REDACTOR.text(response.reason or f"HTTP {response.status_code}")
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("errorCode"), REDACTOR.text(str(body[0].get("message", "")))
    if isinstance(body, dict) and "error" in body:
        return str(body["error"]), REDACTOR.text(str(body.get("error_description", "")))
    return None, REDACTOR.text(response.reason or f"HTTP {response.status_code}")


def _unreadable_answer(response: requests.Response, request_headers: Mapping[str, str]) -> str | None:
    """Why a success answer to a call that asked for JSON is not JSON (an HTML page, a cut-off body), or None."""
    if not response.content or "json" not in request_headers.get("Accept", "application/json"):
        return None
    try:
        response.json()
    except ValueError:
        content_type = response.headers.get("Content-Type") or "no content type"
        return f"the body is not JSON ({content_type}, {len(response.content)} bytes)"
    return None


def _nothing_sent(failure: requests.RequestException) -> bool:
    """Whether a connection failure happened before the request went out (so even a POST may be re-sent)."""
    if isinstance(failure, requests.ConnectTimeout):
        return True
    reason = getattr(failure.args[0], "reason", None) if failure.args else None
    return isinstance(reason, NewConnectionError)


class Transport:
    """Sends one Salesforce API call for one org and integration user; safe to share between threads."""

    def __init__(
        self,
        login_url: str,
        auth: Authenticator,
        *,
        api_version: str = "61.0",
        timeout: float = 60.0,
        ca_file: Path | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.auth = auth
        self.api_version = api_version
        self.timeout = (min(10.0, timeout), timeout)
        self.verify: str | bool = str(ca_file) if ca_file is not None else True
        self.retry = retry or RetryPolicy()
        self.poll = poll or PollPolicy()
        """How the Bulk jobs sent through this transport are polled."""
        self.api_usage: ApiUsage | None = None
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {"User-Agent": f"cmsync/{__version__}", "Accept": "application/json", "Sforce-Call-Options": CALL_OPTIONS}
        )
        self._sign_in_lock = threading.Lock()
        self._signed_in: SignIn | None = None

    def close(self) -> None:
        self.session.close()

    def data_path(self, resource: str) -> str:
        return f"/services/data/v{self.api_version}/{resource}"

    # Signing in.

    def _request_token(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        """Post to the token endpoint, retrying server and connection errors, and parse its answer."""
        retries = Retries(self.retry, SYSTEM, "auth")
        while True:
            started = time.perf_counter()
            try:
                response = self.session.post(url, data=form, timeout=self.timeout, verify=self.verify)
            except requests.RequestException as failure:
                self._count("auth", "connection_error", started)
                if not retries.failed():
                    raise SalesforceUnavailableError(type(failure).__name__, endpoint="auth") from None
                retries.wait("connection")
                continue
            if response.status_code >= 500 and retries.failed():
                self._count("auth", "server_error", started)
                retries.wait("server_error")
                continue
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if response.ok and isinstance(answer, dict) and answer.get("access_token"):
                self._count("auth", "ok", started)
                return answer
            self._count("auth", "error", started)
            error, description = _first_error(response)
            raise SalesforceAuthError(
                description or "sign-in refused", endpoint="auth", status=response.status_code, error_code=error
            )

    def sign_in(self, stale: SignIn | None = None) -> SignIn:
        """The current sign-in; a new one when there is none or ``stale`` (just refused) is still current."""
        with self._sign_in_lock:
            if self._signed_in is None or self._signed_in is stale:
                self._signed_in = self.auth.sign_in(self._request_token)
                _log.info("signed in to salesforce", instance_url=self._signed_in.instance_url)
            return self._signed_in

    # One call.

    def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        stream: bool = False,
    ) -> requests.Response:
        """One API call (``path`` relative to the instance); returns the response or raises a SalesforceError.
        A file as ``data`` is streamed (from its start on every attempt); ``stream`` leaves the body unread.

        Not idempotent calls (inserts, job creation) are re-sent only when Salesforce cannot have acted
        on them: 503, a lock, a limit, or a connection that was never made.
        """
        signed_in = self.sign_in()
        retries = Retries(self.retry, SYSTEM, endpoint)
        limit_hits = 0
        signed_in_again = False
        while True:
            url = f"{signed_in.instance_url}{path}"
            request_headers = {
                "Authorization": f"Bearer {signed_in.access_token.get_secret_value()}",
                **(headers or {}),
            }
            started = time.perf_counter()
            if data is not None and not isinstance(data, bytes):
                data.seek(0)
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=request_headers,
                    timeout=self.timeout,
                    verify=self.verify,
                    stream=stream,
                )
            except requests.RequestException as failure:
                self._count(endpoint, "connection_error", started)
                if not retries.failed(retryable=idempotent or _nothing_sent(failure)):
                    raise SalesforceUnavailableError(
                        REDACTOR.text(f"{type(failure).__name__}: {failure}"), endpoint=endpoint
                    ) from None
                retries.wait("connection")
                continue
            self._note_usage(response)
            status = response.status_code
            if status < 300:
                problem = None if stream else _unreadable_answer(response, request_headers)
                if problem is None:
                    self._count(endpoint, "ok", started)
                    return response
                self._count(endpoint, "bad_response", started)
                if not retries.failed(retryable=idempotent):
                    raise SalesforceBadResponseError(f"{method} {path}: {problem}", endpoint=endpoint, status=status)
                retries.wait("bad_response")
                continue
            code, message = _first_error(response)
            if status == 401 and code in ("INVALID_SESSION_ID", None) and not signed_in_again:
                self._count(endpoint, "session_expired", started)
                API_RETRIES.labels(system=SYSTEM, reason="session_expired").inc()
                _log.info("salesforce session expired; signing in again", endpoint=endpoint)
                signed_in_again = True
                signed_in = self.sign_in(stale=signed_in)
                continue
            if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
                self._count(endpoint, "rate_limited", started)
                limit_hits += 1
                if limit_hits >= self.retry.limit_attempts:
                    raise SalesforceLimitError(message, endpoint=endpoint, status=status, error_code=code)
                retries.wait("rate_limited", self.retry.limit_backoff(limit_hits))
                continue
            if status >= 500 or code == "UNABLE_TO_LOCK_ROW":
                locked = code == "UNABLE_TO_LOCK_ROW"
                self._count(endpoint, "locked" if locked else "server_error", started)
                if not retries.failed(retryable=idempotent or locked or status == 503):
                    error = SalesforceRequestError if locked else SalesforceUnavailableError
                    raise error(message, endpoint=endpoint, status=status, error_code=code)
                retries.wait("lock" if locked else "server_error")
                continue
            self._count(endpoint, "error", started)
            error_type: type[SalesforceError] = SalesforceAuthError if status == 401 else SalesforceRequestError
            raise error_type(message, endpoint=endpoint, status=status, error_code=code)

    def bulk_job_info(self, endpoint: str, job_path: str) -> dict[str, Any]:
        """A Bulk job's status; one whose ``state`` is not a Bulk API 2.0 state is a bad answer, asked again
        like a 5xx and raised as ``SalesforceBadResponseError`` when it persists."""
        retries = Retries(self.retry, SYSTEM, endpoint)
        while True:
            response = self.call(endpoint, "GET", job_path)
            info = response.json() if response.content else None
            state = info.get("state") if isinstance(info, dict) else None
            if state in BULK_JOB_STATES:
                return dict(info)
            API_CALLS.labels(system=SYSTEM, endpoint=endpoint, outcome="bad_response").inc()
            if not retries.failed():
                raise SalesforceBadResponseError(f"GET {job_path}: unknown Bulk job state {state!r}", endpoint=endpoint)
            retries.wait("bad_response")

    def _note_usage(self, response: requests.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = ApiUsage(int(match.group(1)), int(match.group(2)))
            SALESFORCE_API_USAGE.labels(kind="used").set(self.api_usage.used)
            SALESFORCE_API_USAGE.labels(kind="limit").set(self.api_usage.limit)

    @staticmethod
    def _count(endpoint: str, outcome: str, started: float) -> None:
        API_CALLS.labels(system=SYSTEM, endpoint=endpoint, outcome=outcome).inc()
        API_CALL_SECONDS.labels(system=SYSTEM).observe(time.perf_counter() - started)
