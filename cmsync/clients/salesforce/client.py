"""The Salesforce client cmsync uses: lazy queries with safe literals, getUpdated/getDeleted, and record
writes through sObject Collections or Bulk API 2.0 (``writes``), every call through one ``Transport``
(sign-in, retries, API usage, metrics).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from cmsync.clients.salesforce.auth import Authenticator, JwtBearerAuth, RefreshTokenAuth, SignIn
from cmsync.clients.salesforce.bulk import KeptPace
from cmsync.clients.salesforce.errors import SalesforceRequestError
from cmsync.clients.salesforce.results import RecordResult
from cmsync.clients.salesforce.retry import PollPolicy, RetryPolicy
from cmsync.clients.salesforce.transport import ApiUsage, Transport
from cmsync.clients.salesforce.writes import RecordWriter
from cmsync.config.model import SalesforceJwtAuth, SalesforceSettings
from cmsync.config.names import check_salesforce_name


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
        paces: Callable[[str], KeptPace] | None = None,
    ) -> None:
        """``paces`` keeps each object's Bulk ingest pace for the next process (see ``BulkRunner``)."""
        self.transport = Transport(
            login_url,
            auth,
            api_version=api_version,
            timeout=timeout,
            ca_file=ca_file,
            retry=retry,
            poll=poll,
            session=session,
        )
        self.bulk_threshold = bulk_threshold
        self.writer = RecordWriter(self.transport, bulk_threshold, paces)

    @classmethod
    def from_settings(
        cls,
        settings: SalesforceSettings,
        *,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        session: requests.Session | None = None,
        paces: Callable[[str], KeptPace] | None = None,
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
            paces=paces,
        )

    def close(self) -> None:
        self.transport.close()

    def __repr__(self) -> str:
        transport = self.transport
        return (
            f"SalesforceClient({transport.login_url!r}, api_version={transport.api_version!r}, auth={transport.auth!r})"
        )

    @property
    def user_id(self) -> str:
        """The integration user's Id (records it writes carry it as LastModifiedById)."""
        return self.transport.sign_in().user_id

    def sign_in(self, stale: SignIn | None = None) -> SignIn:
        """The current sign-in, or a new one when ``stale`` was refused (the Pub/Sub client signs its calls)."""
        return self.transport.sign_in(stale)

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's daily API requests as of the last response (None before the first)."""
        return self.transport.api_usage

    # Reading.

    def _get(
        self,
        endpoint: str,
        resource: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET a resource of the REST API's data path (``query``, ``sobjects/…``)."""
        return self.transport.call(endpoint, "GET", self.transport.data_path(resource), params=params, headers=headers)

    def query(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The records of ``soql`` one by one, fetching each page of ``nextRecordsUrl`` only when needed.

        Build ``soql`` with ``cmsync.clients.salesforce.soql`` (``literal`` for every value).
        """
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        resource = "queryAll" if include_deleted else "query"
        response = self._get("query", resource, {"q": soql}, headers)
        while True:
            body = response.json()
            for record in body.get("records", []):
                yield plain(record)
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            response = self.transport.call("query", "GET", next_url, headers=headers)

    def count(self, soql: str) -> int:
        """``totalSize`` of a query, e.g. ``SELECT COUNT() FROM …``."""
        total: int = self._get("query", "query", {"q": soql}).json()["totalSize"]
        return total

    def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> dict[str, Any] | None:
        """One record by Id (None when it does not exist or is deleted)."""
        check_salesforce_name(sobject, "Salesforce object API name")
        params = {"fields": ",".join(fields)} if fields else None
        try:
            response = self._get("sobject", f"sobjects/{sobject}/{record_id}", params)
        except SalesforceRequestError as error:
            if error.status == 404:
                return None
            raise
        return plain(response.json())

    def describe(self, sobject: str) -> dict[str, Any]:
        check_salesforce_name(sobject, "Salesforce object API name")
        described: dict[str, Any] = self._get("describe", f"sobjects/{sobject}/describe").json()
        return described

    def limits(self) -> dict[str, Any]:
        """The org's limits (``DailyApiRequests``, ``DailyBulkApiBatches`` …) as ``{name: {Max, Remaining}}``."""
        limits: dict[str, Any] = self._get("limits", "limits").json()
        return limits

    def updated(self, sobject: str, start: datetime, end: datetime) -> UpdatedRecords:
        """Ids of records changed (by SystemModstamp) between ``start`` and ``end`` (at most 30 days back)."""
        check_salesforce_name(sobject, "Salesforce object API name")
        params = {"start": _iso(start), "end": _iso(end)}
        body = self._get("replication", f"sobjects/{sobject}/updated/", params).json()
        return UpdatedRecords(list(body["ids"]), parse_datetime(body["latestDateCovered"]))

    def deleted(self, sobject: str, start: datetime, end: datetime) -> DeletedRecords:
        """Records deleted between ``start`` and ``end``; if ``earliest_date_available`` is after ``start``,
        some deletes are no longer known and a full comparison is needed."""
        check_salesforce_name(sobject, "Salesforce object API name")
        params = {"start": _iso(start), "end": _iso(end)}
        body = self._get("replication", f"sobjects/{sobject}/deleted/", params).json()
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
