"""``/_sandbox/pubsub``: what the event bus does next. GET shows it; POST changes it with any of
``gap_transactions`` (the next N transactions publish gap events), ``overflow_transactions`` (the next N
publish one GAP_OVERFLOW event per object), ``delay_seconds`` (events reach subscribers that much after
their commit), ``keepalive_seconds``, ``disabled`` (objects whose Change Data Capture is off) and
``drop_streams: true`` (every open Subscribe stream ends with UNAVAILABLE)."""

from typing import Any

from werkzeug.wrappers import Response

from cmsync_sandbox.salesforce.api import Call, Route, json_response
from cmsync_sandbox.salesforce.errors import ApiError
from cmsync_sandbox.salesforce.pubsub.bus import EventBus

_NUMBERS = {"gap_transactions": int, "overflow_transactions": int, "delay_seconds": float, "keepalive_seconds": float}


def routes(bus: EventBus) -> list[Route]:
    def pubsub(call: Call) -> Response:
        if call.request.method == "POST":
            body = call.json() or {}
            if not isinstance(body, dict):
                raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
            _apply(bus, body)
        with bus.condition:
            return json_response({**bus.controls.as_json(), "events": len(bus.events), "last_replay": bus.last_replay})

    return [Route("/_sandbox/pubsub", ("GET", "POST"), "GET|POST /_sandbox/pubsub", "sandbox", pubsub, api=False)]


def _apply(bus: EventBus, body: dict[str, Any]) -> None:
    with bus.condition:
        controls = bus.controls
        for name, kind in _NUMBERS.items():
            if name in body:
                try:
                    setattr(controls, name, kind(body[name]))
                except (TypeError, ValueError):
                    raise ApiError(400, "INVALID_CONTROL", f"{name} must be a number, not {body[name]!r}") from None
        if "disabled" in body:
            unknown = set(body["disabled"]) - set(bus.schemas)
            if unknown:
                raise ApiError(
                    400, "INVALID_CONTROL", f"disabled names objects without change events: {sorted(unknown)}"
                )
            controls.disabled = set(body["disabled"])
        if body.get("drop_streams"):
            controls.drops += 1
        bus.condition.notify_all()
