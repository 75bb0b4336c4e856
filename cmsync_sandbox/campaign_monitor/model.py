"""The emulated account's records: clients, lists, subscribers, campaigns, journeys and tracking events.

Subscribers and events use ``__slots__`` and share their repeated values (field tuples, locations), so a
million subscribers fit in a few hundred megabytes. Instants are UTC epoch seconds, whole minutes.
"""

from dataclasses import dataclass, field
from operator import attrgetter

from cmsync_sandbox.campaign_monitor.views import SortedViews

STATES = ("Active", "Unconfirmed", "Unsubscribed", "Bounced", "Deleted")
"""Subscriber states, as CM names them; list endpoints use the lower-case name in the path."""
INACTIVE_STATE_CODES = {"Deleted": 205, "Unsubscribed": 206, "Bounced": 207, "Unconfirmed": 208}
"""The import failure code for an existing subscriber that ``Resubscribe: false`` leaves as it is."""
FIELD_TYPES = ("Text", "Number", "MultiSelectOne", "MultiSelectMany", "Date", "Country", "USState")
CAMPAIGN_EVENT_KINDS = ("recipients", "opens", "clicks", "bounces", "unsubscribes", "spam")
JOURNEY_EVENT_KINDS = ("recipients", "opens", "clicks", "unsubscribes", "bounces")


@dataclass(slots=True, eq=False)
class Subscriber:
    """One email on one list. ``date`` is the last change of state; ``joined`` the first time it was added."""

    email: str
    key: str
    name: str
    state: str
    date: int
    joined: int
    fields: tuple[tuple[str, str], ...] = ()
    reads_with: str = ""
    consent: str = "Yes"
    text: bytes = field(default=b"", repr=False)
    """The record's JSON text as a page last showed it (``shapes.subscriber_text``)."""
    text_of: tuple[object, ...] = field(default=(), repr=False)
    """The values ``text`` was written from; it is written again when they differ."""


@dataclass(eq=False)
class CustomField:
    """A list's custom field; subscribers carry its values under ``name``."""

    name: str
    key: str
    data_type: str
    options: list[str] = field(default_factory=list)
    visible: bool = True


def _name_order(subscriber: Subscriber) -> str:
    return subscriber.name.casefold()


class MailingList:
    """A subscriber list: its settings, custom fields, and members by email key and by state."""

    def __init__(
        self,
        list_id: str,
        client_id: str,
        title: str,
        *,
        confirmed_opt_in: bool = False,
        unsubscribe_setting: str = "AllClientLists",
    ) -> None:
        self.list_id = list_id
        self.client_id = client_id
        self.title = title
        self.confirmed_opt_in = confirmed_opt_in
        self.unsubscribe_setting = unsubscribe_setting
        self.unsubscribe_page = ""
        self.confirmation_success_page = ""
        self.fields: dict[str, CustomField] = {}
        self.members: dict[str, Subscriber] = {}
        self.by_state: dict[str, dict[str, Subscriber]] = {state: {} for state in STATES}
        self.views: dict[str, SortedViews[Subscriber]] = {
            state: SortedViews(
                self.by_state[state].values,
                {"email": attrgetter("key"), "name": _name_order, "date": attrgetter("date")},
            )
            for state in STATES
        }

    def field_named(self, key_or_name: str) -> CustomField | None:
        """The field a subscriber's ``Key`` means: ``[key]``, ``key`` or the field name, any case."""
        wanted = key_or_name.strip().strip("[]").replace(" ", "").casefold()
        return self.fields.get(wanted)

    def add_field(self, custom_field: CustomField) -> None:
        self.fields[custom_field.key.strip("[]").casefold()] = custom_field

    def insert(self, subscriber: Subscriber) -> None:
        """Add a new member (its email key must not be on the list yet)."""
        self.members[subscriber.key] = subscriber
        self.by_state[subscriber.state][subscriber.key] = subscriber
        self.views[subscriber.state].changed()

    def move(self, subscriber: Subscriber, state: str, instant: int) -> bool:
        """Change a member's state as of ``instant``; False when it already was in that state."""
        if subscriber.state == state:
            return False
        del self.by_state[subscriber.state][subscriber.key]
        self.views[subscriber.state].changed()
        subscriber.state = state
        subscriber.date = instant
        self.by_state[state][subscriber.key] = subscriber
        self.views[state].changed()
        return True

    def rekey(self, subscriber: Subscriber, email: str) -> None:
        """Change a member's email address (its state and date stay as they are)."""
        del self.members[subscriber.key]
        del self.by_state[subscriber.state][subscriber.key]
        subscriber.email = email
        subscriber.key = email.lower()
        self.members[subscriber.key] = subscriber
        self.by_state[subscriber.state][subscriber.key] = subscriber
        self.views[subscriber.state].changed()


@dataclass
class Client:
    """A client of the account, with the time zone its dates are shown in."""

    client_id: str
    name: str
    contact_name: str
    email: str
    country: str
    timezone: str
    utc_offset_minutes: int
    api_key: str
    lists: list[MailingList] = field(default_factory=list)
    campaigns: list["Campaign"] = field(default_factory=list)
    journeys: list["Journey"] = field(default_factory=list)


@dataclass(frozen=True)
class Location:
    """Where an open or click came from (shared by many events)."""

    ip: str
    latitude: float
    longitude: float
    city: str
    region: str
    country_code: str
    country_name: str


@dataclass(slots=True, eq=False)
class Event:
    """One tracking record: a recipient, open, click, bounce, unsubscribe or spam complaint."""

    email: str
    key: str
    list_id: str
    date: int
    location: Location | None = None
    url: str = ""
    bounce_type: str = ""
    reason: str = ""


def _list_order(event: Event) -> str:
    return event.list_id


class EventLog:
    """The events of one kind for one campaign or journey email, pageable by date, email or list."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.views: SortedViews[Event] = SortedViews(
            lambda: self.events, {"email": attrgetter("key"), "list": _list_order, "date": attrgetter("date")}
        )

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.views.changed()

    def __len__(self) -> int:
        return len(self.events)

    def unique_emails(self) -> int:
        return len({event.key for event in self.events})


@dataclass(eq=False)
class Campaign:
    """A sent campaign and its tracking events."""

    campaign_id: str
    client_id: str
    name: str
    subject: str
    from_name: str
    from_email: str
    sent: int
    list_ids: list[str]
    tags: list[str] = field(default_factory=list)
    events: dict[str, EventLog] = field(default_factory=lambda: {kind: EventLog() for kind in CAMPAIGN_EVENT_KINDS})

    @property
    def web_version_url(self) -> str:
        return f"https://campaigns.example.com/t/r-{self.campaign_id[:16].upper()}"


@dataclass(eq=False)
class JourneyEmail:
    """One email of a journey, sent ``delay`` seconds after the subscriber joined."""

    email_id: str
    name: str
    delay: int
    events: dict[str, EventLog] = field(default_factory=lambda: {kind: EventLog() for kind in JOURNEY_EVENT_KINDS})


@dataclass(eq=False)
class Journey:
    """A journey ("On Subscription") on one list; active journeys start when someone joins the list."""

    journey_id: str
    client_id: str
    list_id: str
    name: str
    status: str
    created: int
    emails: list[JourneyEmail] = field(default_factory=list)


@dataclass(frozen=True)
class JourneyTrigger:
    """A journey (or autoresponder) that a subscription started, and what caused it."""

    journey_id: str
    list_id: str
    email: str
    date: int
    cause: str
