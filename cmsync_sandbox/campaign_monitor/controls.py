"""Test controls under ``/_sandbox/`` (never under ``/api/``): reset, seed, faults, tokens, the call log,
and changes made "in CM's UI" or by recipients. Bodies and answers are JSON.

    POST   /_sandbox/reset                      empty account, no faults, wall clock, empty call log
    POST   /_sandbox/seed                       {"size": "small|demo|large"} or counts, and "seed"
    GET    /_sandbox/summary                    how much the account holds
    GET    /_sandbox/calls  DELETE …            the call log with counts per endpoint
    GET    /_sandbox/faults POST … DELETE …     {"latency", "rate_limit": {…}, "server_errors": {…},
                                                "bad_responses": {"kind", "calls", "endpoint", "stall"},
                                                "corrupt_records": {email: {"set": {…}, "remove": […]}}}
    POST   /_sandbox/tokens/expire              every OAuth access token has expired
    GET    /_sandbox/journeys/triggered         journeys that subscriptions started
    POST   /_sandbox/lists/<listid>/state       {"email", "state"}: a change made in CM's UI
    POST   /_sandbox/campaigns                  {"client_id", "list_ids", "name", "subject"}: send one
    POST   /_sandbox/events                     {"source_id", "kind", "email", "url", "bounce_type"}
    POST   /_sandbox/clock                      {"advance": seconds}
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from cmsync_sandbox.calls import CallLog
from cmsync_sandbox.campaign_monitor.errors import ApiError
from cmsync_sandbox.campaign_monitor.faults import Faults
from cmsync_sandbox.campaign_monitor.oauth import TokenStore
from cmsync_sandbox.campaign_monitor.seeding import SeedSpec, seed_account
from cmsync_sandbox.campaign_monitor.state import AccountState

Control = Callable[..., Any]
_SPEC_FIELDS = {field.name for field in fields(SeedSpec)}


class SandboxControls:
    """The WSGI app that answers ``/_sandbox/…``."""

    def __init__(self, state: AccountState, faults: Faults, tokens: TokenStore, calls: CallLog) -> None:
        self.state = state
        self.faults = faults
        self.tokens = tokens
        self.calls = calls
        self._routes = Map(
            [
                Rule("/_sandbox/reset", endpoint="reset", methods=["POST"]),
                Rule("/_sandbox/seed", endpoint="seed", methods=["POST"]),
                Rule("/_sandbox/summary", endpoint="summary", methods=["GET"]),
                Rule("/_sandbox/calls", endpoint="calls", methods=["GET"]),
                Rule("/_sandbox/calls", endpoint="clear_calls", methods=["DELETE"]),
                Rule("/_sandbox/faults", endpoint="faults", methods=["GET"]),
                Rule("/_sandbox/faults", endpoint="set_faults", methods=["POST"]),
                Rule("/_sandbox/faults", endpoint="clear_faults", methods=["DELETE"]),
                Rule("/_sandbox/tokens/expire", endpoint="expire_tokens", methods=["POST"]),
                Rule("/_sandbox/journeys/triggered", endpoint="triggered", methods=["GET"]),
                Rule("/_sandbox/lists/<list_id>/state", endpoint="change_state", methods=["POST"]),
                Rule("/_sandbox/campaigns", endpoint="send_campaign", methods=["POST"]),
                Rule("/_sandbox/events", endpoint="record_event", methods=["POST"]),
                Rule("/_sandbox/clock", endpoint="clock", methods=["POST"]),
            ]
        )
        self._controls: dict[str, Control] = {
            "reset": lambda _body: self.reset(),
            "seed": self._seed,
            "summary": lambda _body: self.state.summary(),
            "calls": lambda _body: self.calls.as_json(),
            "clear_calls": lambda _body: self.calls.clear(),
            "faults": lambda _body: self.faults.as_json(),
            "set_faults": self._set_faults,
            "clear_faults": lambda _body: self.faults.clear(),
            "expire_tokens": lambda _body: self.tokens.expire_all(),
            "triggered": lambda _body: [asdict(trigger) for trigger in self.state.triggers],
            "change_state": self._change_state,
            "send_campaign": self._send_campaign,
            "record_event": self._record_event,
            "clock": lambda body: self.state.clock.advance(int(body.get("advance", 0))),
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, values = self._routes.bind_to_environ(environ).match()
            body = json.loads(request.get_data() or b"{}") if request.method == "POST" else {}
            answer = self._controls[endpoint](body, **values)
            response = self._json(200, {"ok": True} if answer is None else answer)
        except HTTPException as error:
            response = self._json(error.code or 404, {"error": error.description})
        except ApiError as error:
            response = self._json(error.status, error.body())
        except (ValueError, TypeError, KeyError) as error:
            response = self._json(400, {"error": str(error)})
        return response(environ, start_response)

    @staticmethod
    def _json(status: int, body: Any) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")

    def reset(self) -> None:
        """An empty account, no faults, fresh tokens, the wall clock and an empty call log."""
        self.state.clock.reset()
        self.state.clear()
        self.faults.clear()
        self.tokens.clear()
        self.calls.clear()

    def _seed(self, body: dict[str, Any]) -> dict[str, int]:
        counts = {name: int(value) for name, value in body.items() if name in _SPEC_FIELDS}
        size: str | SeedSpec = SeedSpec(**counts) if counts else str(body.get("size", "small"))
        return seed_account(self.state, size, int(body.get("seed", 1)))

    def _set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        if "latency" in body:
            self.faults.set_latency(float(body["latency"]))
        if body.get("rate_limit"):
            self.faults.rate_limit(**body["rate_limit"])
        if body.get("server_errors"):
            self.faults.server_errors(**body["server_errors"])
        if body.get("bad_responses"):
            self.faults.bad_responses(**body["bad_responses"])
        if body.get("corrupt_records"):
            self.faults.corrupt_records(body["corrupt_records"])
        if body.get("token_lifetime"):
            self.tokens.lifetime = int(body["token_lifetime"])
        return self.faults.as_json()

    def _change_state(self, body: dict[str, Any], list_id: str) -> dict[str, Any]:
        subscriber = self.state.change_state(list_id, str(body["email"]), str(body["state"]))
        return {"EmailAddress": subscriber.email, "State": subscriber.state}

    def _send_campaign(self, body: dict[str, Any]) -> dict[str, Any]:
        campaign = self.state.send_campaign(
            str(body["client_id"]),
            [str(list_id) for list_id in body["list_ids"]],
            name=str(body.get("name", "Sandbox campaign")),
            subject=str(body.get("subject", "Hello from the sandbox")),
        )
        return {"CampaignID": campaign.campaign_id, "Recipients": len(campaign.events["recipients"])}

    def _record_event(self, body: dict[str, Any]) -> dict[str, Any]:
        event = self.state.record_event(
            str(body["source_id"]),
            str(body["kind"]),
            str(body["email"]),
            url=str(body.get("url", "")),
            bounce_type=str(body.get("bounce_type", "Hard")),
        )
        return {"EmailAddress": event.email, "ListID": event.list_id}
