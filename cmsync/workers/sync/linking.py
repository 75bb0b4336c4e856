"""Links CM subscribers to Salesforce Contacts and Leads (DESIGN.md §1, reference §1.3).

Matching is by email, case-insensitive; of several matches the most recently modified wins; a Contact
and a Lead that both match are both linked; a mapped ``[SalesforceId]`` wins over the email for its
object. One query per object per batch of emails, never one per subscriber.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

SALESFORCE_ID_KEY = "salesforceid"
"""The CM custom field ``[SalesforceId]`` (as ``records.field_key`` spells it) naming a Contact or Lead."""
OBJECT_PREFIXES = {"003": "Contact", "00Q": "Lead"}
LINK_FIELDS = {"Contact": "CM_Contact__c", "Lead": "CM_Lead__c"}
_EMAILS_PER_QUERY = 200

Query = Callable[[str], Iterator[dict[str, Any]]]
Quote = Callable[[str], str]


@dataclass
class Match:
    """The Contact or Lead an email (or Id) resolved to, with the fields cm2sf mappings read."""

    object_name: str
    id: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Links:
    """For one batch: the Contact and Lead of each email (lower-case), and those named by Id."""

    by_email: dict[str, dict[str, Match]] = field(default_factory=dict)
    by_id: dict[str, Match] = field(default_factory=dict)

    def for_subscriber(self, email: str, salesforce_id: str | None) -> dict[str, Match]:
        """The Contact and/or Lead of one subscriber: its ``[SalesforceId]`` first, then its email."""
        matches = dict(self.by_email.get(email.lower(), {}))
        named = self.by_id.get(_id15(salesforce_id)) if salesforce_id else None
        if named is not None:
            matches[named.object_name] = named
        return matches


def _id15(identifier: str) -> str:
    return identifier.strip()[:15]


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def find_links(
    query: Query,
    quote: Quote,
    emails: Iterable[str],
    salesforce_ids: Iterable[str] = (),
    extra_fields: dict[str, Sequence[str]] | None = None,
) -> Links:
    """Find the Contacts and Leads of ``emails`` and of ``salesforce_ids``, reading ``extra_fields`` too."""
    links = Links()
    wanted = sorted({email.lower() for email in emails if email})
    ids_by_object: dict[str, list[str]] = {name: [] for name in LINK_FIELDS}
    for identifier in {_id15(value) for value in salesforce_ids if value and len(value.strip()) in (15, 18)}:
        object_name = OBJECT_PREFIXES.get(identifier[:3])
        if object_name and identifier.isalnum():
            ids_by_object[object_name].append(identifier)
    for object_name in LINK_FIELDS:
        columns = ["Id", "Email", "LastModifiedDate", *((extra_fields or {}).get(object_name, ()))]
        select = f"SELECT {', '.join(dict.fromkeys(columns))} FROM {object_name}"
        active = " AND IsConverted = false" if object_name == "Lead" else ""
        newest: dict[str, tuple[str, Match]] = {}
        for chunk in _chunks(wanted, _EMAILS_PER_QUERY):
            listed = ", ".join(quote(email) for email in chunk)
            for row in query(f"{select} WHERE Email IN ({listed}){active}"):
                email = str(row.get("Email") or "").lower()
                modified = str(row.get("LastModifiedDate") or "")
                if email and (email not in newest or modified > newest[email][0]):
                    newest[email] = (modified, Match(object_name, row["Id"], row))
        for email, (_, match) in newest.items():
            links.by_email.setdefault(email, {})[object_name] = match
        for chunk in _chunks(ids_by_object[object_name], _EMAILS_PER_QUERY):
            listed = ", ".join(quote(identifier) for identifier in chunk)
            for row in query(f"{select} WHERE Id IN ({listed})"):
                links.by_id[_id15(row["Id"])] = Match(object_name, row["Id"], row)
    return links
