"""Salesforce records built from Campaign Monitor data (DESIGN.md §3), with their external keys.

Every record carries its external ID, so each write is an idempotent upsert. CM dates are naive, in the
time zone of the client that owns them; they are written to Salesforce as UTC.
"""

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cmsync.clients.campaign_monitor.records import (
    Campaign,
    CampaignSummary,
    ClientDetails,
    JourneyDetails,
    JourneyEmail,
    ListDetails,
    Subscriber,
    TrackingEvent,
)
from cmsync.state.record_ids import long_id

Record = dict[str, Any]

CLIENT = "CM_Client__c"
LIST = "CM_List__c"
MEMBER = "CM_List_Member__c"
CAMPAIGN = "CM_Campaign__c"
ACTIVITY = "CM_Email_Activity__c"
EXTERNAL_ID = {
    CLIENT: "CM_Client_ID__c",
    LIST: "CM_List_ID__c",
    MEMBER: "CM_Member_Key__c",
    CAMPAIGN: "CM_Campaign_ID__c",
    ACTIVITY: "CM_Activity_Key__c",
}
ACTIVITY_TYPES = {
    "sent": "Sent",
    "opened": "Opened",
    "clicked": "Clicked",
    "bounced": "Bounced",
    "unsubscribed": "Unsubscribed",
    "spam": "Spam",
}
"""Tracking type (settings) → ``CM_Type__c`` picklist value."""
MEMBER_FIELDS = (
    "CM_Member_Key__c",
    "Name",
    "CM_Email__c",
    "CM_Subscriber_Name__c",
    "CM_State__c",
    "CM_Date__c",
    "CM_Joined_Date__c",
    "CM_Custom_Fields__c",
    "CM_Contact__c",
    "CM_Lead__c",
    "CM_List__r.CM_List_ID__c",
)
"""Every field cmsync writes on a ``CM_List_Member__c``, as a query names it."""
_DATETIME_FIELDS = frozenset({"CM_Date__c", "CM_Joined_Date__c"})
_LOOKUP_FIELDS = frozenset({"CM_Contact__c", "CM_Lead__c"})
_RESPELLED = _DATETIME_FIELDS | _LOOKUP_FIELDS
"""Text fields whose value Salesforce gives back in another spelling (see ``_as_held``)."""
_UNHELD = frozenset({"attributes", "Id"})
"""Names in a record or row that are not fields of what Salesforce holds."""
_SPECIAL = _RESPELLED | _UNHELD
"""Names whose text ``held_digest`` does not take as it is."""
_NAME_LENGTH = 80
_FIELDS_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
"""``CM_Custom_Fields__c``'s spelling (``json.dumps`` builds such an encoder on every call)."""
MEMBER_KEY_LENGTH = 255
"""The length of ``CM_Member_Key__c``, the most a Salesforce Text External ID holds."""


def _salesforce_length(text: str) -> int:
    """A text's length as Salesforce counts it against a field's length: in UTF-16 units (an emoji is 2)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _head(text: str, length: int) -> str:
    """The longest start of ``text`` that Salesforce counts as at most ``length`` characters."""
    head = text[:length]
    while _salesforce_length(head) > length:
        head = head[:-1]
    return head


def _cut(text: str, length: int) -> str:
    return text if _salesforce_length(text) <= length else _head(text, length - 1) + "…"


def to_utc(moment: datetime | None, offset: timedelta | None) -> str | None:
    """A CM date (client time) as a Salesforce DateTime in UTC; the client's zone offset is known or 0."""
    if moment is None:
        return None
    if offset:
        moment -= offset
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None)
    return (moment.isoformat(timespec="seconds") if moment.microsecond else moment.isoformat()) + ".000Z"


def member_key(list_id: str, email: str) -> str:
    """``CM_Member_Key__c``: one email on one list, whatever the email's case (``str.lower``, as everywhere
    cmsync compares emails; not ``casefold``, which would make ``ß`` and ``ss`` one mailbox). A key longer
    than its 255-character field keeps its start and ends with ``#`` and the SHA-256 hex of the whole key."""
    key = f"{list_id}:{email.lower()}"
    if _salesforce_length(key) <= MEMBER_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{_head(key, MEMBER_KEY_LENGTH - len(digest) - 1)}#{digest}"


def activity_key(source_id: str, email: str, activity: str, date: datetime | None, url: str) -> str:
    """``CM_Activity_Key__c``: CM events have no ID, so the key hashes what identifies one."""
    moment = date.isoformat(sep=" ") if date else ""
    identity = "\x1f".join((source_id, email.lower(), activity, moment, url))
    return hashlib.sha256(identity.encode()).hexdigest()


def id18(record_id: str) -> str:
    """The 18-character form of a Salesforce Id (the one queries return); other text is returned as it is."""
    if len(record_id) == 15 and record_id.isascii() and record_id.isalnum():
        return long_id(record_id)
    return record_id


def _as_held(name: str, value: Any) -> str:
    """A value as Salesforce gives it back, in one spelling: null and empty alike, date-times to the second
    in UTC, booleans and numbers as text, lookups as 18-character Ids."""
    if type(value) is str:
        if name in _DATETIME_FIELDS:
            return value[:19]
        if name in _LOOKUP_FIELDS and value:
            return id18(value)
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return format(Decimal(str(value)).normalize(), "f")
    return _as_held(name, str(value))


def held_digest(record: Mapping[str, Any]) -> bytes:
    """A 16-byte digest of a record as Salesforce holds it: the same for a record cmsync would write and for
    the row a query (REST or Bulk CSV) or a Bulk job's results return, so agreement is recognised without
    a write. A parent by external ID counts as ``Rel__r.Key__c``, as queries name it. Text, nearly every
    value, is respelled inline as ``_as_held`` would: this runs once per member of every list read."""
    held = []
    append = held.append
    for name, value in record.items():
        if type(value) is str:
            if name in _SPECIAL:
                if name in _DATETIME_FIELDS:
                    value = value[:19]
                elif name in _UNHELD:
                    continue
                elif len(value) == 15:
                    value = id18(value)
            append(name + "\x1e" + value)
        elif name in _UNHELD:
            continue
        elif value is None:
            append(name + "\x1e")
        elif isinstance(value, dict):
            for key, item in value.items():
                if key != "attributes":
                    path = f"{name}.{key}"
                    append(path + "\x1e" + (item if type(item) is str else _as_held(path, item)))
        else:
            append(name + "\x1e" + _as_held(name, value))
    held.sort()
    return hashlib.blake2b("\x1f".join(held).encode(), digest_size=16).digest()


def client_record(client: ClientDetails) -> Record:
    return {
        "CM_Client_ID__c": client.client_id,
        "Name": _cut(client.company_name or client.client_id, _NAME_LENGTH),
        "CM_Timezone__c": client.timezone[:100],
    }


def list_record(details: ListDetails, client_id: str) -> Record:
    return {
        "CM_List_ID__c": details.list_id,
        "Name": _cut(details.title, _NAME_LENGTH),
        "CM_Unsubscribe_Setting__c": details.unsubscribe_setting or None,
        "CM_Client__r": {"CM_Client_ID__c": client_id},
    }


@functools.lru_cache(maxsize=4096)
def field_key(name_or_key: str) -> str:
    """One spelling for a CM custom field: subscribers carry its name ("Salesforce ID"), settings its key
    (``[SalesforceId]``), and CM builds the key from the name without spaces, in any case."""
    return name_or_key.strip().strip("[]").replace(" ", "").casefold()


def custom_field_values(subscriber: Subscriber) -> dict[str, str | list[str]]:
    """A subscriber's custom fields by ``field_key``; a multi-select field with several values gives a list."""
    values: dict[str, str | list[str]] = {}
    for field in subscriber.custom_fields:
        key = field_key(field.key)
        if key in values:
            previous = values[key]
            values[key] = [*previous, field.value] if isinstance(previous, list) else [previous, field.value]
        else:
            values[key] = field.value
    return values


def member_record(
    subscriber: Subscriber,
    list_id: str,
    offset: timedelta | None,
    fields: dict[str, str | list[str]],
    key: str | None = None,
) -> Record:
    """A ``CM_List_Member__c`` without its Contact and Lead links (linking adds them); ``fields`` are the
    subscriber's ``custom_field_values`` and ``key`` its ``member_key``, when the caller has already read
    them. A member who has not changed state since joining has one date, converted once."""
    date = to_utc(subscriber.date, offset)
    return {
        "CM_Member_Key__c": key or member_key(list_id, subscriber.email),
        "Name": _cut(subscriber.email, _NAME_LENGTH),
        "CM_Email__c": subscriber.email,
        "CM_Subscriber_Name__c": _cut(subscriber.name, 255) or None,
        "CM_State__c": subscriber.state.value,
        "CM_Date__c": date,
        "CM_Joined_Date__c": date if subscriber.joined == subscriber.date else to_utc(subscriber.joined, offset),
        "CM_Custom_Fields__c": _FIELDS_JSON.encode(fields) if fields else None,
        "CM_List__r": {"CM_List_ID__c": list_id},
    }


def campaign_record(campaign: Campaign, summary: CampaignSummary, client_id: str, offset: timedelta | None) -> Record:
    return {
        "CM_Campaign_ID__c": campaign.campaign_id,
        "Name": _cut(campaign.name, _NAME_LENGTH),
        "CM_Kind__c": "Campaign",
        "CM_Subject__c": _cut(campaign.subject, 255) or None,
        "CM_Sent_Date__c": to_utc(campaign.sent_date, offset),
        "CM_Recipients__c": summary.recipients,
        "CM_Opens__c": summary.total_opened,
        "CM_Unique_Opens__c": summary.unique_opened,
        "CM_Clicks__c": summary.clicks,
        "CM_Unsubscribes__c": summary.unsubscribed,
        "CM_Bounces__c": summary.bounced,
        "CM_Spam_Complaints__c": summary.spam_complaints,
        "CM_Web_Version_URL__c": summary.web_version_url or campaign.web_version_url or None,
        "CM_Client__r": {"CM_Client_ID__c": client_id},
    }


def journey_email_record(journey: JourneyDetails, email: JourneyEmail, client_id: str) -> Record:
    return {
        "CM_Campaign_ID__c": email.email_id,
        "Name": _cut(f"{journey.name}: {email.name}", _NAME_LENGTH),
        "CM_Kind__c": "Journey Email",
        "CM_Recipients__c": email.sent,
        "CM_Opens__c": email.opened,
        "CM_Unique_Opens__c": email.unique_opened,
        "CM_Clicks__c": email.clicked,
        "CM_Unsubscribes__c": email.unsubscribed,
        "CM_Bounces__c": email.bounced,
        "CM_Client__r": {"CM_Client_ID__c": client_id},
    }


def activity_record(
    event: TrackingEvent, activity: str, source_id: str, sent_date: datetime | None, offset: timedelta | None
) -> Record:
    """A ``CM_Email_Activity__c``; a recipient (no date of its own) takes the campaign's sent date."""
    date = event.date or sent_date
    when = to_utc(date, offset)
    return {
        "CM_Activity_Key__c": activity_key(source_id, event.email, activity, date, event.url),
        "CM_Type__c": ACTIVITY_TYPES[activity],
        "CM_Activity_Date__c": when,
        "CM_Activity_Day__c": int(when[:10].replace("-", "")) if when else None,
        "CM_Email__c": event.email,
        "CM_URL__c": event.url or None,
        "CM_IP_Address__c": event.ip_address[:45] or None,
        "CM_City__c": event.city[:100] or None,
        "CM_Region__c": event.region[:100] or None,
        "CM_Country__c": (event.country_name or event.country_code)[:100] or None,
        "CM_Bounce_Type__c": event.bounce_type[:40] or None,
        "CM_Bounce_Reason__c": _cut(event.reason, 255) or None,
        "CM_List_ID__c": event.list_id,
        "CM_Campaign__r": {"CM_Campaign_ID__c": source_id},
    }
