"""Seed data that fights back, put in through the emulators' public APIs (CM API v3.3, Salesforce REST) and,
where no API can, their ``/_sandbox/`` controls: international, long and mixed-case addresses, apostrophes,
every CM custom field type and member state, ``[SalesforceId]`` cases, Contacts and Leads sharing emails,
same-minute state flips, and events recorded today on a campaign sent 120 days ago."""

from dataclasses import dataclass, field
from typing import Any

from tests.e2e.apis import CampaignMonitorApi, Controls, SalesforceApi

DAY = 86_400
BASE_SEED = {
    "clients": 3,
    "lists_per_client": 2,
    "subscribers_per_list": 40,
    "campaigns_per_client": 3,
    "journeys_per_client": 1,
    "months": 4,
    "seed": 5,
}
"""A few hundred members, campaigns on both sides of ``days_to_keep``, one client left unselected."""
DOMAIN = "hostile.example.com"
TIERS = ("Gold", "Silver", "Bronze & Co")
TAGS = ("Café", "B2B", "O'Reilly", "😀")
LINK = "https://www.example.com/café/offre?x=1&y='2'#été"


def long_address(length: int, local: str = "Very.Long.Local-Part") -> str:
    """A valid-looking address of exactly ``length`` characters (labels of at most 63)."""
    local = (local + "x" * 64)[:64] if length > 120 else local
    room = length - len(local) - 1 - len(".com")
    labels = []
    while room > 0:
        size = min(63, room)
        if room - size == 1:
            size -= 1
        labels.append("d" * size)
        room -= size + 1
    return f"{local}@{'.'.join(labels)}.com"


@dataclass
class Hostile:
    """What the seed made, for the scenarios that change it afterwards."""

    client_id: str
    list_id: str
    optin_list_id: str
    other_list_id: str
    old_campaign_id: str
    minute_flipper: str
    contacts: dict[str, str] = field(default_factory=dict)
    seeded: list[str] = field(default_factory=list)
    """Active members of the hostile list that the base seed made (ordinary addresses), in email order."""


def all_fields(number: int) -> list[dict[str, str]]:
    """One value of every CM custom field type (the Salesforce ID is added per subscriber)."""
    return [
        {"Key": "[City]", "Value": ("Zürich", "São Paulo", "Dún Laoghaire", "東京")[number % 4]},
        {"Key": "[Birthday]", "Value": ("2024-02-29", "1970-01-01", "1999-12-31")[number % 3]},
        {"Key": "[HomeCountry]", "Value": ("Côte d'Ivoire", "Japan", "Ireland")[number % 3]},
        {"Key": "[HomeState]", "Value": ("Hawaii", "New York", "Texas")[number % 3]},
        {"Key": "[Score]", "Value": ("-12.5", "0", "4200")[number % 3]},
        {"Key": "[Tier]", "Value": TIERS[number % 3]},
        *({"Key": "[Tags]", "Value": tag} for tag in TAGS[: 1 + number % 4]),
    ]


def subscriber(email: str, name: str, number: int, salesforce_id: str | None = None) -> dict[str, Any]:
    fields = all_fields(number)
    if salesforce_id is not None:
        fields.append({"Key": "[SalesforceId]", "Value": salesforce_id})
    return {"EmailAddress": email, "Name": name, "CustomFields": fields, "ConsentToTrack": "Yes"}


def _create_fields(cm: CampaignMonitorApi, list_id: str) -> None:
    for name, data_type, options in (
        ("Salesforce ID", "Text", ()),
        ("Birthday", "Date", ()),
        ("Home Country", "Country", ()),
        ("Home State", "USState", ()),
        ("Score", "Number", ()),
        ("Tier", "MultiSelectOne", TIERS),
        ("Tags", "MultiSelectMany", TAGS),
    ):
        body = {"FieldName": name, "DataType": data_type, "Options": list(options), "VisibleInPreferenceCenter": True}
        cm.send("POST", f"lists/{list_id}/customfields", body)


def _people(salesforce: SalesforceApi, sandbox: Controls) -> dict[str, str]:
    """Contacts and Leads that share, miss or fight over the subscribers' emails."""
    made: dict[str, str] = {}

    def contact(label: str, email: str | None, last: str) -> None:
        values = {"LastName": last, **({"Email": email} if email else {})}
        made[label] = salesforce.create("Contact", values)

    def lead(label: str, email: str, last: str) -> None:
        made[label] = salesforce.create("Lead", {"LastName": last, "Company": "Ó Briain & Sons", "Email": email})

    contact("shared_old", f"shared@{DOMAIN}", "Older")
    lead("shared_lead", f"Shared@{DOMAIN}", "Lead-Share")
    contact("shared_new", f"SHARED@{DOMAIN.upper()}", "Newer")
    lead("twice_old", f"lead.twice@{DOMAIN}", "Twice")
    lead("twice_new", f"lead.twice@{DOMAIN}", "Twice")
    contact("obrien", f"o'brien@{DOMAIN}", "O'Brien")
    contact("mixed", f"Mixed.Case@{DOMAIN}", "Case")
    contact("long79", long_address(79, "seventy.nine"), "Long")
    contact("no_email", None, "Without-Email")
    contact("named", f"someone.else@{DOMAIN}", "Named-By-Id")
    lead("named_lead", f"another.one@{DOMAIN}", "Named-Lead")
    contact("deleted", f"deleted.target@{DOMAIN}", "Deleted")
    contact("fallback", f"points.at.deleted@{DOMAIN}", "Fallback")
    lead("garbage_lead", f"garbage@{DOMAIN}", "Garbage")
    contact("to_edit", f"edit.me@{DOMAIN}", "Edited-Later")
    sandbox.call("DELETE", f"records/Contact/{made['deleted']}")
    return made


def _hostile_members(contacts: dict[str, str]) -> list[dict[str, Any]]:
    ids = contacts
    people: list[tuple[str, str, str | None]] = [
        ("josé.garcía@ejemplo.es", "José García", None),
        ("田中太郎@例え.jp", "田中 太郎", None),
        ("😀.smile@emoji.example.com", "Smile 😀", None),
        ("Ünïcödé.Mixed@Exämple.COM", "Ünïcödé", None),
        (f"o'brien@{DOMAIN}", "Siobhán O'Brien", None),
        (f"d'arcy.o'neil@{DOMAIN}", "D'Arcy O'Neil", None),
        (f"mixed.CASE@{DOMAIN.upper()}", "Mixed Case", None),
        (long_address(79, "seventy.nine"), "Seventy-nine characters", None),
        (long_address(81, "eighty.one"), "Eighty-one characters", None),
        (long_address(120, "one.hundred.twenty"), "A hundred and twenty", None),
        (long_address(254), "The longest address", None),
        (f"shared@{DOMAIN}", "Shared by two Contacts and a Lead", None),
        (f"lead.twice@{DOMAIN}", "Two Leads", None),
        (f"by.id@{DOMAIN}", "Named by an 18-character Id", ids["named"]),
        (f"by.short.id@{DOMAIN}", "Named by a 15-character Id", ids["named_lead"][:15]),
        (f"named.noemail@{DOMAIN}", "Names a Contact without email", ids["no_email"]),
        (f"points.at.deleted@{DOMAIN}", "Names a deleted Contact", ids["deleted"]),
        (f"garbage@{DOMAIN}", "Garbage Id", "'; DROP TABLE Contact; --"),
        (f"garbage.two@{DOMAIN}", "Almost an Id", ids["named"][:14] + "!"),
        (f"edit.me@{DOMAIN}", "Linked until the Contact's email changes", None),
        (f"long.name@{DOMAIN}", "Ω" * 260, None),
        (f"status.unsub@{DOMAIN}", "Will unsubscribe", None),
        (f"status.deleted@{DOMAIN}", "Will be deleted", None),
        (f"status.bounced@{DOMAIN}", "Will bounce", None),
        (f"flip.seed@{DOMAIN}", "Flips in one minute", None),
    ]
    return [subscriber(email, name, number, named) for number, (email, name, named) in enumerate(people)]


def align_to_minute(cm_clock_now: float, controls: Controls) -> None:
    """Move the CM clock to one second past the start of its next minute, so a minute of changes follows."""
    controls.call("POST", "clock", {"advance": int(60 - cm_clock_now % 60) + 1})


def resubscribe(cm: CampaignMonitorApi, list_id: str, email: str) -> None:
    cm.send("POST", f"subscribers/{list_id}", {"EmailAddress": email, "Resubscribe": True, "ConsentToTrack": "Yes"})


def flip(cm: CampaignMonitorApi, list_id: str, email: str) -> None:
    """Active → Unsubscribed → Active, two API calls within the same CM minute."""
    cm.send("POST", f"subscribers/{list_id}/unsubscribe", {"EmailAddress": email})
    resubscribe(cm, list_id, email)


def send_campaign(controls: Controls, client_id: str, list_id: str, name: str, subject: str) -> str:
    """Send a campaign to one list at the CM clock's now; its ID."""
    body = {"client_id": client_id, "list_ids": [list_id], "name": name, "subject": subject}
    return str(controls.call("POST", "campaigns", body)["CampaignID"])


def record_event(controls: Controls, source_id: str, kind: str, email: str) -> None:
    """A recipient opens, clicks (``LINK``), soft-bounces, unsubscribes or complains, at the CM clock's now."""
    body = {"source_id": source_id, "kind": kind, "email": email, "url": LINK, "bounce_type": "Soft"}
    controls.call("POST", "events", body)


def update(cm: CampaignMonitorApi, list_id: str, email: str, changes: dict[str, Any]) -> None:
    """CM's subscriber update (name, fields or a corrected email), consent left as it is."""
    body = {"EmailAddress": email, "ConsentToTrack": "Unchanged", **changes}
    cm.send("PUT", f"subscribers/{list_id}", body, email=email)


def seed_hostile(
    cm: CampaignMonitorApi, cm_controls: Controls, salesforce: SalesforceApi, sf_controls: Controls
) -> Hostile:
    """Seed both systems; the first selected client's first list carries the hostile members."""
    cm_controls.call("POST", "seed", BASE_SEED)
    client_id = cm.get("clients")[0]["ClientID"]
    lists = [each["ListID"] for each in cm.get(f"clients/{client_id}/lists")]
    optin = next(list_id for list_id in lists if cm.get(f"lists/{list_id}")["ConfirmedOptIn"])
    list_id = next(each for each in lists if each != optin)
    emails = sorted({member["EmailAddress"] for each in lists for member in cm.members(each, "Active")})
    overlap = {"share": 0.7, "lead_share": 0.3, "both_share": 0.15, "duplicate_share": 0.1, "accounts": 2}
    sf_controls.call("POST", "seed", {"emails": emails, **overlap})
    contacts = _people(salesforce, sf_controls)
    _create_fields(cm, list_id)
    members = _hostile_members(contacts)
    cm.send("POST", f"subscribers/{list_id}/import", {"Subscribers": members[:12], "Resubscribe": True})
    for member in members[12:]:
        cm.send("POST", f"subscribers/{list_id}", member)
    cm.send("POST", f"subscribers/{optin}", subscriber(f"awaiting.confirmation+tag@{DOMAIN}", "Pending Ñandú", 1))
    cm.send("POST", f"subscribers/{list_id}/unsubscribe", {"EmailAddress": f"status.unsub@{DOMAIN}"})
    cm.send("DELETE", f"subscribers/{list_id}", None, email=f"status.deleted@{DOMAIN}")
    cm_controls.call("POST", f"lists/{list_id}/state", {"email": f"status.bounced@{DOMAIN}", "state": "Bounced"})
    flip(cm, list_id, f"flip.seed@{DOMAIN}")

    cm_controls.call("POST", "clock", {"advance": -120 * DAY})
    old = send_campaign(cm_controls, client_id, list_id, "Rentrée — l'été d'il y a 120 jours", "Ça va? 😀 O'Brien's")
    cm_controls.call("POST", "clock", {"advance": 120 * DAY})
    for kind, email in (
        ("opens", "josé.garcía@ejemplo.es"),
        ("opens", "田中太郎@例え.jp"),
        ("clicks", "😀.smile@emoji.example.com"),
        ("opens", f"o'brien@{DOMAIN}"),
        ("bounces", f"mixed.case@{DOMAIN}"),
        ("spam", f"garbage.two@{DOMAIN}"),
        ("unsubscribes", f"d'arcy.o'neil@{DOMAIN}"),
    ):
        record_event(cm_controls, old, kind, email)
    hostile = {member["EmailAddress"] for member in members}
    seeded = [each["EmailAddress"] for each in cm.members(list_id, "Active") if each["EmailAddress"] not in hostile]
    other = next(each for each in lists if each != list_id)
    return Hostile(client_id, list_id, optin, other, old, f"flip.run@{DOMAIN}", contacts, seeded)


def add_minute_flipper(cm: CampaignMonitorApi, cm_controls: Controls, hostile: Hostile, clock_now: float) -> None:
    """At the start of a CM minute, add the member who leaves and comes back in that same minute, with runs
    in between (each state a run sees, all dated the same minute)."""
    align_to_minute(clock_now, cm_controls)
    cm.send("POST", f"subscribers/{hostile.list_id}", subscriber(hostile.minute_flipper, "Flips between runs", 2))
