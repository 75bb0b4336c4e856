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
from werkzeug.wrappers import Request, Response

from cmsync_sandbox.calls import CallLog
from cmsync_sandbox.campaign_monitor.errors import ApiError
from cmsync_sandbox.campaign_monitor.faults import Faults
from cmsync_sandbox.campaign_monitor.oauth import TokenStore
from cmsync_sandbox.campaign_monitor.seeding import SeedSpec, seed_account
from cmsync_sandbox.campaign_monitor.state import AccountState
from cmsync_sandbox.routing import Route, Router, control

_SPEC_FIELDS = {field.name for field in fields(SeedSpec)}


class SandboxControls:
    """The WSGI app that answers ``/_sandbox/…``: each control takes the JSON body (and path arguments) and
    answers JSON, ``{"ok": true}`` when it has nothing to say."""

    def __init__(self, state: AccountState, faults: Faults, tokens: TokenStore, calls: CallLog) -> None:
        self.state = state
        self.faults = faults
        self.tokens = tokens
        self.calls = calls
        self._router = Router(self.routes())

    def routes(self) -> list[Route]:
        return [
            control("POST", "/reset", self.reset_all),
            control("POST", "/seed", self.seed),
            control("GET", "/summary", self.summary),
            control("GET", "/calls", self.call_log),
            control("DELETE", "/calls", self.clear_calls),
            control("GET", "/faults", self.fault_settings),
            control("POST", "/faults", self.set_faults),
            control("DELETE", "/faults", self.clear_faults),
            control("POST", "/tokens/expire", self.expire_tokens),
            control("GET", "/journeys/triggered", self.triggered),
            control("POST", "/lists/<list_id>/state", self.change_state),
            control("POST", "/campaigns", self.send_campaign),
            control("POST", "/events", self.record_event),
            control("POST", "/clock", self.clock),
        ]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            route, values = self._router.match(environ)
            body = json.loads(request.get_data() or b"{}") if request.method == "POST" else {}
            answer = route.handler(body, **values)
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

    def reset_all(self, _body: dict[str, Any]) -> None:
        self.reset()

    def seed(self, body: dict[str, Any]) -> dict[str, int]:
        counts = {name: int(value) for name, value in body.items() if name in _SPEC_FIELDS}
        size: str | SeedSpec = SeedSpec(**counts) if counts else str(body.get("size", "small"))
        return seed_account(self.state, size, int(body.get("seed", 1)))

    def summary(self, _body: dict[str, Any]) -> dict[str, int]:
        return self.state.summary()

    def call_log(self, _body: dict[str, Any]) -> dict[str, Any]:
        return self.calls.as_json()

    def clear_calls(self, _body: dict[str, Any]) -> None:
        self.calls.clear()

    def fault_settings(self, _body: dict[str, Any]) -> dict[str, Any]:
        return self.faults.as_json()

    def clear_faults(self, _body: dict[str, Any]) -> None:
        self.faults.clear()

    def expire_tokens(self, _body: dict[str, Any]) -> None:
        self.tokens.expire_all()

    def triggered(self, _body: dict[str, Any]) -> list[dict[str, Any]]:
        return [asdict(trigger) for trigger in self.state.triggers]

    def clock(self, body: dict[str, Any]) -> None:
        self.state.clock.advance(int(body.get("advance", 0)))

    def set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
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

    def change_state(self, body: dict[str, Any], list_id: str) -> dict[str, Any]:
        subscriber = self.state.change_state(list_id, str(body["email"]), str(body["state"]))
        return {"EmailAddress": subscriber.email, "State": subscriber.state}

    def send_campaign(self, body: dict[str, Any]) -> dict[str, Any]:
        campaign = self.state.send_campaign(
            str(body["client_id"]),
            [str(list_id) for list_id in body["list_ids"]],
            name=str(body.get("name", "Sandbox campaign")),
            subject=str(body.get("subject", "Hello from the sandbox")),
        )
        return {"CampaignID": campaign.campaign_id, "Recipients": len(campaign.events["recipients"])}

    def record_event(self, body: dict[str, Any]) -> dict[str, Any]:
        event = self.state.record_event(
            str(body["source_id"]),
            str(body["kind"]),
            str(body["email"]),
            url=str(body.get("url", "")),
            bounce_type=str(body.get("bounce_type", "Hard")),
        )
        return {"EmailAddress": event.email, "ListID": event.list_id}
