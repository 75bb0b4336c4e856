"""The org's event bus: every committed transaction on Contact, Lead or Account becomes change events,
kept 72 hours (by the org's clock) and numbered by replay ID.

One transaction's records saved the same way (same kind of change, same values, same user) share one
event naming all their ``recordIds``. The controls (``/_sandbox/pubsub``) turn the next transactions
into gap or overflow events, turn Change Data Capture off for an object, delay delivery and drop the
open streams.
"""

import bisect
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from cmsync_sandbox.salesforce.clock import ServerClock
from cmsync_sandbox.salesforce.pubsub.schemas import EventSchema
from cmsync_sandbox.salesforce.schema import Schema
from cmsync_sandbox.salesforce.store import SavedChange

CDC_OBJECTS = ("Contact", "Lead", "Account")
RETENTION_MS = 72 * 3600 * 1000
_NUMBERS = {"gap_transactions": int, "overflow_transactions": int, "delay_seconds": float, "keepalive_seconds": float}
"""The numeric controls, by how their values are read."""
OVERFLOW_RECORD_ID = "000000000000000AAA"
"""The wildcard record ID of a GAP_OVERFLOW event."""


def change_origin(api_version: str, call_options: str | None) -> str:
    """``changeOrigin`` of a REST write: the API and the client name of its ``Sforce-Call-Options`` header."""
    origin = f"com/salesforce/api/rest/{api_version}"
    for option in (call_options or "").split(","):
        name, _, value = option.strip().partition("=")
        if name.strip().lower() == "client" and value.strip():
            origin += f";client={value.strip()}"
    return origin


def topic_name(sobject: str) -> str:
    return f"/data/{sobject}ChangeEvent"


@dataclass(frozen=True)
class StoredEvent:
    """One change event on the bus."""

    replay: int
    sobject: str
    event_id: str
    schema_id: str
    payload: bytes
    committed_ms: int


@dataclass
class Controls:
    """What the sandbox's controls changed about delivery."""

    gap_transactions: int = 0
    overflow_transactions: int = 0
    delay_seconds: float = 0.0
    keepalive_seconds: float = 5.0
    disabled: set[str] = field(default_factory=set)
    drops: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "gap_transactions": self.gap_transactions,
            "overflow_transactions": self.overflow_transactions,
            "delay_seconds": self.delay_seconds,
            "keepalive_seconds": self.keepalive_seconds,
            "disabled": sorted(self.disabled),
            "drops": self.drops,
        }


class ReplayExpiredError(Exception):
    """A replay ID the bus no longer holds (older than the retention, or never given out)."""


class EventBus:
    """Change events of the CDC objects, in commit order; ``condition`` wakes the streams waiting for more."""

    def __init__(self, schema: Schema, clock: ServerClock) -> None:
        self.clock = clock
        self.schemas = {name: EventSchema.of(sobject) for name in CDC_OBJECTS if (sobject := schema.get(name))}
        self.by_id = {event_schema.schema_id: event_schema for event_schema in self.schemas.values()}
        self.controls = Controls()
        self.condition = threading.Condition()
        self.events: list[StoredEvent] = []
        self.last_replay = 0
        self._purged_through = 0
        self._commit_number = 0

    def clear(self) -> None:
        with self.condition:
            self.events.clear()
            self._purged_through = self.last_replay
            self.controls = Controls(drops=self.controls.drops + 1)
            self.condition.notify_all()

    def change_controls(self, changes: dict[str, Any]) -> None:
        """Apply what ``POST /_sandbox/pubsub`` asks for (ValueError naming a bad value) and wake the streams."""
        with self.condition:
            for name, kind in _NUMBERS.items():
                if name in changes:
                    try:
                        setattr(self.controls, name, kind(changes[name]))
                    except (TypeError, ValueError):
                        raise ValueError(f"{name} must be a number, not {changes[name]!r}") from None
            if "disabled" in changes:
                unknown = set(changes["disabled"]) - set(self.schemas)
                if unknown:
                    raise ValueError(f"disabled names objects without change events: {sorted(unknown)}")
                self.controls.disabled = set(changes["disabled"])
            if changes.get("drop_streams"):
                self.controls.drops += 1
            self.condition.notify_all()

    def enabled(self, sobject: str) -> bool:
        return sobject in self.schemas and sobject not in self.controls.disabled

    def commit(self, saved: list[SavedChange]) -> None:
        """Publish one committed transaction's changes (the record store calls this)."""
        changes = [change for change in saved if self.enabled(change.sobject)]
        if not changes:
            return
        with self.condition:
            self._commit_number += 1
            transaction = str(uuid.uuid4())
            if self.controls.overflow_transactions:
                self.controls.overflow_transactions -= 1
                events = self._overflow(changes)
            else:
                gap = self.controls.gap_transactions > 0
                if gap:
                    self.controls.gap_transactions -= 1
                events = self._grouped(changes, gap)
            for sequence, (sobject, header, values) in enumerate(events, start=1):
                header.update(transactionKey=transaction, sequenceNumber=sequence, commitNumber=self._commit_number)
                self._append(sobject, header, values)
            self.condition.notify_all()

    def _grouped(self, changes: list[SavedChange], gap: bool) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        groups: dict[tuple[Any, ...], list[SavedChange]] = {}
        for change in changes:
            key = (change.sobject, change.kind, change.user_id, change.origin, repr(change.values), change.nulled)
            groups.setdefault(key, []).append(change)
        events = []
        for members in groups.values():
            first = members[0]
            schema = self.schemas[first.sobject]
            values = {} if gap else dict(first.values)
            header = self._header(first, [member.record_id for member in members], gap)
            if not gap:
                header["changedFields"] = schema.bitmap(values) if first.kind == "UPDATE" else []
                header["nulledFields"] = schema.bitmap(first.nulled)
            events.append((first.sobject, header, values))
        return events

    def _overflow(self, changes: list[SavedChange]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        firsts: dict[str, SavedChange] = {}
        for change in changes:
            firsts.setdefault(change.sobject, change)
        return [
            (sobject, {**self._header(first, [OVERFLOW_RECORD_ID], False), "changeType": "GAP_OVERFLOW"}, {})
            for sobject, first in firsts.items()
        ]

    @staticmethod
    def _header(change: SavedChange, record_ids: list[str], gap: bool) -> dict[str, Any]:
        return {
            "entityName": change.sobject,
            "recordIds": record_ids,
            "changeType": f"GAP_{change.kind}" if gap else change.kind,
            "changeOrigin": change.origin,
            "transactionKey": "",
            "sequenceNumber": 0,
            "commitTimestamp": change.stamp,
            "commitNumber": 0,
            "commitUser": change.user_id,
            "nulledFields": [],
            "diffFields": [],
            "changedFields": [],
        }

    def _append(self, sobject: str, header: dict[str, Any], values: dict[str, Any]) -> None:
        schema = self.schemas[sobject]
        self.last_replay += 1
        payload = schema.encode(header, values)
        event = StoredEvent(
            self.last_replay, sobject, str(uuid.uuid4()), schema.schema_id, payload, header["commitTimestamp"]
        )
        self.events.append(event)

    def purge(self) -> None:
        """Forget the events older than the retention (the caller holds ``condition``)."""
        horizon = self.clock.milliseconds() - RETENTION_MS
        kept = 0
        while kept < len(self.events) and self.events[kept].committed_ms < horizon:
            kept += 1
        if kept:
            self._purged_through = self.events[kept - 1].replay
            del self.events[:kept]

    def start_after(self, preset: int, replay: int | None) -> int:
        """Where a subscription starts (it receives events past the number returned); the caller holds
        ``condition``. ReplayExpiredError for a replay ID outside the retention."""
        self.purge()
        if preset == 0:
            return self.last_replay
        if preset == 1:
            return self._purged_through
        if replay is None or replay < self._purged_through or replay > self.last_replay:
            raise ReplayExpiredError(replay)
        return replay

    def after(self, position: int, sobject: str, limit: int, committed_by: int) -> list[StoredEvent]:
        """Up to ``limit`` events of ``sobject`` past ``position`` committed by ``committed_by`` (epoch ms; the
        caller holds ``condition``)."""
        found: list[StoredEvent] = []
        start = bisect.bisect_right(self.events, position, key=lambda event: event.replay)
        for event in self.events[start:]:
            if event.sobject != sobject:
                continue
            if event.committed_ms > committed_by or len(found) >= limit:
                break
            found.append(event)
        return found
