"""The JSON shapes CM answers with, field for field, built from the emulator's records.

Subscriber pages, the largest answers, are also written straight to JSON text (``subscriber_text``,
``paged_text``): the bytes ``json.dumps(..., ensure_ascii=False)`` gives for the shapes, for a fraction of the
cost, and each record's text is kept for the next page that shows it.
"""

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from cmsync_sandbox.campaign_monitor.dates import format_date
from cmsync_sandbox.campaign_monitor.model import (
    Campaign,
    Client,
    CustomField,
    Event,
    Journey,
    JourneyEmail,
    MailingList,
    Subscriber,
)

_json_text = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)``, without making an encoder per call."""
_RESULTS_OPEN = '{"Results": ['


def paged(results: list[Any], *, ordered_by: str, direction: str, number: int, size: int, total: int) -> dict[str, Any]:
    """CM's paging envelope; ``NumberOfPages`` is 0 when there are no records."""
    return {
        "Results": results,
        "ResultsOrderedBy": ordered_by,
        "OrderDirection": direction,
        "PageNumber": number,
        "PageSize": size,
        "RecordsOnThisPage": len(results),
        "TotalNumberOfRecords": total,
        "NumberOfPages": -(-total // size),
    }


def client_summary(client: Client) -> dict[str, Any]:
    return {"ClientID": client.client_id, "Name": client.name}


def client_details(client: Client) -> dict[str, Any]:
    return {
        "ApiKey": client.api_key,
        "AccessDetails": {"Username": client.name.lower().replace(" ", ""), "AccessLevel": 23},
        "BasicDetails": {
            "ClientID": client.client_id,
            "CompanyName": client.name,
            "ContactName": client.contact_name,
            "EmailAddress": client.email,
            "Country": client.country,
            "TimeZone": client.timezone,
        },
        "BillingDetails": {
            "CanPurchaseCredits": False,
            "Credits": 0,
            "ClientPays": False,
            "BaseRatePerRecipient": 0.0,
            "MarkupPerRecipient": 0.0,
            "MarkupOnDelivery": 0.0,
            "BaseDeliveryRate": 0.0,
            "Currency": "USD",
            "BaseDesignSpamTestRate": 0.0,
        },
    }


def list_summary(mailing_list: MailingList) -> dict[str, Any]:
    return {"ListID": mailing_list.list_id, "Name": mailing_list.title}


def list_details(mailing_list: MailingList) -> dict[str, Any]:
    return {
        "ConfirmedOptIn": mailing_list.confirmed_opt_in,
        "Title": mailing_list.title,
        "UnsubscribePage": mailing_list.unsubscribe_page,
        "ListID": mailing_list.list_id,
        "ConfirmationSuccessPage": mailing_list.confirmation_success_page,
        "UnsubscribeSetting": mailing_list.unsubscribe_setting,
    }


def custom_field(field: CustomField) -> dict[str, Any]:
    return {
        "FieldName": field.name,
        "Key": field.key,
        "DataType": field.data_type,
        "FieldOptions": list(field.options),
        "VisibleInPreferenceCenter": field.visible,
    }


def subscriber(record: Subscriber, offset: int, with_consent: bool) -> dict[str, Any]:
    """A subscriber; custom field ``Key``s are the field names, repeated for multi-select values."""
    shaped = {
        "EmailAddress": record.email,
        "Name": record.name,
        "Date": format_date(record.date, offset),
        "ListJoinedDate": format_date(record.joined, offset),
        "State": record.state,
        "CustomFields": _custom_fields(record.fields),
        "ReadsEmailWith": record.reads_with,
    }
    if with_consent:
        shaped["ConsentToTrack"] = record.consent
    return shaped


def _custom_fields(fields: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in fields]


def subscriber_text(record: Subscriber, offset: int, with_consent: bool) -> bytes:
    """``subscriber(record, offset, with_consent)`` as UTF-8 JSON text, written without building the dict.

    The text is kept on the record with every value it was written from, and written again when any of them
    differs, however the record was changed: reading a page again costs a comparison per record.
    """
    values = (
        record.email,
        record.name,
        record.state,
        record.date,
        record.joined,
        record.fields,
        record.reads_with,
        record.consent,
        offset,
        with_consent,
    )
    if record.text_of != values:
        record.text = _written(*values)
        record.text_of = values
    return record.text


def _written(
    email: str,
    name: str,
    state: str,
    date: int,
    joined: int,
    fields: tuple[tuple[str, str], ...],
    reads_with: str,
    consent: str,
    offset: int,
    with_consent: bool,
) -> bytes:
    """One subscriber's JSON text from its values. Dates hold nothing to escape; most subscribers never changed
    state, so their ``Date`` is their ``ListJoinedDate`` and is written once."""
    date_text = format_date(date, offset)
    joined_text = date_text if joined == date else format_date(joined, offset)
    consent_text = f', "ConsentToTrack": {encode_basestring(consent)}' if with_consent else ""
    return (
        f'{{"EmailAddress": {encode_basestring(email)}, "Name": {encode_basestring(name)}, '
        f'"Date": "{date_text}", "ListJoinedDate": "{joined_text}", '
        f'"State": {encode_basestring(state)}, "CustomFields": {_custom_fields_text(fields)}, '
        f'"ReadsEmailWith": {encode_basestring(reads_with)}{consent_text}}}'
    ).encode()


@lru_cache(maxsize=1 << 12)
def _custom_fields_text(fields: tuple[tuple[str, str], ...]) -> str:
    """Subscribers share their field values (a seeded list has a few hundred different sets)."""
    return _json_text(_custom_fields(fields))


def paged_text(texts: list[bytes], *, ordered_by: str, direction: str, number: int, size: int, total: int) -> bytes:
    """``paged`` of records already written as UTF-8 JSON text, as the UTF-8 JSON text of the whole answer.

    Records are encoded one by one: most are ASCII, which encodes by copying, where one page-long text
    with a single accented name in it would be converted character by character. The page is joined in one
    pass: joining the records, then wrapping them in the envelope, took ten times as long.
    """
    envelope = paged(texts, ordered_by=ordered_by, direction=direction, number=number, size=size, total=total)
    envelope["Results"] = []
    head, tail = _RESULTS_OPEN.encode(), _json_text(envelope).removeprefix(_RESULTS_OPEN).encode()
    if not texts:
        return head + tail
    parts = texts.copy()
    parts[0] = head + parts[0]
    parts[-1] += tail
    return b", ".join(parts)


def campaign(record: Campaign, offset: int) -> dict[str, Any]:
    return {
        "WebVersionURL": record.web_version_url,
        "WebVersionTextURL": f"{record.web_version_url}/t",
        "CampaignID": record.campaign_id,
        "Subject": record.subject,
        "Name": record.name,
        "FromName": record.from_name,
        "FromEmail": record.from_email,
        "ReplyTo": record.from_email,
        "SentDate": format_date(record.sent, offset),
        "TotalRecipients": len(record.events["recipients"]),
        "Tags": list(record.tags),
    }


def campaign_summary(record: Campaign) -> dict[str, Any]:
    events = record.events
    return {
        "Name": record.name,
        "Recipients": len(events["recipients"]),
        "TotalOpened": len(events["opens"]),
        "Clicks": len(events["clicks"]),
        "Unsubscribed": len(events["unsubscribes"]),
        "Bounced": len(events["bounces"]),
        "UniqueOpened": events["opens"].unique_emails(),
        "Mentions": 0,
        "Forwards": 0,
        "Likes": 0,
        "WebVersionURL": record.web_version_url,
        "WebVersionTextURL": f"{record.web_version_url}/t",
        "WorldviewURL": f"https://campaigns.example.com/reports/wv/r/{record.campaign_id[:16].upper()}",
        "SpamComplaints": len(events["spam"]),
    }


def journey_summary(journey: Journey) -> dict[str, Any]:
    return {"ListID": journey.list_id, "JourneyID": journey.journey_id, "Name": journey.name, "Status": journey.status}


def journey_email(email: JourneyEmail) -> dict[str, Any]:
    events = email.events
    return {
        "EmailID": email.email_id,
        "Name": email.name,
        "Bounced": len(events["bounces"]),
        "Clicked": len(events["clicks"]),
        "Opened": len(events["opens"]),
        "Sent": len(events["recipients"]),
        "UniqueOpened": events["opens"].unique_emails(),
        "Unsubscribed": len(events["unsubscribes"]),
    }


def journey_details(journey: Journey) -> dict[str, Any]:
    return {
        "JourneyID": journey.journey_id,
        "Name": journey.name,
        "TriggerType": "On Subscription",
        "Status": journey.status,
        "Emails": [journey_email(email) for email in journey.emails],
    }


def _geo(shaped: dict[str, Any], event: Event) -> dict[str, Any]:
    location = event.location
    if location is not None:
        shaped.update(
            IPAddress=location.ip,
            Latitude=location.latitude,
            Longitude=location.longitude,
            City=location.city,
            Region=location.region,
            CountryCode=location.country_code,
            CountryName=location.country_name,
        )
    return shaped


EventShape = Callable[[Event, int, bool], dict[str, Any]]


def _recipient(event: Event, offset: int, campaign_report: bool) -> dict[str, Any]:
    if campaign_report:
        return {"EmailAddress": event.email, "ListID": event.list_id}
    return {"EmailAddress": event.email, "SentDate": format_date(event.date, offset)}


def _head(event: Event, offset: int, campaign_report: bool) -> dict[str, Any]:
    shaped: dict[str, Any] = {"EmailAddress": event.email}
    if campaign_report:
        shaped["ListID"] = event.list_id
    shaped["Date"] = format_date(event.date, offset)
    return shaped


def _open(event: Event, offset: int, campaign_report: bool) -> dict[str, Any]:
    return _geo(_head(event, offset, campaign_report), event)


def _click(event: Event, offset: int, campaign_report: bool) -> dict[str, Any]:
    shaped = _head(event, offset, campaign_report)
    shaped["URL"] = event.url
    return _geo(shaped, event)


def _unsubscribe(event: Event, offset: int, campaign_report: bool) -> dict[str, Any]:
    shaped = _head(event, offset, campaign_report)
    shaped["IPAddress"] = event.location.ip if event.location else ""
    return shaped


def _bounce(event: Event, offset: int, campaign_report: bool) -> dict[str, Any]:
    shaped: dict[str, Any] = {"EmailAddress": event.email}
    if campaign_report:
        shaped["ListID"] = event.list_id
    shaped.update(BounceType=event.bounce_type, Date=format_date(event.date, offset), Reason=event.reason)
    return shaped


EVENT_SHAPES: dict[str, EventShape] = {
    "recipients": _recipient,
    "opens": _open,
    "clicks": _click,
    "unsubscribes": _unsubscribe,
    "bounces": _bounce,
    "spam": _head,
}


def events(kind: str, records: Sequence[Event], offset: int, campaign_report: bool) -> list[dict[str, Any]]:
    """Tracking records of ``kind``; journey reports leave out ``ListID``."""
    shape = EVENT_SHAPES[kind]
    return [shape(event, offset, campaign_report) for event in records]
