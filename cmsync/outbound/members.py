"""Where changed Contacts and Leads are on CM lists, as the main sync last recorded it in ``CM_List_Member__c``:
the list, the address CM holds (the old one, after an email change), the state, and the list's client and
unsubscribe setting. Only lists of the connected clients count.

Live records are found by their Contact/Lead link; deleted ones also by email, since Salesforce clears a
lookup to a deleted record.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cmsync.clients.salesforce.soql import literal_list
from cmsync.mapping.linking import LINK_FIELDS
from cmsync.mapping.records import MEMBER
from cmsync.outbound.feed import Change
from cmsync.systems import Systems

_PER_QUERY = 200
_FIELDS = (
    "CM_Email__c, CM_State__c, CM_Subscriber_Name__c, CM_Custom_Fields__c, CM_Contact__c, CM_Lead__c, "
    "CM_List__r.CM_List_ID__c, CM_List__r.CM_Unsubscribe_Setting__c, CM_List__r.CM_Client__r.CM_Client_ID__c"
)


@dataclass(frozen=True)
class Membership:
    """One record on one list: the address, state, name and custom field values (by ``field_key``) CM held
    at the last main sync, and the list's client and unsubscribe setting (``AllClientLists`` or
    ``OnlyThisList``)."""

    list_id: str
    email: str
    state: str
    name: str
    fields: dict[str, str | list[str]]
    client_id: str
    unsubscribe_setting: str


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _PER_QUERY):
        yield items[start : start + _PER_QUERY]


def _rows(systems: Systems, where_field: str, values: Iterable[str]) -> Iterator[dict[str, Any]]:
    for chunk in _chunks(sorted(set(values))):
        yield from systems.salesforce.query(
            f"SELECT {_FIELDS} FROM {MEMBER} WHERE {where_field} IN {literal_list(chunk)}"
        )


def _membership(row: dict[str, Any], clients: set[str]) -> Membership | None:
    mailing_list = row.get("CM_List__r") or {}
    client = mailing_list.get("CM_Client__r") or {}
    list_id, client_id = mailing_list.get("CM_List_ID__c"), client.get("CM_Client_ID__c")
    if not list_id or client_id not in clients:
        return None
    return Membership(
        list_id=list_id,
        email=str(row["CM_Email__c"]),
        state=str(row.get("CM_State__c") or ""),
        name=str(row.get("CM_Subscriber_Name__c") or ""),
        fields=json.loads(row.get("CM_Custom_Fields__c") or "{}"),
        client_id=client_id,
        unsubscribe_setting=str(mailing_list.get("CM_Unsubscribe_Setting__c") or ""),
    )


def memberships(systems: Systems, changes: Sequence[Change]) -> dict[str, dict[str, Membership]]:
    """Record Id → list ID → membership, for every change."""
    clients = set(systems.settings.campaign_monitor.clients)
    found: dict[str, dict[str, Membership]] = {change.id: {} for change in changes}
    for object_name, link in LINK_FIELDS.items():
        ids = [change.id for change in changes if change.object_name == object_name]
        for row in _rows(systems, link, ids):
            membership = _membership(row, clients)
            if membership is not None and row.get(link) in found:
                found[row[link]][membership.list_id] = membership
    deleted_by_email: dict[str, list[str]] = {}
    for change in changes:
        if change.deleted and change.email:
            deleted_by_email.setdefault(change.email.lower(), []).append(change.id)
    for row in _rows(systems, "CM_Email__c", deleted_by_email):
        membership = _membership(row, clients)
        if membership is not None:
            for record_id in deleted_by_email.get(membership.email.lower(), ()):
                found[record_id].setdefault(membership.list_id, membership)
    return found
