"""What a chunk of changes asks of Campaign Monitor: per record and list, at most one push.

For a saved Contact or Lead, in this order of precedence on each list:
- a Delete rule that fires sets the subscriber Deleted there;
- an Add rule that fires subscribes it, with its mapped fields (unless it has opted out of email and
  ``prevent_add_when_opted_out`` is on); on a list where it already is, that is an update;
- where it is a member and has opted out, with ``unsubscribe_when_opted_out``, it is unsubscribed (once per
  client when the list's setting unsubscribes from all the client's lists);
- where it is a member otherwise, the subscriber is updated: name, mapped fields, and its address when the
  record's email differs from the one CM holds.
A deleted record is set Deleted on every list where it is, with ``delete_subscriber_when_record_deleted``.
An Add rule that stops matching removes no one. A push equal to the last one sent is left out.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from cmsync.clients.campaign_monitor.records import ConsentToTrack, CustomFieldValue, SubscriberDetails
from cmsync.config import Settings
from cmsync.mapping.records import field_key
from cmsync.outbound.catalog import Catalog
from cmsync.outbound.conversion import ValueRefusedError, consent_to_track, field_values, held_already
from cmsync.outbound.criteria import rule_matches, value_at
from cmsync.outbound.feed import Change
from cmsync.outbound.ledger import Entry, Ledger, PushedState, digest
from cmsync.outbound.members import Membership
from cmsync.outbound.report import PollReport
from cmsync.outbound.scope import Scope

PushKind = Literal["add", "update", "email_change", "unsubscribe", "delete"]
CONSENT_KEY = field_key("[ReservedConsentToTrack]")
ALL_CLIENT_LISTS = "AllClientLists"
_STILL_SUBSCRIBED = ("Active", "Unconfirmed")


@dataclass(frozen=True)
class Push:
    """One call's worth of work for one record on one list.

    ``email`` is the address the call names (the one CM holds); ``entry`` is what the ledger keeps once it
    is done; ``refused`` says why it cannot be sent at all; ``covers`` lists the other lists an unsubscribe
    reaches through the list's ``AllClientLists`` setting.
    """

    kind: PushKind
    list_id: str
    object_name: str
    record_id: str
    email: str
    modstamp: datetime
    entry: Entry
    details: SubscriberDetails | None = None
    refused: str | None = None
    covers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The rejection key: one record on one list."""
        return f"{self.list_id}:{self.record_id}"


@dataclass(frozen=True)
class _Place:
    """A list the record is on: the address CM holds there and its state (as last known)."""

    email: str
    state: str
    membership: Membership | None


class Planner:
    """Turns changes into pushes under one poll's scope and settings."""

    def __init__(self, settings: Settings, scope: Scope, catalog: Catalog, report: PollReport) -> None:
        self.settings = settings
        self.scope = scope
        self.catalog = catalog
        self.report = report

    def plan(
        self, changes: Sequence[Change], members: Mapping[str, Mapping[str, Membership]], ledger: Ledger
    ) -> list[Push]:
        """The pushes of ``changes``, oldest change first; pushes equal to the last ones sent are left out."""
        pushes: list[Push] = []
        for change in sorted(changes, key=lambda change: change.modstamp):
            places = self._places(change, members.get(change.id, {}), ledger)
            for push in self._record_pushes(change, places):
                if self._unchanged(push, places.get(push.list_id), ledger):
                    self.report.skip("unchanged")
                else:
                    pushes.append(push)
        return pushes

    @staticmethod
    def _unchanged(push: Push, place: "_Place | None", ledger: Ledger) -> bool:
        """Whether ``push`` would send what CM has: what cmsync last sent there, or else (for an update)
        what the main sync last found there."""
        last = ledger.get(push.list_id, push.record_id)
        if last is not None:
            return last.digest == push.entry.digest
        member = place.membership if place is not None else None
        details = push.details
        return (
            push.kind == "update" and member is not None and details is not None
            and details.consent_to_track == "Unchanged" and (details.name or "") == member.name
            and held_already(details.custom_fields, member.fields)
        )  # fmt: skip

    def _places(self, change: Change, members: Mapping[str, Membership], ledger: Ledger) -> dict[str, _Place]:
        """The lists the record is on: as the main sync found it, then as cmsync itself last left it."""
        places = {
            list_id: _Place(member.email, member.state, member)
            for list_id, member in members.items()
            if member.state != "Deleted"
        }
        for list_id in self.scope.rule_lists() | set(members):
            entry = ledger.get(list_id, change.id)
            if entry is None:
                continue
            if entry.state == "deleted":
                places.pop(list_id, None)
            else:
                member = places[list_id].membership if list_id in places else None
                state = "Active" if entry.state == "subscribed" else "Unsubscribed"
                places[list_id] = _Place(entry.email, state, member)
        return places

    def _record_pushes(self, change: Change, places: dict[str, _Place]) -> list[Push]:
        opt_out = self.settings.email_opt_out
        if change.deleted:
            if not opt_out.delete_subscriber_when_record_deleted:
                return []
            return [self._push(change, "delete", list_id, place.email, "deleted") for list_id, place in places.items()]
        if not change.email:
            self.report.skip("no_email")
            return []
        opted_out = bool(change.record.get("HasOptedOutOfEmail"))
        chosen: dict[str, Push] = {}
        for rule in self.scope.rules[change.object_name]:
            if not rule_matches(rule, change.record, change.created, self.scope):
                continue
            place = places.get(rule.list)
            if rule.action == "delete":
                chosen[rule.list] = self._push(
                    change, "delete", rule.list, place.email if place else change.email, "deleted"
                )
            elif opted_out and opt_out.prevent_add_when_opted_out:
                self.report.skip("opted_out")
            else:
                chosen[rule.list] = self._subscribe(change, rule.list, place)
        unsubscribes: list[Push] = []
        for list_id, place in places.items():
            if list_id in chosen:
                continue
            if opted_out and opt_out.unsubscribe_when_opted_out:
                if place.state in _STILL_SUBSCRIBED:
                    unsubscribes.append(self._push(change, "unsubscribe", list_id, place.email, "unsubscribed"))
            else:
                chosen[list_id] = self._subscribe(change, list_id, place)
        return [*chosen.values(), *self._one_per_client(unsubscribes, places)]

    def _push(self, change: Change, kind: PushKind, list_id: str, email: str, state: PushedState) -> Push:
        entry = Entry(state, email, digest(state, email.lower()))
        return Push(kind, list_id, change.object_name, change.id, email, change.modstamp, entry)

    def _subscribe(self, change: Change, list_id: str, place: _Place | None) -> Push:
        """An add where the record is not on the list yet, else an update (of its address too, if it changed)."""
        fields: list[CustomFieldValue] = []
        consent: ConsentToTrack = "Unchanged"
        refusals: list[str] = []
        for mapping in self.scope.mappings[list_id]:
            path = self.scope.mapped_field(mapping, change.object_name)
            if path is None:
                continue
            value = value_at(change.record, path)
            key = field_key(mapping.cm_field)
            if key == CONSENT_KEY:
                consent = consent_to_track(value)
                continue
            try:
                fields.extend(field_values(mapping.cm_field, value, self.catalog.cm_fields(list_id).get(key)))
            except ValueRefusedError as refusal:
                refusals.append(str(refusal))
        name = change.record.get("Name")
        details = SubscriberDetails(change.email, str(name) if name else None, tuple(fields), consent)
        entry = Entry("subscribed", change.email, digest("subscribed", details.as_json()))
        kind: PushKind = "add" if place is None else "update"
        if place is not None and place.email.lower() != change.email.lower():
            kind = "email_change"
        current = place.email if place is not None else change.email
        return Push(
            kind, list_id, change.object_name, change.id, current, change.modstamp, entry, details,
            refused="; ".join(refusals) or None,
        )  # fmt: skip

    @staticmethod
    def _one_per_client(unsubscribes: list[Push], places: Mapping[str, _Place]) -> list[Push]:
        """One unsubscribe per client where a list's setting unsubscribes from all the client's lists."""
        reaching: dict[str, Push] = {}
        for push in unsubscribes:
            member = places[push.list_id].membership
            if member is not None and member.unsubscribe_setting == ALL_CLIENT_LISTS:
                reaching.setdefault(member.client_id, push)
        kept: list[Push] = []
        for push in unsubscribes:
            member = places[push.list_id].membership
            first = reaching.get(member.client_id) if member is not None else None
            if first is None:
                kept.append(push)
            elif first is push:
                covered = tuple(
                    other.list_id for other in unsubscribes
                    if other is not push and (other_member := places[other.list_id].membership) is not None
                    and other_member.client_id == member.client_id
                )  # fmt: skip
                kept.append(replace(push, covers=covered))
        return kept
