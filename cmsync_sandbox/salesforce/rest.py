"""The REST resources: query and queryAll with paging, single-record CRUD and upsert by external ID,
getUpdated and getDeleted, describe, and limits.

A query result is a server-side cursor: its Ids are fixed when the query runs and each page is read
from them, ``nextRecordsUrl`` is relative, and ``totalSize`` is the full total on every page.
"""

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Response

from cmsync_sandbox.routing import Route
from cmsync_sandbox.salesforce.api import API, Call, json_response, no_content
from cmsync_sandbox.salesforce.clock import ServerClock
from cmsync_sandbox.salesforce.errors import ApiError, RecordError, not_found
from cmsync_sandbox.salesforce.ids import normalize_id
from cmsync_sandbox.salesforce.query import CompiledQuery, QueryEngine
from cmsync_sandbox.salesforce.schema import Field, SObjectType
from cmsync_sandbox.salesforce.store import RecordStore, Table
from cmsync_sandbox.salesforce.values import format_datetime, parse_datetime, to_json
from cmsync_sandbox.salesforce.writes import Writer

DEFAULT_BATCH = 2000
MIN_BATCH = 200
OPEN_CURSORS_PER_USER = 10
UPDATED_ID_LIMIT = 600_000


@dataclass
class Cursor:
    compiled: CompiledQuery
    ids: list[str]
    batch: int
    user_id: str


class Cursors:
    """Open query cursors by locator. As in Salesforce, a user has at most 10 open: opening an eleventh
    releases that user's oldest, whose next page is then INVALID_QUERY_LOCATOR."""

    def __init__(self) -> None:
        self._cursors: dict[str, Cursor] = {}
        self._lock = threading.Lock()

    def open(self, cursor: Cursor) -> str:
        locator = "01g" + secrets.token_hex(8)[:15]
        with self._lock:
            self._cursors[locator] = cursor
            mine = [key for key, held in self._cursors.items() if held.user_id == cursor.user_id]
            for oldest in mine[: max(0, len(mine) - OPEN_CURSORS_PER_USER)]:
                del self._cursors[oldest]
        return locator

    def get(self, locator: str) -> Cursor | None:
        with self._lock:
            return self._cursors.get(locator)

    def clear(self) -> None:
        with self._lock:
            self._cursors.clear()


def batch_size(call: Call) -> int:
    """``Sforce-Query-Options: batchSize=N``, kept within 200..2000 as Salesforce does."""
    options = call.request.headers.get("Sforce-Query-Options", "")
    for option in options.split(","):
        name, _, value = option.strip().partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(DEFAULT_BATCH, int(value)))
    return DEFAULT_BATCH


def record_json(table: Table, record_id: str, version: str, names: list[str] | None = None) -> dict[str, Any]:
    """A record as GET sobjects/<Object>/<Id> returns it: every field, or those asked for."""
    row = table.rows[record_id]
    sobject = table.sobject
    definitions = list(sobject.fields.values())
    if names:
        definitions = []
        for name in names:
            definition = sobject.field(name)
            if definition is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject.name}")
            definitions.append(definition)
    out: dict[str, Any] = {
        "attributes": {"type": sobject.name, "url": f"/services/data/v{version}/sobjects/{sobject.name}/{record_id}"}
    }
    for definition in definitions:
        if definition.joins:
            value = " ".join(row[table.slot[name]] for name in definition.joins if row[table.slot[name]]) or None
        else:
            value = to_json(definition, row[table.slot[definition.name]])
        out[definition.name] = value
    return out


def describe_field(definition: Field) -> dict[str, Any]:
    return {
        "name": definition.name,
        "label": definition.label,
        "type": str(definition.type),
        "length": definition.length,
        "precision": definition.precision,
        "scale": definition.scale,
        "custom": definition.custom,
        "nillable": not definition.required and definition.type != "boolean" and definition.name != "Id",
        "createable": definition.createable,
        "updateable": definition.updateable,
        "filterable": definition.filterable,
        "sortable": definition.filterable,
        "unique": definition.unique,
        "externalId": definition.external_id,
        "idLookup": definition.external_id or definition.unique or definition.name == "Id",
        "caseSensitive": definition.case_sensitive,
        "calculated": bool(definition.joins),
        "autoNumber": definition.auto_number is not None,
        "defaultedOnCreate": definition.default is not None or not definition.createable,
        "defaultValue": definition.default,
        "picklistValues": [
            {"active": True, "defaultValue": value == definition.default, "label": value, "value": value}
            for value in definition.picklist
        ],
        "restrictedPicklist": definition.restricted,
        "referenceTo": [definition.reference_to] if definition.reference_to else [],
        "relationshipName": definition.relationship_name,
    }


def describe_object(sobject: SObjectType, version: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{sobject.name}"
    return {
        **object_summary(sobject, version),
        "fields": [describe_field(definition) for definition in sobject.fields.values()],
        "childRelationships": children,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def object_summary(sobject: SObjectType, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{sobject.name}"
    return {
        "name": sobject.name,
        "label": sobject.label,
        "labelPlural": sobject.plural_label,
        "keyPrefix": sobject.key_prefix,
        "custom": sobject.custom,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "replicateable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def _replication_window(call: Call, now: datetime) -> tuple[int, int, datetime]:
    """getUpdated/getDeleted's window in milliseconds, checked as Salesforce checks it (end capped at now)."""
    start, end = _moment(call, "start"), _moment(call, "end")
    if start >= end or start < now - timedelta(days=30) or start > now:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "start must be before end and within the last 30 days")
    end = min(end, now)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000), end


def _moment(call: Call, name: str) -> datetime:
    text = call.request.args.get(name)
    if not text:
        raise ApiError(400, "MISSING_ARGUMENT", f"{name} is required")
    try:
        milliseconds = parse_datetime(unquote(text))
    except ValueError:
        raise ApiError(400, "INVALID_REPLICATION_DATE", f"{name} is not a valid date-time: {text}") from None
    return datetime.fromtimestamp(milliseconds / 1000, UTC).replace(second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return format_datetime(int(moment.timestamp() * 1000))


def _location(call: Call, table: Table, record_id: str | None) -> dict[str, str]:
    """The ``Location`` header of a created record."""
    return {"Location": f"/services/data/v{call.version}/sobjects/{table.sobject.name}/{record_id}"}


def _choices(call: Call, table: Table, matches: list[str]) -> Response:
    """HTTP 300: the records an external ID matches more than once."""
    return json_response([f"/services/data/v{call.version}/sobjects/{table.sobject.name}/{m}" for m in matches], 300)


def _existing(table: Table, record_id: str) -> str:
    """The normalized Id of a live record of ``table``; 404 NOT_FOUND or ENTITY_IS_DELETED otherwise."""
    normalized = normalize_id(record_id)
    if normalized is None or normalized not in table.rows:
        raise not_found()
    if normalized in table.recycle_bin:
        raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return normalized


class RestResources:
    """The REST resources of one org, one handler per endpoint."""

    def __init__(
        self,
        store: RecordStore,
        queries: QueryEngine,
        writer: Writer,
        cursors: Cursors,
        clock: ServerClock,
        limits: Callable[[], dict[str, Any]],
    ) -> None:
        self.store = store
        self.queries = queries
        self.writer = writer
        self.cursors = cursors
        self.clock = clock
        self.org_limits = limits

    def routes(self) -> list[Route]:
        """The REST routes, under /services/data/vXX.X."""
        sobject = f"{API}/sobjects/<sobject>"
        by_id = f"{sobject}/<record_id>"
        by_key = f"{sobject}/<field_name>/<path:value>"
        return [
            Route(f"{API}/", ("GET",), "GET /", "rest", self.resources),
            Route(f"{API}/query", ("GET",), "GET /query", "rest", self.query),
            Route(f"{API}/queryAll", ("GET",), "GET /queryAll", "rest", self.query_all),
            Route(f"{API}/query/<locator>", ("GET",), "GET /query/{locator}", "rest", self.more),
            Route(f"{API}/queryAll/<locator>", ("GET",), "GET /queryAll/{locator}", "rest", self.more),
            Route(f"{API}/limits", ("GET",), "GET /limits", "rest", self.limits),
            Route(f"{API}/sobjects", ("GET",), "GET /sobjects", "rest", self.describe_global),
            Route(sobject, ("GET",), "GET /sobjects/{object}", "rest", self.basic_info),
            Route(sobject, ("POST",), "POST /sobjects/{object}", "rest", self.create),
            Route(f"{sobject}/describe", ("GET",), "GET /sobjects/{object}/describe", "rest", self.describe),
            Route(f"{sobject}/updated", ("GET",), "GET /sobjects/{object}/updated", "rest", self.updated),
            Route(f"{sobject}/deleted", ("GET",), "GET /sobjects/{object}/deleted", "rest", self.deleted),
            Route(by_id, ("GET",), "GET /sobjects/{object}/{id}", "rest", self.read),
            Route(by_id, ("PATCH",), "PATCH /sobjects/{object}/{id}", "rest", self.update),
            Route(by_id, ("DELETE",), "DELETE /sobjects/{object}/{id}", "rest", self.delete),
            Route(by_key, ("GET",), "GET /sobjects/{object}/{field}/{value}", "rest", self.read_by_external_id),
            Route(by_key, ("PATCH",), "PATCH /sobjects/{object}/{field}/{value}", "rest", self.upsert),
        ]

    def _table(self, name: str) -> Table:
        table = self.store.table(name)
        if table is None:
            raise not_found()
        return table

    def query(self, call: Call) -> Response:
        return self._query(call, include_deleted=False)

    def query_all(self, call: Call) -> Response:
        return self._query(call, include_deleted=True)

    def _query(self, call: Call, *, include_deleted: bool) -> Response:
        soql = call.request.args.get("q")
        if soql is None:
            raise ApiError(400, "MALFORMED_QUERY", "A query string must be provided")
        compiled = self.queries.compile(soql)
        ids = self.queries.run(compiled, include_deleted=include_deleted)
        if compiled.count:
            return json_response({"totalSize": len(ids), "done": True, "records": []})
        cursor = Cursor(compiled, ids, batch_size(call), call.user_id)
        if len(ids) <= cursor.batch:
            return self._page(call, "", cursor, 0)
        return self._page(call, self.cursors.open(cursor), cursor, 0)

    def _page(self, call: Call, locator: str, cursor: Cursor, offset: int) -> Response:
        chunk = [
            record_id
            for record_id in cursor.ids[offset : offset + cursor.batch]
            if record_id in cursor.compiled.table.rows
        ]
        body: dict[str, Any] = {
            "totalSize": len(cursor.ids),
            "done": offset + cursor.batch >= len(cursor.ids),
            "records": [self.queries.render(cursor.compiled, record_id, call.version) for record_id in chunk],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{locator}-{offset + cursor.batch}"
        return json_response(body)

    def more(self, call: Call, locator: str) -> Response:
        cursor_id, _, offset = locator.rpartition("-")
        cursor = self.cursors.get(cursor_id)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor.ids):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(call, cursor_id, cursor, int(offset))

    def create(self, call: Call, sobject: str) -> Response:
        table = self._table(sobject)
        body = call.json_object()
        try:
            outcome = self.writer.insert(table, body, call.user_id)
        except RecordError as rejected:
            raise _single(rejected) from None
        return json_response({"id": outcome.id, "success": True, "errors": []}, 201, _location(call, table, outcome.id))

    def read(self, call: Call, sobject: str, record_id: str) -> Response:
        table = self._table(sobject)
        names = [name for name in call.request.args.get("fields", "").split(",") if name.strip()]
        return json_response(record_json(table, _existing(table, record_id), call.version, names))

    def update(self, call: Call, sobject: str, record_id: str) -> Response:
        table = self._table(sobject)
        normalized = _existing(table, record_id)
        body = call.json_object()
        try:
            self.writer.update(table, normalized, body, call.user_id)
        except RecordError as rejected:
            raise _single(rejected) from None
        return no_content()

    def delete(self, call: Call, sobject: str, record_id: str) -> Response:
        table = self._table(sobject)
        normalized = _existing(table, record_id)
        try:
            self.writer.delete(normalized, call.user_id, table=table)
        except RecordError as rejected:
            raise _single(rejected) from None
        return no_content()

    def _by_external_id(self, table: Table, field_name: str, value: str) -> tuple[Field, list[str]]:
        """The external ID field named and the live records whose value of it is ``value``."""
        writer = self.writer
        key = writer.external_key(table, field_name)
        if key.name == "Id":
            normalized = normalize_id(value)
            return key, [normalized] if normalized and table.live(normalized) else []
        try:
            return key, table.lookup(key.name, writer.prepare(table, {key.name: value}, creating=False)[key.name])
        except RecordError as rejected:
            raise _single(rejected) from None

    def read_by_external_id(self, call: Call, sobject: str, field_name: str, value: str) -> Response:
        table = self._table(sobject)
        _key, matches = self._by_external_id(table, field_name, value)
        if not matches:
            raise not_found()
        if len(matches) > 1:
            return _choices(call, table, matches)
        return json_response(record_json(table, matches[0], call.version))

    def upsert(self, call: Call, sobject: str, field_name: str, value: str) -> Response:
        table = self._table(sobject)
        key, matches = self._by_external_id(table, field_name, value)
        if len(matches) > 1:
            return _choices(call, table, matches)
        body = {name: item for name, item in call.json_object().items() if name.lower() != key.name.lower()}
        try:
            if matches:
                self.writer.update(table, matches[0], body, call.user_id)
                return json_response({"id": matches[0], "success": True, "errors": [], "created": False}, 200)
            if key.name != "Id":
                body[key.name] = value
            outcome = self.writer.insert(table, body, call.user_id)
        except RecordError as rejected:
            raise _single(rejected) from None
        return json_response(
            {"id": outcome.id, "success": True, "errors": [], "created": True}, 201, _location(call, table, outcome.id)
        )

    def updated(self, call: Call, sobject: str) -> Response:
        table = self._table(sobject)
        low, high, end = _replication_window(call, self.clock.moment())
        stamp = table.slot["SystemModstamp"]
        ids = [
            record_id
            for record_id in table.modified_since(low - 1)
            if record_id not in table.recycle_bin and table.rows[record_id][stamp] <= high
        ]
        if len(ids) > UPDATED_ID_LIMIT:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", f"more than {UPDATED_ID_LIMIT} records changed in that window")
        return json_response({"ids": sorted(ids), "latestDateCovered": _iso(end)})

    def deleted(self, call: Call, sobject: str) -> Response:
        table = self._table(sobject)
        low, high, end = _replication_window(call, self.clock.moment())
        records = [
            {"id": record_id, "deletedDate": format_datetime(stamp)}
            for stamp, record_id in table.delete_log
            if low <= stamp <= high
        ]
        return json_response(
            {
                "deletedRecords": records,
                "earliestDateAvailable": format_datetime(self.store.delete_log_start),
                "latestDateCovered": _iso(end),
            }
        )

    def describe(self, call: Call, sobject: str) -> Response:
        table = self._table(sobject)
        children = [
            {
                "childSObject": other.name,
                "field": definition.name,
                "relationshipName": definition.child_relationship_name,
                "cascadeDelete": False,
            }
            for other in self.store.schema
            for definition in other.fields.values()
            if definition.reference_to == table.sobject.name and definition.child_relationship_name
        ]
        return json_response(describe_object(table.sobject, call.version, children))

    def basic_info(self, call: Call, sobject: str) -> Response:
        table = self._table(sobject)
        return json_response({"objectDescribe": object_summary(table.sobject, call.version), "recentItems": []})

    def describe_global(self, call: Call) -> Response:
        return json_response(
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [object_summary(sobject, call.version) for sobject in self.store.schema],
            }
        )

    def limits(self, call: Call) -> Response:
        return json_response(self.org_limits())

    def resources(self, call: Call) -> Response:
        base = f"/services/data/v{call.version}"
        names = ("query", "queryAll", "sobjects", "limits", "composite", "jobs")
        return json_response({name: f"{base}/{name}" for name in names})


def _single(rejected: RecordError) -> ApiError:
    """A record error of a single-record call: HTTP 400 with the problem as its ``errorCode``."""
    problem = rejected.problem
    return ApiError(400, problem.status_code, problem.message, problem.fields)
