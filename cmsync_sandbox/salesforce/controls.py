"""The sandbox's own control API under ``/_sandbox/``: faults, reset, seeding, direct record reads and
writes (as a person, not the integration user), the call log, the org's clock (``POST /_sandbox/clock``
with ``{"advance": seconds}`` or ``{"to": "2031-01-15T12:00:00Z"}``, forward only) and what a client
needs to sign in, and what the Pub/Sub event bus does next (``/_sandbox/pubsub``: GET shows it; POST
changes it with any of ``gap_transactions`` (the next N transactions publish gap events),
``overflow_transactions`` (the next N publish one GAP_OVERFLOW event per object), ``delay_seconds`` (events
reach subscribers that much after their commit), ``keepalive_seconds``, ``disabled`` (objects whose Change
Data Capture is off) and ``drop_streams: true`` (every open Subscribe stream ends with UNAVAILABLE)).

These calls are not Salesforce's: they are never counted against the API allowance nor logged as calls.
"""

from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from cmsync_sandbox.routing import Route, control
from cmsync_sandbox.salesforce.api import Call, json_response, no_content
from cmsync_sandbox.salesforce.errors import ApiError, RecordError, not_found
from cmsync_sandbox.salesforce.org import Org
from cmsync_sandbox.salesforce.seeding import SeedPlan
from cmsync_sandbox.salesforce.values import format_datetime, parse_datetime


def _body(call: Call) -> dict[str, Any]:
    """A control's JSON object (no body reads as ``{}``)."""
    body = call.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def _rejected(error: RecordError) -> ApiError:
    return ApiError(400, error.problem.status_code, error.problem.message, error.problem.fields)


class SandboxControls:
    """The ``/_sandbox`` controls of one org, one handler per control."""

    def __init__(self, org: Org) -> None:
        self.org = org

    def routes(self) -> list[Route]:
        """The control routes (absolute paths, no sign-in)."""
        return [
            control("GET", "/faults", self.fault_settings),
            control("POST", "/faults", self.set_faults),
            control("PATCH", "/faults", self.set_faults),
            control("POST", "/reset", self.reset),
            control("POST", "/seed", self.seed),
            control("GET", "/records/<sobject>", self.records),
            control("POST", "/records/<sobject>", self.create),
            control("GET", "/records/<sobject>/<record_id>", self.record),
            control("PATCH", "/records/<sobject>/<record_id>", self.update),
            control("DELETE", "/records/<sobject>/<record_id>", self.delete),
            control("GET", "/calls", self.call_log),
            control("DELETE", "/calls", self.clear_calls),
            control("GET", "/info", self.info),
            control("PUT", "/jwt-certificate", self.certificate),
            control("GET", "/clock", self.clock),
            control("POST", "/clock", self.move_clock),
            control("GET", "/pubsub", self.pubsub),
            control("POST", "/pubsub", self.change_pubsub),
        ]

    def fault_settings(self, call: Call) -> Response:
        return json_response({**self.org.faults.as_json(), "latency": self.org.calls.latency})

    def set_faults(self, call: Call) -> Response:
        body = _body(call)
        if body.pop("expire_tokens", False):
            self.org.expire_tokens()
        if "latency" in body:
            self.org.calls.latency = float(body.pop("latency"))
        try:
            self.org.faults.update(body)
        except ValueError as error:
            raise ApiError(400, "INVALID_FAULT", str(error)) from None
        return self.fault_settings(call)

    def reset(self, call: Call) -> Response:
        self.org.reset()
        return no_content()

    def seed(self, call: Call) -> Response:
        try:
            plan = SeedPlan.from_json(_body(call))
        except (TypeError, ValueError) as error:
            raise ApiError(400, "INVALID_SEED", str(error)) from None
        return json_response(self.org.seed(plan).as_json())

    def records(self, call: Call, sobject: str) -> Response:
        if self.org.store.table(sobject) is None:
            raise not_found()
        return json_response(self.org.records(sobject))

    def record(self, call: Call, sobject: str, record_id: str) -> Response:
        found = self.org.get(record_id)
        if found is None or found["attributes"]["type"].lower() != sobject.lower():
            raise not_found()
        return json_response(found)

    def create(self, call: Call, sobject: str) -> Response:
        if self.org.store.table(sobject) is None:
            raise not_found()
        try:
            record_id = self.org.create(sobject, _body(call))
        except RecordError as error:
            raise _rejected(error) from None
        return json_response({"id": record_id}, 201)

    def update(self, call: Call, sobject: str, record_id: str) -> Response:
        try:
            self.org.update(record_id, _body(call))
        except RecordError as error:
            raise _rejected(error) from None
        return no_content()

    def delete(self, call: Call, sobject: str, record_id: str) -> Response:
        try:
            self.org.delete(record_id)
        except RecordError as error:
            raise _rejected(error) from None
        return no_content()

    def call_log(self, call: Call) -> Response:
        return json_response(self.org.calls.as_json())

    def clear_calls(self, call: Call) -> Response:
        self.org.calls.clear()
        return no_content()

    def info(self, call: Call) -> Response:
        return json_response(self.org.info(call.base_url))

    def certificate(self, call: Call) -> Response:
        try:
            self.org.oauth.trust_certificate(call.request.get_data())
        except ValueError as error:
            raise ApiError(400, "INVALID_CERTIFICATE", str(error)) from None
        return no_content()

    def clock(self, call: Call) -> Response:
        return json_response({"now": format_datetime(self.org.clock.milliseconds())})

    def move_clock(self, call: Call) -> Response:
        body = _body(call)
        try:
            if "to" in body:
                self.org.clock.advance_to(datetime.fromtimestamp(parse_datetime(str(body["to"])) / 1000, UTC))
            self.org.clock.advance(float(body.get("advance", 0)))
        except (TypeError, ValueError) as error:
            raise ApiError(400, "INVALID_CLOCK", str(error)) from None
        return self.clock(call)

    def pubsub(self, call: Call) -> Response:
        bus = self.org.events
        with bus.condition:
            return json_response({**bus.controls.as_json(), "events": len(bus.events), "last_replay": bus.last_replay})

    def change_pubsub(self, call: Call) -> Response:
        body = call.json() or {}
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        try:
            self.org.events.change_controls(body)
        except ValueError as error:
            raise ApiError(400, "INVALID_CONTROL", str(error)) from None
        return self.pubsub(call)
