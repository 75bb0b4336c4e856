"""``CampaignMonitorClient``: the Campaign Monitor API v3.3 calls cmsync makes, typed and paged lazily.

Paged reads are generators: each yields records as it reads them and fetches the next page only when the
caller gets there, so memory stays flat however long the list. Every call goes through the transport
(timeouts, retries, token refresh, typed errors, metrics per endpoint class).
"""

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote

import requests

from cmsync.clients.campaign_monitor import records
from cmsync.clients.campaign_monitor.answers import Shape, json_array, json_object, json_page
from cmsync.clients.campaign_monitor.auth import ApiKey, Authenticator, OAuth, token_url
from cmsync.clients.campaign_monitor.errors import BadRequestError, ErrorCode, UnreadableRecordError
from cmsync.clients.campaign_monitor.paging import PAGE_SIZE, PAGES_AHEAD, iterate_pages, read_pages
from cmsync.clients.campaign_monitor.records import (
    Campaign,
    CampaignReport,
    CampaignSummary,
    ClientDetails,
    ClientSummary,
    CustomField,
    ImportResult,
    JourneyDetails,
    JourneyReport,
    JourneySummary,
    ListDetails,
    ListSummary,
    Subscriber,
    SubscriberDetails,
    SubscriberState,
    TrackingEvent,
)
from cmsync.clients.campaign_monitor.retry import RetryPolicy
from cmsync.clients.campaign_monitor.subscriber_pages import SubscriberPage, fingerprint, page_problem, running_counts
from cmsync.clients.campaign_monitor.transport import CallCounts, Transport
from cmsync.config.model import CampaignMonitorSettings, CmApiKeyAuth

Direction = Literal["asc", "desc"]
SubscriberOrder = Literal["email", "name", "date"]
IMPORT_BATCH = 1000
"""CM's most subscribers in one import call."""
T = TypeVar("T")
Unreadable = Callable[[UnreadableRecordError], None] | None
"""Where a paged read hands a record it cannot read (None: raise it)."""


def _id(value: str) -> str:
    return quote(value, safe="")


def _subscriber_body(subscriber: SubscriberDetails, resubscribe: bool, restart_journeys: bool) -> dict[str, Any]:
    """The body of a single add or update."""
    return {
        **subscriber.as_json(),
        "Resubscribe": resubscribe,
        "RestartSubscriptionBasedAutoresponders": restart_journeys,
    }


def _results(body: bytes, checked: Callable[[], list[Any]]) -> list[Any]:
    """The ``Results`` of a page's body, or the page read again through ``checked`` when the body is not a page."""
    try:
        page = json.loads(body)
    except ValueError:
        return checked()
    return list(page["Results"]) if json_page(page) is None else checked()


def _said(page: SubscriberPage) -> tuple[int, int]:
    return page.records, page.pages


class CampaignMonitorClient:
    """A thin, typed client of the Campaign Monitor API; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        auth: Authenticator,
        *,
        timeout: float = 30.0,
        ca_file: Path | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.transport = Transport(base_url, auth, timeout=timeout, ca_file=ca_file, retry=retry, session=session)
        self.page_size = page_size

    @classmethod
    def from_settings(cls, settings: CampaignMonitorSettings, *, retry: RetryPolicy | None = None) -> Self:
        """A client for the ``campaign_monitor`` section of the settings."""
        auth: Authenticator
        if isinstance(settings.auth, CmApiKeyAuth):
            auth = ApiKey(settings.auth.api_key)
        else:
            auth = OAuth(
                settings.auth.client_id,
                settings.auth.client_secret,
                settings.auth.refresh_token,
                token_url=token_url(settings.base_url),
            )
        return cls(
            settings.base_url,
            auth,
            timeout=settings.timeout.total_seconds(),
            ca_file=settings.ca_file,
            retry=retry,
        )

    @property
    def counts(self) -> CallCounts:
        """Calls and errors per endpoint class made by this client."""
        return self.transport.counts

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CampaignMonitorClient({self.transport.base_url!r})"

    def _get(
        self, endpoint: str, path: str, params: dict[str, str] | None = None, *, shape: Shape = json_object
    ) -> Any:
        return self.transport.read(endpoint, "GET", path, params=params, shape=shape)

    def _pages(self, endpoint: str, path: str, params: dict[str, str], *, ahead: int = 0) -> Iterator[dict[str, Any]]:
        def fetch(number: int) -> dict[str, Any]:
            page: dict[str, Any] = self._get(
                endpoint, path, {**params, "page": str(number), "pagesize": str(self.page_size)}, shape=json_page
            )
            return page

        return iterate_pages(fetch, ahead=ahead)

    def _records(
        self,
        endpoint: str,
        path: str,
        params: dict[str, str],
        parse: Callable[[Any], T],
        unreadable: Unreadable,
        *,
        ahead: int = 0,
    ) -> Iterator[T]:
        """The parsed records of a paged read; a record that cannot be read goes to ``unreadable`` (the rest
        of its page is still read), or is raised when no ``unreadable`` is given."""
        for item in self._pages(endpoint, path, params, ahead=ahead):
            try:
                yield parse(item)
            except UnreadableRecordError as error:
                if unreadable is None:
                    raise
                unreadable(error)

    # Account, clients and lists.

    def clients(self) -> list[ClientSummary]:
        """The account's clients."""
        body = self._get("clients", "/clients.json", shape=json_array)
        return [records.ClientSummary(item["ClientID"], item["Name"]) for item in body]

    def client_details(self, client_id: str) -> ClientDetails:
        """A client's details, with the time zone its dates are in."""
        return records.client_details(self._get("client_details", f"/clients/{_id(client_id)}.json"))

    def lists(self, client_id: str) -> list[ListSummary]:
        """A client's subscriber lists."""
        body = self._get("client_lists", f"/clients/{_id(client_id)}/lists.json", shape=json_array)
        return [records.ListSummary(item["ListID"], item["Name"]) for item in body]

    def list_details(self, list_id: str) -> ListDetails:
        return records.list_details(self._get("list_details", f"/lists/{_id(list_id)}.json"))

    def custom_fields(self, list_id: str) -> list[CustomField]:
        body = self._get("custom_fields", f"/lists/{_id(list_id)}/customfields.json", shape=json_array)
        return [records.custom_field(item) for item in body]

    def create_custom_field(
        self,
        list_id: str,
        field_name: str,
        data_type: str,
        *,
        options: Sequence[str] = (),
        visible_in_preference_center: bool = True,
    ) -> str:
        """Create a custom field; returns its key (``[FieldName]``)."""
        body = {
            "FieldName": field_name,
            "DataType": data_type,
            "Options": list(options),
            "VisibleInPreferenceCenter": visible_in_preference_center,
        }
        key: str = self.transport.call(
            "create_custom_field", "POST", f"/lists/{_id(list_id)}/customfields.json", body=body
        ).json()
        return key

    def delete_custom_field(self, list_id: str, key: str) -> None:
        """Delete a custom field and its values; ``key`` is written ``[Key]``."""
        self.transport.call("delete_custom_field", "DELETE", f"/lists/{_id(list_id)}/customfields/{_id(key)}.json")

    # Subscribers.

    def subscribers(
        self,
        list_id: str,
        state: SubscriberState,
        *,
        since: datetime | None = None,
        order_field: SubscriberOrder = "date",
        order_direction: Direction = "asc",
        unreadable: Unreadable = None,
    ) -> Iterator[Subscriber]:
        """A list's subscribers in ``state`` whose ``date`` (last change of state) is ``since`` or later.

        ``since`` is naive, in the client's time zone, like the dates CM returns; ordered by date (oldest
        first) by default, so the last record read is the next watermark. A subscriber that cannot be read
        goes to ``unreadable`` (raised when it is None). The next pages are read while this one is worked on.
        """
        pages = self.subscriber_pages(
            list_id, state, since=since, order_field=order_field, order_direction=order_direction
        )
        for page in pages:
            yield from page.subscribers(unreadable)

    def subscriber_pages(
        self,
        list_id: str,
        state: SubscriberState,
        *,
        since: datetime | None = None,
        order_field: SubscriberOrder = "date",
        order_direction: Direction = "asc",
    ) -> Iterator[SubscriberPage]:
        """``subscribers`` a page at a time, each with the fingerprint of its body, parsed only when asked."""
        params = {
            "orderfield": order_field,
            "orderdirection": order_direction,
            "includetrackingpreference": "true",
        }
        if since is not None:
            params["date"] = records.date_parameter(since)
        path = f"/lists/{_id(list_id)}/{state.value.lower()}.json"

        def checked(paged: dict[str, str]) -> list[Any]:
            """A page's records read the way every read is checked (and retried when the body is not a page)."""
            page: dict[str, Any] = self._get("list_subscribers", path, paged, shape=json_page)
            return list(page["Results"])

        def fetch(number: int) -> SubscriberPage:
            paged = {**params, "page": str(number), "pagesize": str(self.page_size)}
            body = self.transport.read_body("list_subscribers", path, page_problem, params=paged)
            records_on_page, pages = running_counts(body) or (0, 0)
            return SubscriberPage(
                number, fingerprint(body), records_on_page, pages, partial(_results, body, partial(checked, paged))
            )

        return read_pages(fetch, _said, ahead=PAGES_AHEAD)

    def subscriber(self, list_id: str, email: str) -> Subscriber:
        """One subscriber of a list (``BadRequestError`` code 203 when the email is not on it)."""
        params = {"email": email, "includetrackingpreference": "true"}
        return records.subscriber(self._get("subscriber", f"/subscribers/{_id(list_id)}.json", params))

    def add_subscriber(
        self,
        list_id: str,
        subscriber: SubscriberDetails,
        *,
        resubscribe: bool = False,
        restart_journeys: bool = False,
    ) -> None:
        """Add or update a subscriber; an unsubscribed, bounced or deleted one comes back only with ``resubscribe``."""
        body = _subscriber_body(subscriber, resubscribe, restart_journeys)
        self.transport.call("add_subscriber", "POST", f"/subscribers/{_id(list_id)}.json", body=body)

    def update_subscriber(
        self,
        list_id: str,
        email: str,
        subscriber: SubscriberDetails,
        *,
        resubscribe: bool = False,
        restart_journeys: bool = False,
    ) -> None:
        """Update the subscriber now at ``email``; ``subscriber.email`` may be a new address."""
        body = _subscriber_body(subscriber, resubscribe, restart_journeys)
        path = f"/subscribers/{_id(list_id)}.json"
        self.transport.call("update_subscriber", "PUT", path, params={"email": email}, body=body)

    def unsubscribe(self, list_id: str, email: str) -> None:
        """Unsubscribe (from all the client's lists when the list's setting says so)."""
        body = {"EmailAddress": email}
        self.transport.call("unsubscribe", "POST", f"/subscribers/{_id(list_id)}/unsubscribe.json", body=body)

    def delete_subscriber(self, list_id: str, email: str) -> None:
        """Move a subscriber to the Deleted state."""
        path = f"/subscribers/{_id(list_id)}.json"
        self.transport.call("delete_subscriber", "DELETE", path, params={"email": email})

    def import_subscribers(
        self,
        list_id: str,
        subscribers: Sequence[SubscriberDetails],
        *,
        resubscribe: bool = False,
        start_journeys: bool = False,
        restart_journeys: bool = False,
    ) -> ImportResult:
        """Bulk add (at most ``IMPORT_BATCH``); refused emails come back in ``failures``, not as an error.

        ``start_journeys`` is CM's ``QueueSubscriptionBasedAutoResponders``: without it, imported
        subscribers do not start "joins a list" journeys.
        """
        body = {
            "Subscribers": [subscriber.as_json() for subscriber in subscribers],
            "Resubscribe": resubscribe,
            "QueueSubscriptionBasedAutoResponders": start_journeys,
            "RestartSubscriptionBasedAutoresponders": restart_journeys,
        }
        path = f"/subscribers/{_id(list_id)}/import.json"
        try:
            answer = self.transport.read("import_subscribers", "POST", path, body=body, shape=json_object)
        except BadRequestError as error:
            if error.code != ErrorCode.IMPORT_HAD_FAILURES or error.result_data is None:
                raise
            answer = error.result_data
        return records.import_result(answer)

    # Campaigns, journeys and tracking.

    def campaigns(
        self,
        client_id: str,
        *,
        sent_from: date | None = None,
        sent_to: date | None = None,
        tags: Sequence[str] = (),
        order_direction: Direction = "desc",
    ) -> Iterator[Campaign]:
        """A client's sent campaigns (newest first by default), optionally sent within dates."""
        params = {"orderdirection": order_direction}
        if sent_from is not None:
            params["sentfromdate"] = sent_from.isoformat()
        if sent_to is not None:
            params["senttodate"] = sent_to.isoformat()
        if tags:
            params["tags"] = ",".join(tags)
        path = f"/clients/{_id(client_id)}/campaigns.json"
        return (records.campaign(item) for item in self._pages("client_campaigns", path, params))

    def campaign_summary(self, campaign_id: str) -> CampaignSummary:
        return records.campaign_summary(self._get("campaign_summary", f"/campaigns/{_id(campaign_id)}/summary.json"))

    def campaign_events(
        self,
        campaign_id: str,
        kind: CampaignReport,
        *,
        since: datetime | None = None,
        order_direction: Direction = "asc",
        unreadable: Unreadable = None,
    ) -> Iterator[TrackingEvent]:
        """A campaign's recipients, opens, clicks, bounces, unsubscribes or spam complaints.

        Events are ordered by date (recipients, which have no date, by email) and ``since`` filters them
        (it does not apply to recipients). An event that cannot be read goes to ``unreadable``.
        """
        params = {"orderfield": "email" if kind == "recipients" else "date", "orderdirection": order_direction}
        if since is not None and kind != "recipients":
            params["date"] = records.date_parameter(since)
        path = f"/campaigns/{_id(campaign_id)}/{kind}.json"
        return self._records("campaign_report", path, params, partial(records.tracking_event, kind), unreadable)

    def journeys(self, client_id: str) -> list[JourneySummary]:
        body = self._get("client_journeys", f"/clients/{_id(client_id)}/journeys.json", shape=json_array)
        return [records.journey_summary(item) for item in body]

    def journey_details(self, journey_id: str) -> JourneyDetails:
        """A journey with its emails and their counts."""
        return records.journey_details(self._get("journey_details", f"/journeys/{_id(journey_id)}.json"))

    def journey_email_events(
        self,
        email_id: str,
        kind: JourneyReport,
        *,
        since: datetime | None = None,
        order_direction: Direction = "asc",
        unreadable: Unreadable = None,
    ) -> Iterator[TrackingEvent]:
        """A journey email's recipients, opens, clicks, unsubscribes or bounces, by date (an event that
        cannot be read goes to ``unreadable``)."""
        params = {"orderdirection": order_direction}
        if since is not None:
            params["date"] = records.date_parameter(since)
        path = f"/journeys/email/{_id(email_id)}/{kind}.json"
        return self._records("journey_report", path, params, partial(records.tracking_event, kind), unreadable)
