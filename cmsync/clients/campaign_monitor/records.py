"""Typed records of what Campaign Monitor returns, and what cmsync sends it.

CM's dates have no zone: they are in the time zone of the client that owns the data
(``ClientDetails.timezone``); records keep them naive, and ``since`` parameters take them back as they came.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from cmsync.clients.campaign_monitor.fields import RecordReader

CampaignReport = Literal["recipients", "opens", "clicks", "bounces", "unsubscribes", "spam"]
JourneyReport = Literal["recipients", "opens", "clicks", "unsubscribes", "bounces"]
ConsentToTrack = Literal["Yes", "No", "Unchanged"]
_TIMEZONE_OFFSET = re.compile(r"^\(GMT(?:([+-])(\d{1,2}):(\d{2}))?\)")


class SubscriberState(StrEnum):
    """A subscriber's state on a list."""

    ACTIVE = "Active"
    UNCONFIRMED = "Unconfirmed"
    UNSUBSCRIBED = "Unsubscribed"
    BOUNCED = "Bounced"
    DELETED = "Deleted"


_STATES = {state.value: state for state in SubscriberState}
"""``State`` as CM spells it → the state."""


def parse_date(text: str | None) -> datetime | None:
    """A CM date (``YYYY-MM-DD HH:MM:SS``, client time) as a naive datetime; None when empty."""
    if not text:
        return None
    return datetime.fromisoformat(text)


def date_parameter(moment: datetime) -> str:
    """A ``date=`` value: CM dates are to the minute, so this one is too (it then includes that minute)."""
    if moment.tzinfo is not None:
        raise ValueError("since must be naive, in the client's time zone, as CM returns its dates")
    return moment.strftime("%Y-%m-%d %H:%M")


def utc_offset(timezone: str) -> timedelta | None:
    """The offset a CM time zone name starts with (``(GMT+10:00) Brisbane`` → +10h), if it has one.

    The name gives the standard offset; in zones with daylight saving CM's dates may be an hour off it.
    """
    match = _TIMEZONE_OFFSET.match(timezone.strip())
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if sign is None:
        return timedelta(0)
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    return -offset if sign == "-" else offset


@dataclass(frozen=True, slots=True)
class ClientSummary:
    client_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ClientDetails:
    client_id: str
    company_name: str
    contact_name: str
    email_address: str
    country: str
    timezone: str

    @property
    def utc_offset(self) -> timedelta | None:
        """How far the client's dates are ahead of UTC (None when the zone name has no offset)."""
        return utc_offset(self.timezone)


@dataclass(frozen=True, slots=True)
class ListSummary:
    list_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ListDetails:
    list_id: str
    title: str
    unsubscribe_setting: str
    confirmed_opt_in: bool
    unsubscribe_page: str
    confirmation_success_page: str


@dataclass(frozen=True, slots=True)
class CustomField:
    """A list's custom field; ``key`` is written ``[Key]``."""

    field_name: str
    key: str
    data_type: str
    options: tuple[str, ...]
    visible_in_preference_center: bool


class CustomFieldValue(NamedTuple):
    """One value of a subscriber's custom field (several for multi-select fields).

    CM returns ``key`` as the field's name, without brackets; send it as ``[Key]`` or as the name. ``clear``
    removes the field's value when sent. A named tuple, as ``Subscriber``: a list's read builds several per
    member, and a tuple is built in half the time of a frozen dataclass.
    """

    key: str
    value: str
    clear: bool = False


class Subscriber(NamedTuple):
    """One email on one list; ``date`` is its last change of state, ``joined`` when it was first added. A named
    tuple: a list's read builds one per member, in a third of the time a frozen dataclass takes."""

    email: str
    name: str
    state: SubscriberState
    date: datetime
    joined: datetime | None
    custom_fields: tuple[CustomFieldValue, ...]
    reads_email_with: str
    consent_to_track: str | None


@dataclass(frozen=True, slots=True)
class SubscriberDetails:
    """What to send for an add, update or import; ``name`` None leaves the name as it is."""

    email: str
    name: str | None = None
    custom_fields: tuple[CustomFieldValue, ...] = ()
    consent_to_track: ConsentToTrack = "Unchanged"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"EmailAddress": self.email}
        if self.name is not None:
            body["Name"] = self.name
        body["CustomFields"] = [
            {"Key": field.key, "Value": field.value, **({"Clear": True} if field.clear else {})}
            for field in self.custom_fields
        ]
        body["ConsentToTrack"] = self.consent_to_track
        return body


@dataclass(frozen=True, slots=True)
class ImportFailure:
    email: str
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What a bulk import did; ``failures`` lists the emails CM refused (code 210 is not raised)."""

    unique_emails_submitted: int
    existing_subscribers: int
    new_subscribers: int
    duplicate_emails: tuple[str, ...]
    failures: tuple[ImportFailure, ...]


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    name: str
    subject: str
    from_name: str
    from_email: str
    reply_to: str
    sent_date: datetime
    total_recipients: int
    web_version_url: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    name: str
    recipients: int
    total_opened: int
    unique_opened: int
    clicks: int
    unsubscribed: int
    bounced: int
    spam_complaints: int
    web_version_url: str


@dataclass(frozen=True, slots=True)
class JourneySummary:
    journey_id: str
    list_id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class JourneyEmail:
    email_id: str
    name: str
    sent: int
    opened: int
    unique_opened: int
    clicked: int
    unsubscribed: int
    bounced: int


@dataclass(frozen=True, slots=True)
class JourneyDetails:
    journey_id: str
    name: str
    trigger_type: str
    status: str
    emails: tuple[JourneyEmail, ...]


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One tracking record of a campaign or journey email.

    ``kind`` is the report it came from. ``list_id`` is None for journeys; ``date`` is None for campaign
    recipients (CM gives no date; the campaign's sent date applies).
    """

    kind: str
    email: str
    list_id: str | None
    date: datetime | None
    ip_address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    city: str = ""
    region: str = ""
    country_code: str = ""
    country_name: str = ""
    url: str = ""
    bounce_type: str = ""
    reason: str = ""


def client_details(body: dict[str, Any]) -> ClientDetails:
    basic = body["BasicDetails"]
    return ClientDetails(
        basic["ClientID"],
        basic.get("CompanyName", ""),
        basic.get("ContactName", ""),
        basic.get("EmailAddress", ""),
        basic.get("Country", ""),
        basic.get("TimeZone", ""),
    )


def list_details(body: dict[str, Any]) -> ListDetails:
    return ListDetails(
        body["ListID"],
        body.get("Title", ""),
        body.get("UnsubscribeSetting", ""),
        bool(body.get("ConfirmedOptIn")),
        body.get("UnsubscribePage") or "",
        body.get("ConfirmationSuccessPage") or "",
    )


def custom_field(body: dict[str, Any]) -> CustomField:
    return CustomField(
        body["FieldName"],
        body["Key"],
        body.get("DataType", ""),
        tuple(body.get("FieldOptions") or ()),
        bool(body.get("VisibleInPreferenceCenter", True)),
    )


def subscriber(body: Any) -> Subscriber:
    """A subscriber record (``StateChangedDate`` is read when ``Date`` is missing, as some API versions send).

    Raises ``UnreadableRecordError`` naming the field when the record is not what CM documents."""
    return _plain_subscriber(body) or _checked_subscriber(body)


def _plain_subscriber(body: Any) -> Subscriber | None:
    """A subscriber whose every field is of the commonest documented form (text, a valid ``Date``, text custom
    field values), read without a ``RecordReader``; None for any other record, which ``_checked_subscriber``
    reads or refuses with the field named. A page of 1,000 is read in half the time."""
    if type(body) is not dict:
        return None
    get = body.get
    email, name, state, date, joined = (
        get("EmailAddress"),
        get("Name"),
        get("State"),
        get("Date"),
        get("ListJoinedDate"),
    )
    reads, consent, fields = get("ReadsEmailWith"), get("ConsentToTrack"), get("CustomFields")
    if type(email) is not str or "@" not in email or type(state) is not str or state not in _STATES:
        return None
    if type(date) is not str or not date or not (joined is None or type(joined) is str):
        return None
    if not (name is None or type(name) is str) or not (reads is None or type(reads) is str):
        return None
    if not (consent is None or type(consent) is str) or not (fields is None or type(fields) is list):
        return None
    values = []
    for field in fields or ():
        if type(field) is not dict:
            return None
        key, value = field.get("Key"), field.get("Value")
        if type(key) is not str or not key or not (value is None or type(value) is str):
            return None
        values.append(CustomFieldValue(key, value or ""))
    try:
        moment = datetime.fromisoformat(date)
        joined_at = moment if joined == date else datetime.fromisoformat(joined) if joined else None
    except ValueError:
        return None
    return Subscriber(email, name or "", _STATES[state], moment, joined_at, tuple(values), reads or "", consent or None)


def _checked_subscriber(body: Any) -> Subscriber:
    record = RecordReader("subscriber", body)
    email = record.email_address()
    state = _STATES.get(record.text("State"))
    if state is None:
        raise record.fail("State", "is not a subscriber state")
    date = record.date("Date", "StateChangedDate")
    if date is None:
        raise record.fail("Date", "is missing")
    return Subscriber(
        email,
        record.text("Name"),
        state,
        date,
        record.date("ListJoinedDate"),
        tuple(_custom_field_value(record, field) for field in record.objects("CustomFields")),
        record.text("ReadsEmailWith"),
        record.text("ConsentToTrack") or None,
    )


def _custom_field_value(record: RecordReader, field: dict[str, Any]) -> CustomFieldValue:
    key, value = field.get("Key"), field.get("Value")
    if not isinstance(key, str) or not key:
        raise record.fail("CustomFields", "has a field without a Key")
    if value is not None and not isinstance(value, str | int | float):
        raise record.fail("CustomFields", f"has a value of {key!r} that is not text")
    return CustomFieldValue(key, "" if value is None else str(value))


def import_result(body: dict[str, Any]) -> ImportResult:
    return ImportResult(
        int(body.get("TotalUniqueEmailsSubmitted", 0)),
        int(body.get("TotalExistingSubscribers", 0)),
        int(body.get("TotalNewSubscribers", 0)),
        tuple(body.get("DuplicateEmailsInSubmission") or ()),
        tuple(
            ImportFailure(failure.get("EmailAddress", ""), int(failure.get("Code", 0)), failure.get("Message", ""))
            for failure in body.get("FailureDetails") or ()
        ),
    )


def campaign(body: dict[str, Any]) -> Campaign:
    sent = parse_date(body.get("SentDate"))
    if sent is None:
        raise ValueError(f"campaign {body.get('CampaignID')!r} has no SentDate")
    return Campaign(
        body["CampaignID"],
        body.get("Name", ""),
        body.get("Subject", ""),
        body.get("FromName", ""),
        body.get("FromEmail", ""),
        body.get("ReplyTo", ""),
        sent,
        int(body.get("TotalRecipients", 0)),
        body.get("WebVersionURL", ""),
        tuple(body.get("Tags") or ()),
    )


def campaign_summary(body: dict[str, Any]) -> CampaignSummary:
    return CampaignSummary(
        body.get("Name", ""),
        int(body.get("Recipients", 0)),
        int(body.get("TotalOpened", 0)),
        int(body.get("UniqueOpened", 0)),
        int(body.get("Clicks", 0)),
        int(body.get("Unsubscribed", 0)),
        int(body.get("Bounced", 0)),
        int(body.get("SpamComplaints", 0)),
        body.get("WebVersionURL", ""),
    )


def journey_summary(body: dict[str, Any]) -> JourneySummary:
    return JourneySummary(body["JourneyID"], body.get("ListID", ""), body.get("Name", ""), body.get("Status", ""))


def journey_details(body: dict[str, Any]) -> JourneyDetails:
    return JourneyDetails(
        body["JourneyID"],
        body.get("Name", ""),
        body.get("TriggerType", ""),
        body.get("Status", ""),
        tuple(
            JourneyEmail(
                email["EmailID"],
                email.get("Name", ""),
                int(email.get("Sent", 0)),
                int(email.get("Opened", 0)),
                int(email.get("UniqueOpened", 0)),
                int(email.get("Clicked", 0)),
                int(email.get("Unsubscribed", 0)),
                int(email.get("Bounced", 0)),
            )
            for email in body.get("Emails") or ()
        ),
    )


def tracking_event(kind: str, body: Any) -> TrackingEvent:
    """One event of a report; raises ``UnreadableRecordError`` naming the field when it is not as documented."""
    record = RecordReader(kind, body)
    return TrackingEvent(
        kind,
        record.email_address(),
        record.text("ListID") or None,
        record.date("Date", "SentDate"),
        record.text("IPAddress"),
        record.number("Latitude"),
        record.number("Longitude"),
        record.text("City"),
        record.text("Region"),
        record.text("CountryCode"),
        record.text("CountryName"),
        record.text("URL"),
        record.text("BounceType"),
        record.text("Reason"),
    )
