"""Record writes, whichever way they go: sObject Collections (≤ 200 records a request) for small batches,
Bulk API 2.0 above the client's threshold, with the same per-record results either way.

Records that fail only because a row was locked are written again, with backoff, a few times; every
other rejection is final for this attempt and returned as it came (status code, message, fields).
"""

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cmsync.clients.salesforce.bulk import BulkRunner, KeptPace
from cmsync.clients.salesforce.results import RecordError, RecordResult
from cmsync.clients.salesforce.soql import literal
from cmsync.clients.salesforce.transport import Transport
from cmsync.config.names import check_salesforce_name
from cmsync.metrics import API_RETRIES

COLLECTION_LIMIT = 200
ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def json_value(value: Any) -> Any:
    """A record value as JSON: date-times in UTC, dates as ISO text, decimals as numbers."""
    if isinstance(value, datetime | date):
        return literal(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {name: json_value(item) for name, item in value.items()}
    return value


def _result(index: int, item: Mapping[str, Any], operation: str) -> RecordResult:
    errors = tuple(
        RecordError(
            str(error.get("statusCode") or error.get("errorCode") or "UNKNOWN"),
            str(error.get("message", "")),
            tuple(error.get("fields") or ()),
        )
        for error in item.get("errors") or ()
    )
    success = bool(item.get("success"))
    created = item.get("created") if operation == "upsert" else (operation == "insert") if success else None
    return RecordResult(index, item.get("id"), success, created if success else None, errors)


class RecordWriter:
    """Writes records through one transport: Bulk API 2.0 for more than ``bulk_threshold`` at once."""

    def __init__(
        self, transport: Transport, bulk_threshold: int, paces: Callable[[str], KeptPace] | None = None
    ) -> None:
        self.transport = transport
        self.bulk_threshold = bulk_threshold
        self.bulk = BulkRunner(transport, paces)

    def write(
        self,
        operation: str,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
        all_or_none: bool = False,
    ) -> list[RecordResult]:
        """One result per record, in input order; locked records are tried again before giving up."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown write operation {operation!r}")
        check_salesforce_name(sobject, "Salesforce object API name")
        if operation == "upsert":
            if not external_id_field:
                raise ValueError("an upsert needs its External ID field")
            check_salesforce_name(external_id_field, "Salesforce field API name")
        if operation in ("delete", "hardDelete"):
            bad = [record.get("Id") for record in records if not _RECORD_ID.match(str(record.get("Id", "")))]
            if bad:
                raise ValueError(f"not Salesforce record Ids: {bad[:3]}")
        results: list[RecordResult] = [RecordResult(index, None, False) for index in range(len(records))]
        pending = list(range(len(records)))
        for attempt in range(1, self.transport.retry.lock_attempts + 1):
            if not pending:
                break
            batch = [records[position] for position in pending]
            outcome = self._once(operation, sobject, batch, external_id_field, all_or_none)
            for position, result in zip(pending, outcome, strict=True):
                results[position] = replace(result, index=position)
            locked = [position for position, result in zip(pending, outcome, strict=True) if result.locked]
            if all_or_none and locked:
                locked = [
                    position
                    for position, result in zip(pending, outcome, strict=True)
                    if result.locked or result.status_codes == (ROLLED_BACK,)
                ]
            if not locked or attempt == self.transport.retry.lock_attempts:
                break
            API_RETRIES.labels(system="salesforce", reason="lock").inc()
            time.sleep(self.transport.retry.backoff(attempt))
            pending = locked
        return results

    def _once(
        self,
        operation: str,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None,
        all_or_none: bool,
    ) -> list[RecordResult]:
        if operation == "hardDelete" or (len(records) > self.bulk_threshold and not all_or_none):
            return self.bulk.ingest(operation, sobject, records, external_id_field)
        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_LIMIT):
            chunk = records[start : start + COLLECTION_LIMIT]
            items = self._collection(operation, sobject, chunk, external_id_field, all_or_none)
            results.extend(_result(start + offset, item, operation) for offset, item in enumerate(items))
        return results

    def _collection(
        self,
        operation: str,
        sobject: str,
        chunk: Sequence[Mapping[str, Any]],
        external_id_field: str | None,
        all_or_none: bool,
    ) -> list[dict[str, Any]]:
        transport = self.transport
        if operation == "delete":
            params = {"ids": ",".join(str(record["Id"]) for record in chunk), "allOrNone": str(all_or_none).lower()}
            items: list[dict[str, Any]] = transport.call(
                "collections", "DELETE", transport.data_path("composite/sobjects"), params=params
            ).json()
            return items
        body = {
            "allOrNone": all_or_none,
            "records": [
                {"attributes": {"type": sobject}, **{name: json_value(value) for name, value in record.items()}}
                for record in chunk
            ],
        }
        if operation == "upsert":
            path = transport.data_path(f"composite/sobjects/{sobject}/{external_id_field}")
            response = transport.call("collections", "PATCH", path, json=body)
        elif operation == "update":
            response = transport.call("collections", "PATCH", transport.data_path("composite/sobjects"), json=body)
        else:
            response = transport.call(
                "collections", "POST", transport.data_path("composite/sobjects"), json=body, idempotent=False
            )
        items = response.json()
        return items
