"""The Salesforce client cmsync uses: REST over ``requests`` with sign-in, one re-sign-in per call on
INVALID_SESSION_ID, retries with backoff and jitter, API usage from ``Sforce-Limit-Info``, lazy queries,
getUpdated/getDeleted, and record writes through sObject Collections or Bulk API 2.0 (``writes``).

Every call is counted in Prometheus by endpoint class (auth, query, sobject, collections, bulk_job,
bulk_query, describe, limits, replication) and outcome; the daily API usage is a gauge.
"""

import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from cmsync import __version__
from cmsync.clients.salesforce.auth import Authenticator, JwtBearerAuth, RefreshTokenAuth, SignIn
from cmsync.clients.salesforce.errors import (
    SalesforceAuthError,
    SalesforceBadResponseError,
    SalesforceError,
    SalesforceLimitError,
    SalesforceRequestError,
    SalesforceUnavailableError,
)
from cmsync.clients.salesforce.results import RecordResult
from cmsync.clients.salesforce.retry import PollPolicy, RetryPolicy
from cmsync.clients.salesforce.writes import RecordWriter
from cmsync.config.model import SalesforceJwtAuth, SalesforceSettings
from cmsync.config.names import check_salesforce_name
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


@dataclass(frozen=True)
class UpdatedRecords:
    """getUpdated: Ids changed in the window, and the end of the window Salesforce covered."""

    ids: list[str]
    latest_date_covered: datetime


@dataclass(frozen=True)
class DeletedRecords:
    """getDeleted: ``(Id, deleted at)`` pairs, and the window Salesforce could cover."""

    records: list[tuple[str, datetime]]
    earliest_date_available: datetime
    latest_date_covered: datetime


def parse_datetime(text: str) -> datetime:
    """A Salesforce date-time (``2024-05-01T12:00:00.000+0000``) as an aware datetime."""
    return datetime.fromisoformat(text)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A query record without its ``attributes`` (at every level of parent relationships)."""
    return {
        name: plain(value) if isinstance(value, Mapping) else value
        for name, value in record.items()
        if name != "attributes"
    }


class SalesforceClient:
    """One org, one integration user; safe to share between threads."""

    def __init__(
        self,
        login_url: str,
        auth: Authenticator,
        *,
        api_version: str = "61.0",
        timeout: float = 60.0,
        ca_file: Path | None = None,
        bulk_threshold: int = 2000,
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
        self.bulk_threshold = bulk_threshold
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
        self.writer = RecordWriter(self)

    @classmethod
    def from_settings(
        cls,
        settings: SalesforceSettings,
        *,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        session: requests.Session | None = None,
    ) -> "SalesforceClient":
        """The client for the ``salesforce`` section of the settings."""
        auth: Authenticator
        if isinstance(settings.auth, SalesforceJwtAuth):
            auth = JwtBearerAuth.from_file(
                settings.login_url, settings.auth.client_id, settings.auth.username, settings.auth.private_key_file
            )
        else:
            auth = RefreshTokenAuth(
                settings.login_url, settings.auth.client_id, settings.auth.client_secret, settings.auth.refresh_token
            )
        return cls(
            settings.login_url,
            auth,
            api_version=settings.api_version,
            timeout=settings.timeout.total_seconds(),
            ca_file=settings.ca_file,
            bulk_threshold=settings.bulk_threshold,
            retry=retry,
            poll=poll,
            session=session,
        )

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"SalesforceClient({self.login_url!r}, api_version={self.api_version!r}, auth={self.auth!r})"

    # Signing in.

    def _request_token(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        """Post to the token endpoint, retrying server and connection errors, and parse its answer."""
        for attempt in range(1, self.retry.attempts + 1):
            started = time.perf_counter()
            try:
                response = self.session.post(url, data=form, timeout=self.timeout, verify=self.verify)
            except requests.RequestException as failure:
                self._count("auth", "connection_error", started)
                if attempt == self.retry.attempts:
                    raise SalesforceUnavailableError(type(failure).__name__, endpoint="auth") from None
                self._wait("auth", "connection", self.retry.backoff(attempt))
                continue
            if response.status_code >= 500 and attempt < self.retry.attempts:
                self._count("auth", "server_error", started)
                self._wait("auth", "server_error", self.retry.backoff(attempt))
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
        raise SalesforceUnavailableError("no attempt made", endpoint="auth")

    def _sign_in(self, stale: SignIn | None = None) -> SignIn:
        """The current sign-in; a new one when there is none or ``stale`` (just refused) is still current."""
        with self._sign_in_lock:
            if self._signed_in is None or self._signed_in is stale:
                self._signed_in = self.auth.sign_in(self._request_token)
                _log.info("signed in to salesforce", instance_url=self._signed_in.instance_url)
            return self._signed_in

    @property
    def user_id(self) -> str:
        """The integration user's Id (records it writes carry it as LastModifiedById)."""
        return self._sign_in().user_id

    @property
    def instance_url(self) -> str:
        return self._sign_in().instance_url

    def sign_in(self, stale: SignIn | None = None) -> SignIn:
        """The current sign-in, or a new one when ``stale`` was refused (the Pub/Sub client signs its calls)."""
        return self._sign_in(stale)

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
        signed_in = self._sign_in()
        failures = limit_hits = 0
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
                failures += 1
                if failures >= self.retry.attempts or not (idempotent or _nothing_sent(failure)):
                    raise SalesforceUnavailableError(
                        REDACTOR.text(f"{type(failure).__name__}: {failure}"), endpoint=endpoint
                    ) from None
                self._wait(endpoint, "connection", self.retry.backoff(failures))
                continue
            self._note_usage(response)
            status = response.status_code
            if status < 300:
                problem = None if stream else _unreadable_answer(response, request_headers)
                if problem is None:
                    self._count(endpoint, "ok", started)
                    return response
                self._count(endpoint, "bad_response", started)
                failures += 1
                if failures >= self.retry.attempts or not idempotent:
                    raise SalesforceBadResponseError(f"{method} {path}: {problem}", endpoint=endpoint, status=status)
                self._wait(endpoint, "bad_response", self.retry.backoff(failures))
                continue
            code, message = _first_error(response)
            if status == 401 and code in ("INVALID_SESSION_ID", None) and not signed_in_again:
                self._count(endpoint, "session_expired", started)
                API_RETRIES.labels(system=SYSTEM, reason="session_expired").inc()
                _log.info("salesforce session expired; signing in again", endpoint=endpoint)
                signed_in_again = True
                signed_in = self._sign_in(stale=signed_in)
                continue
            if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
                self._count(endpoint, "rate_limited", started)
                limit_hits += 1
                if limit_hits >= self.retry.limit_attempts:
                    raise SalesforceLimitError(message, endpoint=endpoint, status=status, error_code=code)
                self._wait(endpoint, "rate_limited", self.retry.limit_backoff(limit_hits))
                continue
            if status >= 500 or code == "UNABLE_TO_LOCK_ROW":
                locked = code == "UNABLE_TO_LOCK_ROW"
                self._count(endpoint, "locked" if locked else "server_error", started)
                failures += 1
                retryable = idempotent or locked or status == 503
                if failures >= self.retry.attempts or not retryable:
                    error = SalesforceRequestError if locked else SalesforceUnavailableError
                    raise error(message, endpoint=endpoint, status=status, error_code=code)
                self._wait(endpoint, "lock" if locked else "server_error", self.retry.backoff(failures))
                continue
            self._count(endpoint, "error", started)
            error_type: type[SalesforceError] = SalesforceAuthError if status == 401 else SalesforceRequestError
            raise error_type(message, endpoint=endpoint, status=status, error_code=code)

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

    @staticmethod
    def _wait(endpoint: str, reason: str, seconds: float) -> None:
        API_RETRIES.labels(system=SYSTEM, reason=reason).inc()
        _log.warning("salesforce call retried", endpoint=endpoint, reason=reason, wait_seconds=round(seconds, 3))
        time.sleep(seconds)

    def bulk_job_info(self, endpoint: str, job_path: str) -> dict[str, Any]:
        """A Bulk job's status; one whose ``state`` is not a Bulk API 2.0 state is a bad answer, asked again
        like a 5xx and raised as ``SalesforceBadResponseError`` when it persists."""
        for attempt in range(1, self.retry.attempts + 1):
            response = self.call(endpoint, "GET", job_path)
            info = response.json() if response.content else None
            state = info.get("state") if isinstance(info, dict) else None
            if state in BULK_JOB_STATES:
                return dict(info)
            API_CALLS.labels(system=SYSTEM, endpoint=endpoint, outcome="bad_response").inc()
            if attempt == self.retry.attempts:
                raise SalesforceBadResponseError(f"GET {job_path}: unknown Bulk job state {state!r}", endpoint=endpoint)
            self._wait(endpoint, "bad_response", self.retry.backoff(attempt))
        raise SalesforceBadResponseError("no attempt made", endpoint=endpoint)

    def data_path(self, resource: str) -> str:
        return f"/services/data/v{self.api_version}/{resource}"

    # Reading.

    def query(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The records of ``soql`` one by one, fetching each page of ``nextRecordsUrl`` only when needed.

        Build ``soql`` with ``cmsync.clients.salesforce.soql`` (``literal`` for every value).
        """
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        resource = "queryAll" if include_deleted else "query"
        response = self.call("query", "GET", self.data_path(resource), params={"q": soql}, headers=headers)
        while True:
            body = response.json()
            for record in body.get("records", []):
                yield plain(record)
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            response = self.call("query", "GET", next_url, headers=headers)

    def count(self, soql: str) -> int:
        """``totalSize`` of a query, e.g. ``SELECT COUNT() FROM …``."""
        total: int = self.call("query", "GET", self.data_path("query"), params={"q": soql}).json()["totalSize"]
        return total

    def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> dict[str, Any] | None:
        """One record by Id (None when it does not exist or is deleted)."""
        check_salesforce_name(sobject, "Salesforce object API name")
        params = {"fields": ",".join(fields)} if fields else None
        try:
            response = self.call("sobject", "GET", self.data_path(f"sobjects/{sobject}/{record_id}"), params=params)
        except SalesforceRequestError as error:
            if error.status == 404:
                return None
            raise
        return plain(response.json())

    def describe(self, sobject: str) -> dict[str, Any]:
        check_salesforce_name(sobject, "Salesforce object API name")
        described: dict[str, Any] = self.call("describe", "GET", self.data_path(f"sobjects/{sobject}/describe")).json()
        return described

    def limits(self) -> dict[str, Any]:
        """The org's limits (``DailyApiRequests``, ``DailyBulkApiBatches`` …) as ``{name: {Max, Remaining}}``."""
        limits: dict[str, Any] = self.call("limits", "GET", self.data_path("limits")).json()
        return limits

    def updated(self, sobject: str, start: datetime, end: datetime) -> UpdatedRecords:
        """Ids of records changed (by SystemModstamp) between ``start`` and ``end`` (at most 30 days back)."""
        check_salesforce_name(sobject, "Salesforce object API name")
        params = {"start": _iso(start), "end": _iso(end)}
        body = self.call("replication", "GET", self.data_path(f"sobjects/{sobject}/updated/"), params=params).json()
        return UpdatedRecords(list(body["ids"]), parse_datetime(body["latestDateCovered"]))

    def deleted(self, sobject: str, start: datetime, end: datetime) -> DeletedRecords:
        """Records deleted between ``start`` and ``end``; if ``earliest_date_available`` is after ``start``,
        some deletes are no longer known and a full comparison is needed."""
        check_salesforce_name(sobject, "Salesforce object API name")
        params = {"start": _iso(start), "end": _iso(end)}
        body = self.call("replication", "GET", self.data_path(f"sobjects/{sobject}/deleted/"), params=params).json()
        return DeletedRecords(
            [(item["id"], parse_datetime(item["deletedDate"])) for item in body["deletedRecords"]],
            parse_datetime(body["earliestDateAvailable"]),
            parse_datetime(body["latestDateCovered"]),
        )

    def bulk_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, str]]:
        """The rows of a Bulk API 2.0 query job (CSV values as text), page by page: for large backfills."""
        return self.writer.bulk.query(soql, include_deleted=include_deleted)

    # Writing: each returns one RecordResult per input record, in input order.

    def insert(
        self, sobject: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        return self.writer.write("insert", sobject, records, all_or_none=all_or_none)

    def update(
        self, sobject: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Each record carries its ``Id``."""
        return self.writer.write("update", sobject, records, all_or_none=all_or_none)

    def upsert(
        self, sobject: str, external_id_field: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Insert or update by an External ID field; the idempotent write cmsync uses for everything it imports."""
        return self.writer.write(
            "upsert", sobject, records, external_id_field=external_id_field, all_or_none=all_or_none
        )

    def delete(self, sobject: str, ids: Sequence[str], *, hard: bool = False) -> list[RecordResult]:
        """Delete by Id (to the recycle bin; ``hard`` skips it, through Bulk API 2.0 hardDelete)."""
        records = [{"Id": record_id} for record_id in ids]
        return self.writer.write("hardDelete" if hard else "delete", sobject, records)
