"""The sandbox's own control API under ``/_sandbox/``: faults, reset, seeding, direct record reads and
writes (as a person, not the integration user), the call log, the org's clock (``POST /_sandbox/clock``
with ``{"advance": seconds}`` or ``{"to": "2031-01-15T12:00:00Z"}``, forward only) and what a client
needs to sign in.

These calls are not Salesforce's: they are never counted against the API allowance nor logged as calls.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from cmsync_sandbox.salesforce.api import Call, Route, json_response, no_content
from cmsync_sandbox.salesforce.errors import ApiError, RecordError, not_found
from cmsync_sandbox.salesforce.seeding import SeedPlan
from cmsync_sandbox.salesforce.values import format_datetime, parse_datetime

if TYPE_CHECKING:
    from cmsync_sandbox.salesforce.emulator import SalesforceEmulator


def routes(org: "SalesforceEmulator") -> list[Route]:
    """The control routes (absolute paths, no sign-in)."""

    def body_of(call: Call) -> dict[str, Any]:
        body = call.json()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        return body

    def faults(call: Call) -> Response:
        if call.request.method != "GET":
            body = body_of(call)
            if body.pop("expire_tokens", False):
                org.expire_tokens()
            if "latency" in body:
                org.calls.latency = float(body.pop("latency"))
            try:
                org.faults.update(body)
            except ValueError as error:
                raise ApiError(400, "INVALID_FAULT", str(error)) from None
        return json_response({**org.faults.as_json(), "latency": org.calls.latency})

    def reset(call: Call) -> Response:
        org.reset()
        return no_content()

    def seed(call: Call) -> Response:
        try:
            plan = SeedPlan.from_json(body_of(call))
        except (TypeError, ValueError) as error:
            raise ApiError(400, "INVALID_SEED", str(error)) from None
        return json_response(org.seed(plan).as_json())

    def records(call: Call, sobject: str) -> Response:
        if org.store.table(sobject) is None:
            raise not_found()
        return json_response(org.records(sobject))

    def record(call: Call, sobject: str, record_id: str) -> Response:
        found = org.get(record_id)
        if found is None or found["attributes"]["type"].lower() != sobject.lower():
            raise not_found()
        return json_response(found)

    def rejected(error: RecordError) -> ApiError:
        return ApiError(400, error.problem.status_code, error.problem.message, error.problem.fields)

    def create(call: Call, sobject: str) -> Response:
        if org.store.table(sobject) is None:
            raise not_found()
        try:
            record_id = org.create(sobject, body_of(call))
        except RecordError as error:
            raise rejected(error) from None
        return json_response({"id": record_id}, 201)

    def update(call: Call, sobject: str, record_id: str) -> Response:
        try:
            org.update(record_id, body_of(call))
        except RecordError as error:
            raise rejected(error) from None
        return no_content()

    def delete(call: Call, sobject: str, record_id: str) -> Response:
        try:
            org.delete(record_id)
        except RecordError as error:
            raise rejected(error) from None
        return no_content()

    def calls(call: Call) -> Response:
        if call.request.method == "DELETE":
            org.calls.clear()
            return no_content()
        return json_response(org.calls.as_json())

    def info(call: Call) -> Response:
        return json_response(org.info(call.base_url))

    def certificate(call: Call) -> Response:
        try:
            org.oauth.trust_certificate(call.request.get_data())
        except ValueError as error:
            raise ApiError(400, "INVALID_CERTIFICATE", str(error)) from None
        return no_content()

    def clock(call: Call) -> Response:
        if call.request.method == "POST":
            body = body_of(call)
            try:
                if "to" in body:
                    org.clock.advance_to(datetime.fromtimestamp(parse_datetime(str(body["to"])) / 1000, UTC))
                org.clock.advance(float(body.get("advance", 0)))
            except (TypeError, ValueError) as error:
                raise ApiError(400, "INVALID_CLOCK", str(error)) from None
        return json_response({"now": format_datetime(org.clock.milliseconds())})

    def route(path: str, methods: tuple[str, ...], handler: Any) -> Route:
        return Route(f"/_sandbox{path}", methods, f"{'|'.join(methods)} /_sandbox{path}", "sandbox", handler, api=False)

    return [
        route("/faults", ("GET", "POST", "PATCH"), faults),
        route("/reset", ("POST",), reset),
        route("/seed", ("POST",), seed),
        route("/records/<sobject>", ("GET",), records),
        route("/records/<sobject>", ("POST",), create),
        route("/records/<sobject>/<record_id>", ("GET",), record),
        route("/records/<sobject>/<record_id>", ("PATCH",), update),
        route("/records/<sobject>/<record_id>", ("DELETE",), delete),
        route("/calls", ("GET", "DELETE"), calls),
        route("/info", ("GET",), info),
        route("/jwt-certificate", ("PUT",), certificate),
        route("/clock", ("GET", "POST"), clock),
    ]
