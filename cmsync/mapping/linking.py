"""Links CM subscribers to Salesforce Contacts and Leads (DESIGN.md §1, reference §1.3).

Matching is by email, case-insensitive (both sides ``str.lower``); of several matches the most recently
modified wins (of several modified in the same millisecond, the lowest Id); a Contact and a Lead that both
match are both linked. A mapped ``[SalesforceId]`` naming a Contact or Lead that exists links it, with or
without an email, and wins over the email for its object; one naming no such record (deleted, converted,
another object, not an Id) is ignored and the email decides. Lookups go to the directory in the state
store (see ``directory``), not to Salesforce; only the fields cm2sf mappings need are read from
Salesforce, one query per object per page.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cmsync.clients.salesforce.soql import literal_list
from cmsync.state import StateStore
from cmsync.state.directory import OBJECTS, lowered_digest
from cmsync.state.record_ids import long_id, short_id

SALESFORCE_ID_KEY = "salesforceid"
"""The CM custom field ``[SalesforceId]`` (as ``records.field_key`` spells it) naming a Contact or Lead."""
LINK_FIELDS = {"Contact": "CM_Contact__c", "Lead": "CM_Lead__c"}
_IDS_PER_QUERY = 200
Query = Callable[[str], Iterator[dict[str, Any]]]


@dataclass(slots=True)
class Match:
    """The Contact or Lead an email (or Id) resolved to, with the fields cm2sf mappings read."""

    object_name: str
    id: str
    fields: dict[str, Any] = field(default_factory=dict)


_NO_MATCHES: Mapping[str, Match] = MappingProxyType({})


@dataclass
class Links:
    """For one page: the Contact and Lead of each email (lower-case), and those named by Id."""

    by_email: dict[str, dict[str, Match]] = field(default_factory=dict)
    by_id: dict[str, Match] = field(default_factory=dict)

    def for_subscriber(self, email: str, salesforce_id: str | None) -> Mapping[str, Match]:
        """The Contact and/or Lead of one subscriber: its ``[SalesforceId]`` first, then its email (read
        only: an email's matches are shared by every subscriber with it)."""
        matches = self.by_email.get(email.lower(), _NO_MATCHES)
        if salesforce_id and self.by_id:
            named = self.by_id.get(short_id(salesforce_id) or "")
            if named is not None:
                return {**matches, named.object_name: named}
        return matches

    def matches(self) -> Iterator[Match]:
        for by_object in self.by_email.values():
            yield from by_object.values()
        yield from self.by_id.values()


def find_links(store: StateStore, emails: Iterable[str], salesforce_ids: Iterable[str] = ()) -> Links:
    """Resolve ``emails`` (newest record per object wins) and ``[SalesforceId]`` values from the directory:
    one digest per distinct email and one Match per winner, whatever the number of rows read."""
    lowered = {email.lower() for email in emails if email}
    wanted = {lowered_digest(email): email for email in lowered}
    newest: dict[tuple[bytes, int], tuple[int, str]] = {}
    for digest, number, id15, modified in store.directory.holders(list(wanted)) if wanted else ():
        key = (digest, number)
        held = newest.get(key)
        if held is None or modified > held[0] or (modified == held[0] and id15 < held[1]):
            newest[key] = (modified, id15)
    links = Links()
    for (digest, number), (_, id15) in newest.items():
        object_name = OBJECTS[number]
        links.by_email.setdefault(wanted[digest], {})[object_name] = Match(object_name, long_id(id15))
    named = [named_id for named_id in map(short_id, filter(None, salesforce_ids)) if named_id]
    for entry in store.directory.by_id(named) if named else ():
        if entry.object in LINK_FIELDS:
            links.by_id[entry.id[:15]] = Match(entry.object, entry.id)
    return links


def read_fields(query: Query, links: Links, fields: dict[str, Sequence[str]]) -> None:
    """Fill each match's ``fields`` with the current values of ``fields[object]`` (for cm2sf mappings)."""
    for object_name, wanted in fields.items():
        if not wanted:
            continue
        matches: dict[str, list[Match]] = {}
        for match in links.matches():
            if match.object_name == object_name:
                matches.setdefault(match.id, []).append(match)
        ids = sorted(matches)
        columns = ", ".join(dict.fromkeys(["Id", *wanted]))
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            for row in query(f"SELECT {columns} FROM {object_name} WHERE Id IN {literal_list(chunk)}"):
                for match in matches.get(row["Id"], []):
                    match.fields = row
