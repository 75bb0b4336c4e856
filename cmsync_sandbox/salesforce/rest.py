"""The REST resources: query and queryAll with paging, single-record CRUD and upsert by external ID,
getUpdated and getDeleted, describe, and limits.

A query result is a server-side cursor: its Ids are fixed when the query runs and each page is read
from them, ``nextRecordsUrl`` is relative, and ``totalSize`` is the full total on every page.
"""

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.wrappers import Response

from cmsync_sandbox.salesforce.api import Call, Route, json_response, no_content
from cmsync_sandbox.salesforce.errors import ApiError, RecordError, not_found
from cmsync_sandbox.salesforce.ids import normalize_id
from cmsync_sandbox.salesforce.query import CompiledQuery
from cmsync_sandbox.salesforce.schema import Field, SObjectType
from cmsync_sandbox.salesforce.store import Table
from cmsync_sandbox.salesforce.values import format_datetime, parse_datetime, to_json

if TYPE_CHECKING:
    from cmsync_sandbox.salesforce.emulator import SalesforceEmulator

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


def routes(org: "SalesforceEmulator") -> list[Route]:
    """The REST routes, relative to /services/data/vXX.X."""

    def table_of(name: str) -> Table:
        table = org.store.table(name)
        if table is None:
            raise not_found()
        return table

    def location(call: Call, table: Table, record_id: str | None) -> dict[str, str]:
        """The ``Location`` header of a created record."""
        return {"Location": f"/services/data/v{call.version}/sobjects/{table.sobject.name}/{record_id}"}

    def query(call: Call, *, include_deleted: bool) -> Response:
        soql = call.request.args.get("q")
        if soql is None:
            raise ApiError(400, "MALFORMED_QUERY", "A query string must be provided")
        compiled = org.queries.compile(soql)
        ids = org.queries.run(compiled, include_deleted=include_deleted)
        if compiled.count:
            return json_response({"totalSize": len(ids), "done": True, "records": []})
        cursor = Cursor(compiled, ids, batch_size(call), call.user_id)
        if len(ids) <= cursor.batch:
            return page(call, "", cursor, 0)
        return page(call, org.cursors.open(cursor), cursor, 0)

    def page(call: Call, locator: str, cursor: Cursor, offset: int) -> Response:
        chunk = [
            record_id
            for record_id in cursor.ids[offset : offset + cursor.batch]
            if record_id in cursor.compiled.table.rows
        ]
        body: dict[str, Any] = {
            "totalSize": len(cursor.ids),
            "done": offset + cursor.batch >= len(cursor.ids),
            "records": [org.queries.render(cursor.compiled, record_id, call.version) for record_id in chunk],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{locator}-{offset + cursor.batch}"
        return json_response(body)

    def more(call: Call, locator: str) -> Response:
        cursor_id, _, offset = locator.rpartition("-")
        cursor = org.cursors.get(cursor_id)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor.ids):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return page(call, cursor_id, cursor, int(offset))

    def create(call: Call, sobject: str) -> Response:
        table = table_of(sobject)
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        try:
            outcome = org.writer.insert(table, body, call.user_id)
        except RecordError as rejected:
            raise _single(rejected) from None
        return json_response({"id": outcome.id, "success": True, "errors": []}, 201, location(call, table, outcome.id))

    def existing(table: Table, record_id: str) -> str:
        normalized = normalize_id(record_id)
        if normalized is None or normalized not in table.rows:
            raise not_found()
        if normalized in table.recycle_bin:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return normalized

    def read(call: Call, sobject: str, record_id: str) -> Response:
        table = table_of(sobject)
        names = [name for name in call.request.args.get("fields", "").split(",") if name.strip()]
        return json_response(record_json(table, existing(table, record_id), call.version, names))

    def update(call: Call, sobject: str, record_id: str) -> Response:
        table = table_of(sobject)
        normalized = existing(table, record_id)
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        try:
            org.writer.update(table, normalized, body, call.user_id)
        except RecordError as rejected:
            raise _single(rejected) from None
        return no_content()

    def delete(call: Call, sobject: str, record_id: str) -> Response:
        table = table_of(sobject)
        normalized = existing(table, record_id)
        try:
            org.writer.delete(normalized, call.user_id, table=table)
        except RecordError as rejected:
            raise _single(rejected) from None
        return no_content()

    def by_external_id(table: Table, field_name: str, value: str) -> tuple[Field, list[str]]:
        key = org.writer.external_key(table, field_name)
        if key.name == "Id":
            normalized = normalize_id(value)
            return key, [normalized] if normalized and table.live(normalized) else []
        try:
            return key, table.lookup(key.name, org.writer.prepare(table, {key.name: value}, creating=False)[key.name])
        except RecordError as rejected:
            raise _single(rejected) from None

    def read_by_external_id(call: Call, sobject: str, field_name: str, value: str) -> Response:
        table = table_of(sobject)
        _key, matches = by_external_id(table, field_name, value)
        if not matches:
            raise not_found()
        if len(matches) > 1:
            return json_response(
                [f"/services/data/v{call.version}/sobjects/{table.sobject.name}/{m}" for m in matches], 300
            )
        return json_response(record_json(table, matches[0], call.version))

    def upsert(call: Call, sobject: str, field_name: str, value: str) -> Response:
        table = table_of(sobject)
        key, matches = by_external_id(table, field_name, value)
        if len(matches) > 1:
            return json_response(
                [f"/services/data/v{call.version}/sobjects/{table.sobject.name}/{m}" for m in matches], 300
            )
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        body = {name: item for name, item in body.items() if name.lower() != key.name.lower()}
        try:
            if matches:
                org.writer.update(table, matches[0], body, call.user_id)
                return json_response({"id": matches[0], "success": True, "errors": [], "created": False}, 200)
            if key.name != "Id":
                body[key.name] = value
            outcome = org.writer.insert(table, body, call.user_id)
        except RecordError as rejected:
            raise _single(rejected) from None
        return json_response(
            {"id": outcome.id, "success": True, "errors": [], "created": True}, 201, location(call, table, outcome.id)
        )

    def updated(call: Call, sobject: str) -> Response:
        table = table_of(sobject)
        low, high, end = _replication_window(call, org.clock.moment())
        stamp = table.slot["SystemModstamp"]
        ids = [
            record_id
            for record_id in table.modified_since(low - 1)
            if record_id not in table.recycle_bin and table.rows[record_id][stamp] <= high
        ]
        if len(ids) > UPDATED_ID_LIMIT:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", f"more than {UPDATED_ID_LIMIT} records changed in that window")
        return json_response({"ids": sorted(ids), "latestDateCovered": _iso(end)})

    def deleted(call: Call, sobject: str) -> Response:
        table = table_of(sobject)
        low, high, end = _replication_window(call, org.clock.moment())
        records = [
            {"id": record_id, "deletedDate": format_datetime(stamp)}
            for stamp, record_id in table.delete_log
            if low <= stamp <= high
        ]
        earliest = org.delete_log_start
        return json_response(
            {
                "deletedRecords": records,
                "earliestDateAvailable": format_datetime(earliest),
                "latestDateCovered": _iso(end),
            }
        )

    def describe(call: Call, sobject: str) -> Response:
        table = table_of(sobject)
        children = [
            {
                "childSObject": other.name,
                "field": definition.name,
                "relationshipName": definition.child_relationship_name,
                "cascadeDelete": False,
            }
            for other in org.schema
            for definition in other.fields.values()
            if definition.reference_to == table.sobject.name and definition.child_relationship_name
        ]
        return json_response(describe_object(table.sobject, call.version, children))

    def basic_info(call: Call, sobject: str) -> Response:
        table = table_of(sobject)
        return json_response({"objectDescribe": object_summary(table.sobject, call.version), "recentItems": []})

    def describe_global(call: Call) -> Response:
        return json_response(
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [object_summary(sobject, call.version) for sobject in org.schema],
            }
        )

    def limits(call: Call) -> Response:
        return json_response(org.limits())

    def resources(call: Call) -> Response:
        base = f"/services/data/v{call.version}"
        names = ("query", "queryAll", "sobjects", "limits", "composite", "jobs")
        return json_response({name: f"{base}/{name}" for name in names})

    return [
        Route("/", ("GET",), "GET /", "rest", resources),
        Route("/query", ("GET",), "GET /query", "rest", lambda call: query(call, include_deleted=False)),
        Route("/queryAll", ("GET",), "GET /queryAll", "rest", lambda call: query(call, include_deleted=True)),
        Route("/query/<locator>", ("GET",), "GET /query/{locator}", "rest", more),
        Route("/queryAll/<locator>", ("GET",), "GET /queryAll/{locator}", "rest", more),
        Route("/limits", ("GET",), "GET /limits", "rest", limits),
        Route("/sobjects", ("GET",), "GET /sobjects", "rest", describe_global),
        Route("/sobjects/<sobject>", ("GET",), "GET /sobjects/{object}", "rest", basic_info),
        Route("/sobjects/<sobject>", ("POST",), "POST /sobjects/{object}", "rest", create),
        Route("/sobjects/<sobject>/describe", ("GET",), "GET /sobjects/{object}/describe", "rest", describe),
        Route("/sobjects/<sobject>/updated", ("GET",), "GET /sobjects/{object}/updated", "rest", updated),
        Route("/sobjects/<sobject>/deleted", ("GET",), "GET /sobjects/{object}/deleted", "rest", deleted),
        Route("/sobjects/<sobject>/<record_id>", ("GET",), "GET /sobjects/{object}/{id}", "rest", read),
        Route("/sobjects/<sobject>/<record_id>", ("PATCH",), "PATCH /sobjects/{object}/{id}", "rest", update),
        Route("/sobjects/<sobject>/<record_id>", ("DELETE",), "DELETE /sobjects/{object}/{id}", "rest", delete),
        Route(
            "/sobjects/<sobject>/<field_name>/<path:value>",
            ("GET",),
            "GET /sobjects/{object}/{field}/{value}",
            "rest",
            read_by_external_id,
        ),
        Route(
            "/sobjects/<sobject>/<field_name>/<path:value>",
            ("PATCH",),
            "PATCH /sobjects/{object}/{field}/{value}",
            "rest",
            upsert,
        ),
    ]


def _single(rejected: RecordError) -> ApiError:
    """A record error of a single-record call: HTTP 400 with the problem as its ``errorCode``."""
    problem = rejected.problem
    return ApiError(400, problem.status_code, problem.message, problem.fields)
