"""The Campaign Monitor API v3.3 as a WSGI app: routes, authentication, faults and the call log.

Paths are matched in any case under ``/api/v3.3`` (with the ``.json`` suffix), plus CM's OAuth token
endpoint ``/oauth/token``. Test controls live under ``/_sandbox/`` and are handed to ``controls``.
"""

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from cmsync_sandbox.calls import CLASS_KEY, ENDPOINT_KEY
from cmsync_sandbox.campaign_monitor import shapes
from cmsync_sandbox.campaign_monitor.bad_responses import spoiled
from cmsync_sandbox.campaign_monitor.dates import parse_date
from cmsync_sandbox.campaign_monitor.errors import ApiError
from cmsync_sandbox.campaign_monitor.faults import Faults
from cmsync_sandbox.campaign_monitor.model import CAMPAIGN_EVENT_KINDS, JOURNEY_EVENT_KINDS, STATES, EventLog
from cmsync_sandbox.campaign_monitor.oauth import OAuthGrantError, TokenStore
from cmsync_sandbox.campaign_monitor.parsing import Paging, flag, json_body, paging, query, subscriber_input
from cmsync_sandbox.campaign_monitor.state import AccountState
from cmsync_sandbox.campaign_monitor.views import page_of

API = "/api/v3.3"
_log = structlog.stdlib.get_logger(__name__)
logging.getLogger("werkzeug").setLevel(logging.WARNING)

Handler = Callable[..., tuple[int, Any]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _rules() -> list[Rule]:
    """One rule per endpoint name, so the call log counts each endpoint (and each state or report) apart."""
    rules = [
        Rule(f"{API}/clients.json", endpoint="GET /clients", methods=["GET"]),
        Rule(f"{API}/clients/<client_id>.json", endpoint="GET /clients/{clientid}", methods=["GET"]),
        Rule(f"{API}/clients/<client_id>/lists.json", endpoint="GET /clients/{clientid}/lists", methods=["GET"]),
        Rule(
            f"{API}/clients/<client_id>/campaigns.json", endpoint="GET /clients/{clientid}/campaigns", methods=["GET"]
        ),
        Rule(f"{API}/clients/<client_id>/journeys.json", endpoint="GET /clients/{clientid}/journeys", methods=["GET"]),
        Rule(f"{API}/lists/<list_id>.json", endpoint="GET /lists/{listid}", methods=["GET"]),
        Rule(f"{API}/lists/<list_id>/customfields.json", endpoint="GET /lists/{listid}/customfields", methods=["GET"]),
        Rule(
            f"{API}/lists/<list_id>/customfields.json", endpoint="POST /lists/{listid}/customfields", methods=["POST"]
        ),
        Rule(
            f"{API}/lists/<list_id>/customfields/<key>.json",
            endpoint="DELETE /lists/{listid}/customfields/{key}",
            methods=["DELETE"],
        ),
        Rule(f"{API}/subscribers/<list_id>.json", endpoint="GET /subscribers/{listid}", methods=["GET"]),
        Rule(f"{API}/subscribers/<list_id>.json", endpoint="POST /subscribers/{listid}", methods=["POST"]),
        Rule(f"{API}/subscribers/<list_id>.json", endpoint="PUT /subscribers/{listid}", methods=["PUT"]),
        Rule(f"{API}/subscribers/<list_id>.json", endpoint="DELETE /subscribers/{listid}", methods=["DELETE"]),
        Rule(
            f"{API}/subscribers/<list_id>/unsubscribe.json",
            endpoint="POST /subscribers/{listid}/unsubscribe",
            methods=["POST"],
        ),
        Rule(
            f"{API}/subscribers/<list_id>/import.json", endpoint="POST /subscribers/{listid}/import", methods=["POST"]
        ),
        Rule(
            f"{API}/campaigns/<campaign_id>/summary.json",
            endpoint="GET /campaigns/{campaignid}/summary",
            methods=["GET"],
        ),
        Rule(f"{API}/journeys/<journey_id>.json", endpoint="GET /journeys/{journeyid}", methods=["GET"]),
        Rule("/oauth/token", endpoint="POST /oauth/token", methods=["POST"]),
    ]
    rules += [
        Rule(
            f"{API}/lists/<list_id>/{state.lower()}.json",
            endpoint=f"GET /lists/{{listid}}/{state.lower()}",
            methods=["GET"],
        )
        for state in STATES
    ]
    rules += [
        Rule(
            f"{API}/campaigns/<campaign_id>/{kind}.json",
            endpoint=f"GET /campaigns/{{campaignid}}/{kind}",
            methods=["GET"],
        )
        for kind in CAMPAIGN_EVENT_KINDS
    ]
    rules += [
        Rule(
            f"{API}/journeys/email/<email_id>/{kind}.json",
            endpoint=f"GET /journeys/email/{{emailid}}/{kind}",
            methods=["GET"],
        )
        for kind in JOURNEY_EVENT_KINDS
    ]
    return rules


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(data, status=status, headers=headers, content_type="application/json; charset=utf-8")


class CampaignMonitorApp:
    """The emulator's WSGI entry point: the API under ``/api/v3.3``, OAuth, and the test controls."""

    def __init__(
        self, state: AccountState, faults: Faults, tokens: TokenStore, api_keys: set[str], controls: WsgiApp
    ) -> None:
        self.state = state
        self.faults = faults
        self.tokens = tokens
        self.api_keys = api_keys
        self.controls = controls
        self._routes = Map(_rules(), strict_slashes=False)
        self._handlers: dict[str, Handler] = {
            "GET /clients": self._clients,
            "GET /clients/{clientid}": self._client_details,
            "GET /clients/{clientid}/lists": self._client_lists,
            "GET /clients/{clientid}/campaigns": self._client_campaigns,
            "GET /clients/{clientid}/journeys": self._client_journeys,
            "GET /lists/{listid}": self._list_details,
            "GET /lists/{listid}/customfields": self._custom_fields,
            "POST /lists/{listid}/customfields": self._create_custom_field,
            "DELETE /lists/{listid}/customfields/{key}": self._delete_custom_field,
            "GET /subscribers/{listid}": self._subscriber,
            "POST /subscribers/{listid}": self._add_subscriber,
            "PUT /subscribers/{listid}": self._update_subscriber,
            "DELETE /subscribers/{listid}": self._delete_subscriber,
            "POST /subscribers/{listid}/unsubscribe": self._unsubscribe,
            "POST /subscribers/{listid}/import": self._import,
            "GET /campaigns/{campaignid}/summary": self._campaign_summary,
            "GET /journeys/{journeyid}": self._journey_details,
        }
        for state_name in STATES:
            self._handlers[f"GET /lists/{{listid}}/{state_name.lower()}"] = self._list_subscribers(state_name)
        for kind in CAMPAIGN_EVENT_KINDS:
            self._handlers[f"GET /campaigns/{{campaignid}}/{kind}"] = self._campaign_report(kind)
        for kind in JOURNEY_EVENT_KINDS:
            self._handlers[f"GET /journeys/email/{{emailid}}/{kind}"] = self._journey_report(kind)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return self.controls(environ, start_response)
        started = time.perf_counter()
        request = Request(environ)
        response = self._respond(request, environ)
        _log.info(
            "campaign monitor call",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response(environ, start_response)

    def _respond(self, request: Request, environ: dict[str, Any]) -> Response:
        try:
            endpoint, values = self._routes.bind_to_environ(environ).match(request.path.lower(), method=request.method)
        except HTTPException:
            environ[ENDPOINT_KEY] = "unknown"
            error = ApiError(404)
            return _json_response(error.status, error.body())
        environ[ENDPOINT_KEY] = endpoint
        if endpoint == "POST /oauth/token":
            environ[CLASS_KEY] = "oauth"
            return self._token(request)
        environ[CLASS_KEY] = "rest"
        fault = self.faults.next_fault()
        if fault is not None:
            if isinstance(fault.body, str):
                return Response(fault.body, status=fault.status, headers=fault.headers)
            return _json_response(fault.status, fault.body, fault.headers)
        try:
            self._authenticate(request)
            status, body = self._handlers[endpoint](request, **values)
        except ApiError as error:
            headers = {"WWW-Authenticate": 'Basic realm="api"'} if error.status == 401 else None
            return _json_response(error.status, error.body(), headers)
        response = _json_response(status, self.faults.patched(body))
        bad = self.faults.next_bad_response(endpoint)
        return response if bad is None else spoiled(response, bad)

    def _authenticate(self, request: Request) -> None:
        """API key as the Basic user name (any password), or an OAuth bearer token."""
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            self.tokens.check(credentials.strip())
            return
        if scheme.lower() != "basic":
            raise ApiError(50)
        try:
            user = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(50) from None
        if user not in self.api_keys:
            raise ApiError(100)

    def _token(self, request: Request) -> Response:
        try:
            return _json_response(200, self.tokens.grant(dict(request.form.items())))
        except OAuthGrantError as error:
            return _json_response(400, {"error": error.error, "error_description": error.description})

    # Account, clients and lists.

    def _clients(self, _request: Request) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.client_summary(client) for client in self.state.clients.values()]

    def _client_details(self, _request: Request, client_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.client_details(self.state.client(client_id))

    def _client_lists(self, _request: Request, client_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.list_summary(each) for each in self.state.client(client_id).lists]

    def _client_journeys(self, _request: Request, client_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.journey_summary(journey) for journey in self.state.client(client_id).journeys]

    def _client_campaigns(self, request: Request, client_id: str) -> tuple[int, Any]:
        params = query(request)
        with self.state.lock:
            client = self.state.client(client_id)
            offset = client.utc_offset_minutes
            sent_from = parse_date(params.get("sentfromdate", ""), offset, error_code=920)
            sent_to = parse_date(params.get("senttodate", ""), offset, error_code=922)
            page = paging(params, fields=(), default_field="SentDate", default_direction="desc")
            tags = {tag.strip().lower() for tag in params.get("tags", "").split(",") if tag.strip()}
            chosen = sorted(
                (
                    campaign
                    for campaign in client.campaigns
                    if (sent_from is None or campaign.sent >= sent_from)
                    and (sent_to is None or campaign.sent < sent_to + 86400)
                    and (not tags or tags & {tag.lower() for tag in campaign.tags})
                ),
                key=lambda campaign: (campaign.sent, campaign.campaign_id),
            )
            records = page_of(chosen, 0, page.number, page.size, page.descending)
            results = [shapes.campaign(campaign, offset) for campaign in records]
        return 200, shapes.paged(
            results,
            ordered_by="SentDate",
            direction=page.direction,
            number=page.number,
            size=page.size,
            total=len(chosen),
        )

    def _list_details(self, _request: Request, list_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.list_details(self.state.mailing_list(list_id))

    def _custom_fields(self, _request: Request, list_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.custom_field(field) for field in self.state.mailing_list(list_id).fields.values()]

    def _create_custom_field(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        body = json_body(request)
        visible = body.get("visibleinpreferencecenter")
        created = self.state.create_custom_field(
            list_id,
            str(body.get("fieldname") or ""),
            str(body.get("datatype") or ""),
            [str(option) for option in body.get("options") or ()],
            True if visible is None else flag(visible),
        )
        return 201, created.key

    def _delete_custom_field(self, _request: Request, list_id: str, key: str) -> tuple[int, Any]:
        self.state.delete_custom_field(list_id, key)
        return 200, None

    # Subscribers.

    def _list_subscribers(self, state_name: str) -> Handler:
        def handler(request: Request, list_id: str) -> tuple[int, Any]:
            params = query(request)
            with self.state.lock:
                mailing_list = self.state.mailing_list(list_id)
                offset = self.state.offset_of(mailing_list.client_id)
                since = parse_date(params.get("date", ""), offset)
                page = paging(params, fields=("email", "name", "date"), default_field="email", default_direction="asc")
                records, start = mailing_list.views[state_name].select(page.field, since)
                chosen = page_of(records, start, page.number, page.size, page.descending)
                with_consent = flag(params.get("includetrackingpreference", ""))
                results = [shapes.subscriber(record, offset, with_consent) for record in chosen]
                total = len(records) - start
            return 200, shapes.paged(
                results,
                ordered_by=page.field,
                direction=page.direction,
                number=page.number,
                size=page.size,
                total=total,
            )

        return handler

    def _subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        params = query(request)
        with self.state.lock:
            mailing_list = self.state.mailing_list(list_id)
            found = self.state.member(mailing_list, params.get("email", ""))
            offset = self.state.offset_of(mailing_list.client_id)
            return 200, shapes.subscriber(found, offset, flag(params.get("includetrackingpreference", "")))

    def _add_subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        body = json_body(request)
        added = self.state.add_subscriber(
            list_id,
            subscriber_input(body, consent_required=True),
            resubscribe=flag(body.get("resubscribe")),
            restart_journeys=flag(body.get("restartsubscriptionbasedautoresponders")),
        )
        return 201, added.email

    def _update_subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        body = json_body(request)
        self.state.update_subscriber(
            list_id,
            query(request).get("email", ""),
            subscriber_input(body, consent_required=True),
            resubscribe=flag(body.get("resubscribe")),
            restart_journeys=flag(body.get("restartsubscriptionbasedautoresponders")),
        )
        return 200, None

    def _unsubscribe(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        self.state.unsubscribe(list_id, str(json_body(request).get("emailaddress") or ""))
        return 200, None

    def _delete_subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.delete_subscriber(list_id, query(request).get("email", ""))
        return 200, None

    def _import(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        body = json_body(request)
        entries = body.get("subscribers") or []
        if not isinstance(entries, list):
            raise ApiError(400)
        given = [subscriber_input(entry, consent_required=False) for entry in entries if isinstance(entry, dict)]
        result = self.state.import_subscribers(
            list_id,
            given,
            resubscribe=flag(body.get("resubscribe")),
            queue_journeys=flag(body.get("queuesubscriptionbasedautoresponders")),
            restart_journeys=flag(body.get("restartsubscriptionbasedautoresponders")),
        )
        return 201, result

    # Campaigns and journeys.

    def _campaign_summary(self, _request: Request, campaign_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.campaign_summary(self.state.campaign(campaign_id))

    def _campaign_report(self, kind: str) -> Handler:
        default_field = "email" if kind == "recipients" else "date"

        def handler(request: Request, campaign_id: str) -> tuple[int, Any]:
            params = query(request)
            with self.state.lock:
                campaign = self.state.campaign(campaign_id)
                offset = self.state.offset_of(campaign.client_id)
                since = None if kind == "recipients" else parse_date(params.get("date", ""), offset)
                page = paging(
                    params, fields=("email", "list", "date"), default_field=default_field, default_direction="asc"
                )
                results, total = self._events(campaign.events[kind], kind, since, page, offset, campaign_report=True)
            return 200, shapes.paged(
                results,
                ordered_by=page.field,
                direction=page.direction,
                number=page.number,
                size=page.size,
                total=total,
            )

        return handler

    def _journey_details(self, _request: Request, journey_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.journey_details(self.state.journey(journey_id))

    def _journey_report(self, kind: str) -> Handler:
        ordered_by = "SentDate" if kind == "recipients" else "Date"

        def handler(request: Request, email_id: str) -> tuple[int, Any]:
            params = query(request)
            with self.state.lock:
                journey, email = self.state.journey_email(email_id)
                offset = self.state.offset_of(journey.client_id)
                since = parse_date(params.get("date", ""), offset)
                page = paging(params, fields=(), default_field="date", default_direction="asc")
                results, total = self._events(email.events[kind], kind, since, page, offset, campaign_report=False)
            return 200, shapes.paged(
                results,
                ordered_by=ordered_by,
                direction=page.direction.upper(),
                number=page.number,
                size=page.size,
                total=total,
            )

        return handler

    @staticmethod
    def _events(
        log: EventLog, kind: str, since: int | None, page: Paging, offset: int, *, campaign_report: bool
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a tracking report, and how many records the report has from ``since`` on."""
        records, start = log.views.select(page.field, since)
        chosen = page_of(records, start, page.number, page.size, page.descending)
        return shapes.events(kind, chosen, offset, campaign_report), len(records) - start
