"""The Campaign Monitor API v3.3 resources: one handler per endpoint, each answering ``(status, body)``;
the body is a JSON value, or ``bytes`` already JSON text (subscriber pages, the largest answers).

The app (``app.py``) matches a call to its route, signs it in and injects faults around these handlers.
"""

from functools import partial
from typing import Any

from werkzeug.wrappers import Request

from cmsync_sandbox.campaign_monitor import shapes
from cmsync_sandbox.campaign_monitor.dates import parse_date
from cmsync_sandbox.campaign_monitor.errors import ApiError
from cmsync_sandbox.campaign_monitor.model import (
    CAMPAIGN_EVENT_KINDS,
    JOURNEY_EVENT_KINDS,
    STATES,
    Campaign,
    Client,
    EventLog,
)
from cmsync_sandbox.campaign_monitor.parsing import Paging, flag, json_body, paging, query, subscriber_input
from cmsync_sandbox.campaign_monitor.state import AccountState
from cmsync_sandbox.campaign_monitor.views import page_of
from cmsync_sandbox.routing import Route

API = "/api/v3.3"


def _get(path: str, name: str, handler: Any) -> Route:
    return Route(f"{API}{path}.json", ("GET",), f"GET {name}", "rest", handler)


class Resources:
    """The account's API: clients, lists, custom fields, subscribers, campaigns, journeys and their reports."""

    def __init__(self, state: AccountState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """One route per endpoint name, so the call log counts each endpoint (and each state or report) apart."""
        return [
            _get("/clients", "/clients", self.clients),
            _get("/clients/<client_id>", "/clients/{clientid}", self.client_details),
            _get("/clients/<client_id>/lists", "/clients/{clientid}/lists", self.client_lists),
            _get("/clients/<client_id>/campaigns", "/clients/{clientid}/campaigns", self.client_campaigns),
            _get("/clients/<client_id>/journeys", "/clients/{clientid}/journeys", self.client_journeys),
            _get("/lists/<list_id>", "/lists/{listid}", self.list_details),
            _get("/lists/<list_id>/customfields", "/lists/{listid}/customfields", self.custom_fields),
            Route(
                f"{API}/lists/<list_id>/customfields.json",
                ("POST",),
                "POST /lists/{listid}/customfields",
                "rest",
                self.create_custom_field,
            ),
            Route(
                f"{API}/lists/<list_id>/customfields/<key>.json",
                ("DELETE",),
                "DELETE /lists/{listid}/customfields/{key}",
                "rest",
                self.delete_custom_field,
            ),
            *self._subscriber_routes(),
            _get("/campaigns/<campaign_id>/summary", "/campaigns/{campaignid}/summary", self.campaign_summary),
            _get("/journeys/<journey_id>", "/journeys/{journeyid}", self.journey_details),
            *self._report_routes(),
        ]

    def _subscriber_routes(self) -> list[Route]:
        one = f"{API}/subscribers/<list_id>"
        return [
            Route(f"{one}.json", ("GET",), "GET /subscribers/{listid}", "rest", self.subscriber),
            Route(f"{one}.json", ("POST",), "POST /subscribers/{listid}", "rest", self.add_subscriber),
            Route(f"{one}.json", ("PUT",), "PUT /subscribers/{listid}", "rest", self.update_subscriber),
            Route(f"{one}.json", ("DELETE",), "DELETE /subscribers/{listid}", "rest", self.delete_subscriber),
            Route(
                f"{one}/unsubscribe.json", ("POST",), "POST /subscribers/{listid}/unsubscribe", "rest", self.unsubscribe
            ),
            Route(
                f"{one}/import.json", ("POST",), "POST /subscribers/{listid}/import", "rest", self.import_subscribers
            ),
        ]

    def _report_routes(self) -> list[Route]:
        """A route per subscriber state of a list and per tracking report of a campaign or journey email."""
        return [
            *(
                _get(
                    f"/lists/<list_id>/{state.lower()}",
                    f"/lists/{{listid}}/{state.lower()}",
                    partial(self.list_subscribers, state),
                )
                for state in STATES
            ),
            *(
                _get(
                    f"/campaigns/<campaign_id>/{kind}",
                    f"/campaigns/{{campaignid}}/{kind}",
                    partial(self.campaign_report, kind),
                )
                for kind in CAMPAIGN_EVENT_KINDS
            ),
            *(
                _get(
                    f"/journeys/email/<email_id>/{kind}",
                    f"/journeys/email/{{emailid}}/{kind}",
                    partial(self.journey_report, kind),
                )
                for kind in JOURNEY_EVENT_KINDS
            ),
        ]

    # Account, clients and lists.

    def clients(self, _request: Request) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.client_summary(client) for client in self.state.clients.values()]

    def client_details(self, _request: Request, client_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.client_details(self.state.client(client_id))

    def client_lists(self, _request: Request, client_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.list_summary(each) for each in self.state.client(client_id).lists]

    def client_journeys(self, _request: Request, client_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.journey_summary(journey) for journey in self.state.client(client_id).journeys]

    def client_campaigns(self, request: Request, client_id: str) -> tuple[int, Any]:
        params = query(request)
        with self.state.lock:
            client = self.state.client(client_id)
            offset = client.utc_offset_minutes
            chosen = _campaigns_sent(client, params)
            page = paging(params, fields=(), default_field="SentDate", default_direction="desc")
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

    def list_details(self, _request: Request, list_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.list_details(self.state.mailing_list(list_id))

    def custom_fields(self, _request: Request, list_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, [shapes.custom_field(field) for field in self.state.mailing_list(list_id).fields.values()]

    def create_custom_field(self, request: Request, list_id: str) -> tuple[int, Any]:
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

    def delete_custom_field(self, _request: Request, list_id: str, key: str) -> tuple[int, Any]:
        self.state.delete_custom_field(list_id, key)
        return 200, None

    # Subscribers.

    def list_subscribers(self, state_name: str, request: Request, list_id: str) -> tuple[int, Any]:
        params = query(request)
        with self.state.lock:
            mailing_list = self.state.mailing_list(list_id)
            offset = self.state.offset_of(mailing_list.client_id)
            since = parse_date(params.get("date", ""), offset)
            page = paging(params, fields=("email", "name", "date"), default_field="email", default_direction="asc")
            records, start = mailing_list.views[state_name].select(page.field, since)
            chosen = page_of(records, start, page.number, page.size, page.descending)
            with_consent = flag(params.get("includetrackingpreference", ""))
            texts = [shapes.subscriber_text(record, offset, with_consent) for record in chosen]
            total = len(records) - start
        return 200, shapes.paged_text(
            texts,
            ordered_by=page.field,
            direction=page.direction,
            number=page.number,
            size=page.size,
            total=total,
        )

    def subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        params = query(request)
        with self.state.lock:
            mailing_list = self.state.mailing_list(list_id)
            found = self.state.member(mailing_list, params.get("email", ""))
            offset = self.state.offset_of(mailing_list.client_id)
            return 200, shapes.subscriber(found, offset, flag(params.get("includetrackingpreference", "")))

    def add_subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        body = json_body(request)
        added = self.state.add_subscriber(
            list_id,
            subscriber_input(body, consent_required=True),
            resubscribe=flag(body.get("resubscribe")),
            restart_journeys=flag(body.get("restartsubscriptionbasedautoresponders")),
        )
        return 201, added.email

    def update_subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
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

    def unsubscribe(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.mailing_list(list_id)
        self.state.unsubscribe(list_id, str(json_body(request).get("emailaddress") or ""))
        return 200, None

    def delete_subscriber(self, request: Request, list_id: str) -> tuple[int, Any]:
        self.state.delete_subscriber(list_id, query(request).get("email", ""))
        return 200, None

    def import_subscribers(self, request: Request, list_id: str) -> tuple[int, Any]:
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

    def campaign_summary(self, _request: Request, campaign_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.campaign_summary(self.state.campaign(campaign_id))

    def campaign_report(self, kind: str, request: Request, campaign_id: str) -> tuple[int, Any]:
        params = query(request)
        default_field = "email" if kind == "recipients" else "date"
        with self.state.lock:
            campaign = self.state.campaign(campaign_id)
            offset = self.state.offset_of(campaign.client_id)
            since = None if kind == "recipients" else parse_date(params.get("date", ""), offset)
            page = paging(
                params, fields=("email", "list", "date"), default_field=default_field, default_direction="asc"
            )
            results, total = _events(campaign.events[kind], kind, since, page, offset, campaign_report=True)
        return 200, shapes.paged(
            results,
            ordered_by=page.field,
            direction=page.direction,
            number=page.number,
            size=page.size,
            total=total,
        )

    def journey_details(self, _request: Request, journey_id: str) -> tuple[int, Any]:
        with self.state.lock:
            return 200, shapes.journey_details(self.state.journey(journey_id))

    def journey_report(self, kind: str, request: Request, email_id: str) -> tuple[int, Any]:
        params = query(request)
        with self.state.lock:
            journey, email = self.state.journey_email(email_id)
            offset = self.state.offset_of(journey.client_id)
            since = parse_date(params.get("date", ""), offset)
            page = paging(params, fields=(), default_field="date", default_direction="asc")
            results, total = _events(email.events[kind], kind, since, page, offset, campaign_report=False)
        return 200, shapes.paged(
            results,
            ordered_by="SentDate" if kind == "recipients" else "Date",
            direction=page.direction.upper(),
            number=page.number,
            size=page.size,
            total=total,
        )


def _events(
    log: EventLog, kind: str, since: int | None, page: Paging, offset: int, *, campaign_report: bool
) -> tuple[list[dict[str, Any]], int]:
    """One page of a tracking report, and how many records the report has from ``since`` on."""
    records, start = log.views.select(page.field, since)
    chosen = page_of(records, start, page.number, page.size, page.descending)
    return shapes.events(kind, chosen, offset, campaign_report), len(records) - start


def _campaigns_sent(client: Client, params: dict[str, str]) -> list[Campaign]:
    """A client's campaigns sent in the asked dates (whole days) with any of the asked tags, oldest first."""
    offset = client.utc_offset_minutes
    sent_from = parse_date(params.get("sentfromdate", ""), offset, error_code=920)
    sent_to = parse_date(params.get("senttodate", ""), offset, error_code=922)
    tags = {tag.strip().lower() for tag in params.get("tags", "").split(",") if tag.strip()}
    return sorted(
        (
            campaign
            for campaign in client.campaigns
            if (sent_from is None or campaign.sent >= sent_from)
            and (sent_to is None or campaign.sent < sent_to + 86400)
            and (not tags or tags & {tag.lower() for tag in campaign.tags})
        ),
        key=lambda campaign: (campaign.sent, campaign.campaign_id),
    )
