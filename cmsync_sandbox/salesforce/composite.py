"""sObject Collections: create, update, upsert by external ID, delete and retrieve of up to 200 records
per request, answered with HTTP 200 and one result per record in request order (even when some fail),
and rolled back whole when ``allOrNone`` is true."""

from collections.abc import Callable
from functools import partial
from typing import Any

from werkzeug.wrappers import Response

from cmsync_sandbox.routing import Route
from cmsync_sandbox.salesforce.api import API, Call, json_response
from cmsync_sandbox.salesforce.errors import ApiError, Problem, not_found
from cmsync_sandbox.salesforce.ids import normalize_id
from cmsync_sandbox.salesforce.rest import record_json
from cmsync_sandbox.salesforce.schema import Field
from cmsync_sandbox.salesforce.store import RecordStore, Table
from cmsync_sandbox.salesforce.writes import Outcome, Writer, duplicate_keys

LIMIT = 200
Step = Callable[[], Outcome] | Problem


def _too_many() -> ApiError:
    return ApiError(
        400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {LIMIT} records into this call"
    )


def _body(call: Call) -> tuple[list[dict[str, Any]], bool]:
    body = call.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array")
    records = body["records"]
    if len(records) > LIMIT:
        raise _too_many()
    if not all(isinstance(record, dict) for record in records):
        raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
    return records, bool(body.get("allOrNone", False))


def _record_type(record: dict[str, Any]) -> str:
    attributes = record.get("attributes")
    kind = attributes.get("type") if isinstance(attributes, dict) else None
    if not kind:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    return str(kind)


def _keys(key: Field, records: list[dict[str, Any]]) -> list[Any]:
    """Each record's value of the external ID field ``key`` (its name in any case), or None."""
    return [
        next((value for name, value in record.items() if name.lower() == key.name.lower()), None) for record in records
    ]


def _ids(call: Call) -> list[str]:
    """The ``ids`` query parameter, split on commas."""
    return [record_id for record_id in call.request.args.get("ids", "").split(",") if record_id]


class Collections:
    """The sObject Collections resources of one org, one handler per endpoint."""

    def __init__(self, store: RecordStore, writer: Writer) -> None:
        self.store = store
        self.writer = writer

    def routes(self) -> list[Route]:
        """The Collections routes, under /services/data/vXX.X."""
        collections = f"{API}/composite/sobjects"
        return [
            Route(collections, ("POST",), "POST /composite/sobjects", "rest", self.create),
            Route(collections, ("PATCH",), "PATCH /composite/sobjects", "rest", self.update),
            Route(collections, ("DELETE",), "DELETE /composite/sobjects", "rest", self.delete),
            Route(f"{collections}/<sobject>", ("GET",), "GET /composite/sobjects/{object}", "rest", self.retrieve),
            Route(
                f"{collections}/<sobject>/<field_name>",
                ("PATCH",),
                "PATCH /composite/sobjects/{object}/{field}",
                "rest",
                self.upsert,
            ),
        ]

    def _table(self, name: str) -> Table:
        table = self.store.table(name)
        if table is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return table

    def _checked(self, records: list[dict[str, Any]]) -> list[Table]:
        """The table of each record (by its ``attributes.type``), each record checked as the request is."""
        tables = [self._table(_record_type(record)) for record in records]
        for table, record in zip(tables, records, strict=True):
            self.writer.check_request(table, record)
        return tables

    def _answer(self, steps: list[Step], all_or_none: bool, *, upsert: bool = False) -> Response:
        outcomes = self.writer.batch(steps, all_or_none=all_or_none)
        return json_response([outcome.as_json(upsert=upsert) for outcome in outcomes])

    def create(self, call: Call) -> Response:
        records, all_or_none = _body(call)
        tables = self._checked(records)
        steps: list[Step] = [
            partial(self.writer.insert, table, record, call.user_id)
            for table, record in zip(tables, records, strict=True)
        ]
        return self._answer(steps, all_or_none)

    def update(self, call: Call) -> Response:
        records, all_or_none = _body(call)
        tables = self._checked(records)
        steps: list[Step] = []
        for table, record in zip(tables, records, strict=True):
            record_id = next((value for name, value in record.items() if name.lower() == "id"), None)
            steps.append(partial(self.writer.update, table, record_id, record, call.user_id))
        return self._answer(steps, all_or_none)

    def upsert(self, call: Call, sobject: str, field_name: str) -> Response:
        table = self._table(sobject)
        key = self.writer.external_key(table, field_name)
        records, all_or_none = _body(call)
        for record in records:
            if _record_type(record).lower() != table.sobject.name.lower():
                raise ApiError(400, "INVALID_TYPE", f"Every record of this upsert must be a {table.sobject.name}")
            self.writer.check_request(table, record)
        keys = _keys(key, records)
        duplicates = duplicate_keys(key, keys)
        steps: list[Step] = [
            Problem("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {keys[position]}", (key.name,))
            if position in duplicates
            else partial(self.writer.upsert, table, key, record, call.user_id)
            for position, record in enumerate(records)
        ]
        return self._answer(steps, all_or_none, upsert=True)

    def delete(self, call: Call) -> Response:
        ids = _ids(call)
        if not ids:
            raise ApiError(400, "MISSING_ARGUMENT", "ids is required")
        if len(ids) > LIMIT:
            raise _too_many()
        all_or_none = call.request.args.get("allOrNone", "false").lower() == "true"
        steps: list[Step] = [partial(self.writer.delete, record_id, call.user_id) for record_id in ids]
        return self._answer(steps, all_or_none)

    def retrieve(self, call: Call, sobject: str) -> Response:
        table = self.store.table(sobject)
        if table is None:
            raise not_found()
        ids = _ids(call)
        if len(ids) > 2000:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records in one call")
        names = [name for name in call.request.args.get("fields", "").split(",") if name]
        if not names:
            raise ApiError(400, "MISSING_ARGUMENT", "fields is required")
        records: list[Any] = []
        for record_id in ids:
            normalized = normalize_id(record_id)
            live = normalized is not None and table.live(normalized) is not None
            records.append(record_json(table, normalized, call.version, names) if live and normalized else None)
        return json_response(records)
