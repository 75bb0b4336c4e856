"""What Salesforce must hold, computed from Campaign Monitor alone (read over its API) and the settings:
one record per client, list, list member, campaign or journey email and tracking event (DESIGN.md §1, §3).

Lookups are expected as ``Ref(object, external key)``; the comparison resolves them against Salesforce.
Dates are CM's client-local text turned into UTC ``YYYY-MM-DDTHH:MM:SS``.
"""

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.apis import CM_STATES, CampaignMonitorApi
from tests.e2e.links import AnyOf, Expected, People

_ZONE = re.compile(r"^\(GMT(?:([+-])(\d{1,2}):(\d{2}))?\)")
_NAME_LENGTH = 80
MEMBER_KEY_LENGTH = 255
BOUNDARY_MARGIN = timedelta(hours=1)
"""Events this close to the ``days_to_keep`` edge may be in or out (the edge moves while a run lasts)."""
CAMPAIGN_REPORTS = {
    "sent": "recipients",
    "opened": "opens",
    "clicked": "clicks",
    "bounced": "bounces",
    "unsubscribed": "unsubscribes",
    "spam": "spam",
}
JOURNEY_REPORTS = {kind: report for kind, report in CAMPAIGN_REPORTS.items() if kind != "spam"}
ACTIVITY_TYPES = {
    "sent": "Sent",
    "opened": "Opened",
    "clicked": "Clicked",
    "bounced": "Bounced",
    "unsubscribed": "Unsubscribed",
    "spam": "Spam",
}


@dataclass(frozen=True)
class Ref:
    """A lookup to the record of ``sobject`` whose external ID is ``key``."""

    sobject: str
    key: str


@dataclass(frozen=True)
class Mapping:
    """A cm2sf field mapping: a list's CM field written onto the linked Contact and Lead."""

    list_id: str
    cm_field: str
    targets: dict[str, str | None]
    defaults: dict[str, str | None]

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> "Mapping":
        return cls(
            entry["list"],
            entry["cm_field"],
            {"Contact": entry.get("contact_field"), "Lead": entry.get("lead_field")},
            {"Contact": entry.get("default_contact_value"), "Lead": entry.get("default_lead_value")},
        )


@dataclass(frozen=True)
class OracleSettings:
    """The parts of cmsync's configuration that decide what Salesforce holds. ``create_only`` mappings
    depend on what a field held before the first run, so they are left out of the expectation."""

    clients: tuple[str, ...]
    tracking_enabled: bool = True
    tracking_types: tuple[str, ...] = tuple(ACTIVITY_TYPES)
    days_to_keep: int = 90
    mappings: tuple[Mapping, ...] = ()
    earlier_links: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per lower-cased email, the Contact/Lead it matched before its email was changed in Salesforce: tracking
    events keep the link they were imported with (DESIGN.md §4), so either that one or today's match is right."""

    @classmethod
    def from_config(
        cls, config: dict[str, Any], earlier_links: dict[str, dict[str, str]] | None = None
    ) -> "OracleSettings":
        tracking = config.get("tracking") or {}
        return cls(
            tuple(config["campaign_monitor"]["clients"]),
            bool(tracking.get("enabled", True)),
            tuple(tracking.get("types", ACTIVITY_TYPES)),
            int(tracking.get("days_to_keep", 90)),
            tuple(
                Mapping.from_config(entry)
                for entry in config.get("field_mappings") or []
                if entry.get("direction") == "cm2sf" and not entry.get("create_only")
            ),
            earlier_links or {},
        )


@dataclass
class Expectation:
    """Expected records per object: external key → field → value (``Optional`` records may be absent)."""

    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    optional: dict[str, set[str]] = field(default_factory=dict)
    mapped: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    """(Contact or Lead, Id) → field → the values cm2sf mappings must have written (several: any of them)."""

    def add(self, sobject: str, key: str, values: dict[str, Any]) -> None:
        self.records.setdefault(sobject, {})[key] = values

    def allow(self, sobject: str, key: str) -> None:
        self.optional.setdefault(sobject, set()).add(key)

    def map(self, object_name: str, record_id: str, field_name: str, value: str) -> None:
        self.mapped.setdefault((object_name, record_id), {}).setdefault(field_name, set()).add(value)


def utc_offset(timezone: str) -> timedelta:
    """The offset a CM time zone name starts with: ``(GMT+10:00) Brisbane`` → +10 h, ``(GMT) …`` → 0."""
    match = _ZONE.match(timezone)
    if match is None or match.group(1) is None:
        return timedelta(0)
    sign = -1 if match.group(1) == "-" else 1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def local_date(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def to_utc(text: str | None, offset: timedelta) -> str | None:
    return (local_date(text) - offset).strftime("%Y-%m-%dT%H:%M:%S") if text else None


def salesforce_length(text: str) -> int:
    """Salesforce counts a text field's length in UTF-16 code units: an emoji counts 2."""
    return len(text.encode("utf-16-le")) // 2


def head(text: str, length: int) -> str:
    """The longest start of ``text`` Salesforce counts as at most ``length`` characters."""
    while salesforce_length(text) > length:
        text = text[: min(length, len(text) - 1)]
    return text


def cut(text: str, length: int) -> str:
    """cmsync's shortening of a value longer than its field: as many characters as fit with "…" after them."""
    return text if salesforce_length(text) <= length else head(text, length - 1) + "…"


def member_key(list_id: str, email: str) -> str:
    """``CM_Member_Key__c`` (DESIGN.md §3): list ID, ":", the lower-cased email; a key longer than the field's
    255 characters keeps its start and ends with "#" and the SHA-256 hex of the whole key."""
    key = f"{list_id}:{email.lower()}"
    if salesforce_length(key) <= MEMBER_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{head(key, MEMBER_KEY_LENGTH - len(digest) - 1)}#{digest}"


def field_key(key: str) -> str:
    """A CM custom field's key without brackets, spaces or case: ``[SalesforceId]`` and "Salesforce ID" agree."""
    return key.strip().strip("[]").replace(" ", "").casefold()


def custom_fields(subscriber: dict[str, Any]) -> dict[str, str | list[str]]:
    values: dict[str, list[str]] = {}
    for entry in subscriber.get("CustomFields") or []:
        values.setdefault(field_key(entry["Key"]), []).append(str(entry["Value"]))
    return {key: found[0] if len(found) == 1 else sorted(found) for key, found in values.items()}


def activity_identity(source_id: str, activity_type: str, email: str, utc: str | None, url: str | None) -> str:
    """One tracking event: source, type, email (any case), UTC time and URL (CM events have no ID)."""
    return f"{source_id}|{activity_type}|{email.lower()}|{utc}|{url or ''}"


class ExpectedWorld:
    """Builds the expectation from CM's API."""

    def __init__(self, cm: CampaignMonitorApi, people: People, settings: OracleSettings) -> None:
        self.cm = cm
        self.people = people
        self.settings = settings
        self.expectation = Expectation()

    def build(self) -> Expectation:
        for client_id in self.settings.clients:
            details = self.cm.get(f"clients/{client_id}")["BasicDetails"]
            offset = utc_offset(details["TimeZone"])
            self.expectation.add(
                "CM_Client__c",
                client_id,
                {"Name": cut(details["CompanyName"], _NAME_LENGTH), "CM_Timezone__c": details["TimeZone"]},
            )
            for summary in self.cm.get(f"clients/{client_id}/lists"):
                self._list(client_id, summary["ListID"], offset)
            window_start = datetime.now(UTC).replace(tzinfo=None) + offset - timedelta(days=self.settings.days_to_keep)
            for campaign in self.cm.paged(f"clients/{client_id}/campaigns"):
                self._campaign(client_id, campaign, offset, window_start)
            for journey in self.cm.get(f"clients/{client_id}/journeys"):
                self._journey(client_id, journey["JourneyID"], offset, window_start)
        return self.expectation

    def _list(self, client_id: str, list_id: str, offset: timedelta) -> None:
        details = self.cm.get(f"lists/{list_id}")
        self.expectation.add(
            "CM_List__c",
            list_id,
            {
                "Name": cut(details["Title"], _NAME_LENGTH),
                "CM_Unsubscribe_Setting__c": details.get("UnsubscribeSetting") or None,
                "CM_Client__c": Ref("CM_Client__c", client_id),
            },
        )
        for state in CM_STATES:
            for subscriber in self.cm.members(list_id, state):
                self._member(list_id, subscriber, offset)

    def _member(self, list_id: str, subscriber: dict[str, Any], offset: timedelta) -> None:
        email = subscriber["EmailAddress"]
        fields = custom_fields(subscriber)
        named = fields.get("salesforceid")
        links = self.people.links(email, named if isinstance(named, str) else None)
        self.expectation.add(
            "CM_List_Member__c",
            member_key(list_id, email),
            {
                "Name": cut(email, _NAME_LENGTH),
                "CM_Email__c": email,
                "CM_Subscriber_Name__c": cut(subscriber.get("Name") or "", 255) or None,
                "CM_State__c": subscriber["State"],
                "CM_Date__c": to_utc(subscriber.get("Date"), offset),
                "CM_Joined_Date__c": to_utc(subscriber.get("ListJoinedDate"), offset),
                "CM_Custom_Fields__c": fields or None,
                "CM_List__c": Ref("CM_List__c", list_id),
                "CM_Contact__c": links["Contact"],
                "CM_Lead__c": links["Lead"],
            },
        )
        self._mapped(list_id, fields, links)

    def _mapped(self, list_id: str, fields: dict[str, str | list[str]], links: dict[str, Expected]) -> None:
        """cm2sf values onto the linked records: the CM value (multi-select joined with ";"), else the default."""
        for mapping in self.settings.mappings:
            if mapping.list_id != list_id:
                continue
            found = fields.get(field_key(mapping.cm_field))
            text = ";".join(found) if isinstance(found, list) else found
            for object_name, target in mapping.targets.items():
                record_id = links[object_name]
                value = text or mapping.defaults[object_name]
                if target and isinstance(record_id, str) and value:
                    self.expectation.map(object_name, record_id, target, value)

    def _campaign(self, client_id: str, campaign: dict[str, Any], offset: timedelta, window_start: datetime) -> None:
        campaign_id = campaign["CampaignID"]
        summary = self.cm.get(f"campaigns/{campaign_id}/summary")
        self.expectation.add(
            "CM_Campaign__c",
            campaign_id,
            {
                "Name": cut(campaign["Name"], _NAME_LENGTH),
                "CM_Kind__c": "Campaign",
                "CM_Subject__c": campaign.get("Subject") or None,
                "CM_Sent_Date__c": to_utc(campaign["SentDate"], offset),
                "CM_Recipients__c": summary["Recipients"],
                "CM_Opens__c": summary["TotalOpened"],
                "CM_Unique_Opens__c": summary["UniqueOpened"],
                "CM_Clicks__c": summary["Clicks"],
                "CM_Unsubscribes__c": summary["Unsubscribed"],
                "CM_Bounces__c": summary["Bounced"],
                "CM_Spam_Complaints__c": summary["SpamComplaints"],
                "CM_Web_Version_URL__c": summary.get("WebVersionURL") or campaign.get("WebVersionURL") or None,
                "CM_Client__c": Ref("CM_Client__c", client_id),
            },
        )
        for activity, report in CAMPAIGN_REPORTS.items():
            for event in self._events(f"campaigns/{campaign_id}/{report}", activity):
                date = campaign["SentDate"] if report == "recipients" else event["Date"]
                self._activity(campaign_id, activity, event, date, offset, window_start, event.get("ListID"))

    def _journey(self, client_id: str, journey_id: str, offset: timedelta, window_start: datetime) -> None:
        journey = self.cm.get(f"journeys/{journey_id}")
        for email in journey["Emails"]:
            email_id = email["EmailID"]
            self.expectation.add(
                "CM_Campaign__c",
                email_id,
                {
                    "Name": cut(f"{journey['Name']}: {email['Name']}", _NAME_LENGTH),
                    "CM_Kind__c": "Journey Email",
                    "CM_Recipients__c": email["Sent"],
                    "CM_Opens__c": email["Opened"],
                    "CM_Unique_Opens__c": email["UniqueOpened"],
                    "CM_Clicks__c": email["Clicked"],
                    "CM_Unsubscribes__c": email["Unsubscribed"],
                    "CM_Bounces__c": email["Bounced"],
                    "CM_Client__c": Ref("CM_Client__c", client_id),
                },
            )
            for activity, report in JOURNEY_REPORTS.items():
                for event in self._events(f"journeys/email/{email_id}/{report}", activity):
                    date = event.get("SentDate") or event.get("Date")
                    self._activity(email_id, activity, event, date, offset, window_start, None)

    def _events(self, path: str, activity: str) -> Iterator[dict[str, Any]]:
        if self.settings.tracking_enabled and activity in self.settings.tracking_types:
            yield from self.cm.paged(path)

    def _activity(
        self,
        source_id: str,
        activity: str,
        event: dict[str, Any],
        date: str,
        offset: timedelta,
        window_start: datetime,
        list_id: str | None,
    ) -> None:
        email = event["EmailAddress"]
        utc = to_utc(date, offset)
        url = event.get("URL") or None
        key = activity_identity(source_id, ACTIVITY_TYPES[activity], email, utc, url)
        moment = local_date(date)
        if moment < window_start - BOUNDARY_MARGIN:
            return
        if moment <= window_start + BOUNDARY_MARGIN:
            self.expectation.allow("CM_Email_Activity__c", key)
        links: dict[str, Expected] = self.people.links(email)
        for sobject, earlier in self.settings.earlier_links.get(email.lower(), {}).items():
            current = links[sobject]
            links[sobject] = AnyOf((*(current.choices if isinstance(current, AnyOf) else (current,)), earlier))
        self.expectation.add(
            "CM_Email_Activity__c",
            key,
            {
                "CM_Type__c": ACTIVITY_TYPES[activity],
                "CM_Activity_Date__c": utc,
                "CM_Activity_Day__c": int(utc[:10].replace("-", "")) if utc else None,
                "CM_Email__c": email,
                "CM_URL__c": url,
                "CM_IP_Address__c": event.get("IPAddress") or None,
                "CM_City__c": event.get("City") or None,
                "CM_Region__c": event.get("Region") or None,
                "CM_Country__c": event.get("CountryName") or event.get("CountryCode") or None,
                "CM_Bounce_Type__c": event.get("BounceType") or None,
                "CM_Bounce_Reason__c": event.get("Reason") or None,
                "CM_List_ID__c": list_id or None,
                "CM_Campaign__c": Ref("CM_Campaign__c", source_id),
                "CM_Contact__c": links["Contact"],
                "CM_Lead__c": links["Lead"],
            },
        )
