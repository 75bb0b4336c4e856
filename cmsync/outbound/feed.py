"""The change feed: Salesforce records whose SystemModstamp is past the watermark, one object at a time.

Each object has a cursor in the state store: the watermark and, for the overlap re-read each poll (a
record saved in a long transaction may carry a SystemModstamp older than one already read), the records
seen near it, so a change is handled once. Reads use ``queryAll``, so a delete (the record in the recycle
bin, its SystemModstamp moved) arrives like any change. A watermark starts at the moment outbound came on
(``pause.resumed_at``): outbound work is not retrospective, and every save from that moment on is pushed.

Left out, and counted: cmsync's own writes (the integration user's, which must never echo back to CM),
converted Leads, and with ``disable_bulk_triggers`` every record of a bulk save but the first. The records
of one Salesforce transaction share one SystemModstamp (a Bulk API job saves 200 records per transaction,
an sObject Collections call is one transaction), so a bulk save is what one user saved at one instant; its
first record is the one with the lowest Id (for inserts, the first of the request).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.clients.salesforce.client import parse_datetime
from cmsync.clients.salesforce.soql import literal, literal_list, select
from cmsync.logs import get_logger
from cmsync.outbound.report import PollReport
from cmsync.outbound.scope import Scope
from cmsync.systems import Systems

log = get_logger(__name__)
OVERLAP = timedelta(seconds=15)
CHUNK = 2000
"""Changes acted on (and the cursor saved) at a time, so a long backlog moves forward in steps."""
DELETED_STEP = timedelta(minutes=1, seconds=5)
DELETED_REACH = timedelta(days=29)
"""getDeleted answers for the last 30 days at most."""
_PER_QUERY = 200


def overlap_start(watermark: datetime) -> datetime:
    """Where a read past ``watermark`` starts: the overlap before it, to the whole second as SOQL writes it."""
    return (watermark - OVERLAP).replace(microsecond=0)


def instant(moment: datetime) -> str:
    """A UTC instant as text that sorts as the instants do (the form the cursor keeps)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Change:
    """A saved (or deleted) Contact, Lead or Account as read, and whether it is new since the last poll."""

    object_name: str
    record: Mapping[str, Any]
    modstamp: datetime
    created: bool = False
    deleted: bool = False

    @property
    def id(self) -> str:
        return str(self.record["Id"])

    @property
    def email(self) -> str:
        return str(self.record.get("Email") or "").strip()


@dataclass
class Cursor:
    """Where one object's feed resumes: the watermark, the records seen within the overlap before it (Id →
    SystemModstamp) and, for ``disable_bulk_triggers``, the bulk changes already started there."""

    object_name: str
    after: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)
    bulks: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, systems: Systems, object_name: str) -> "Cursor":
        saved = systems.store.facts.outbound_cursor(object_name).get()
        if not isinstance(saved, dict):
            return cls(object_name)
        return cls(object_name, datetime.fromisoformat(saved["after"]), dict(saved["seen"]), set(saved["bulks"]))

    def advance(self, latest: datetime) -> None:
        """Move the watermark to ``latest``, forgetting the records seen that no read from now on returns."""
        assert self.after is not None
        horizon = instant(overlap_start(self.after))
        self.seen = {record_id: stamp for record_id, stamp in self.seen.items() if stamp > horizon}
        self.bulks = {bulk for bulk in self.bulks if bulk.split("|", 1)[1] > horizon}
        self.after = max(self.after, latest)

    def save(self, systems: Systems) -> None:
        assert self.after is not None
        systems.store.facts.outbound_cursor(self.object_name).set(
            {"after": instant(self.after), "seen": self.seen, "bulks": sorted(self.bulks)}
        )


def reset_cursors(systems: Systems, object_names: tuple[str, ...]) -> None:
    """Forget the watermarks: while outbound is off, changes are not kept for later (as the app's triggers)."""
    for object_name in object_names:
        systems.store.facts.outbound_cursor(object_name).clear()
        systems.store.facts.outbound_deleted(object_name).clear()


def start_cursor(systems: Systems, cursor: Cursor, since: datetime) -> None:
    """Start the watermark at ``since``: the records saved before it (within the overlap) count as seen.

    SystemModstamp counts milliseconds, so a save in the same millisecond as ``since`` is pushed.
    """
    name = cursor.object_name
    before = since.replace(microsecond=since.microsecond // 1000 * 1000)
    cursor.after = since
    window = (
        f"SystemModstamp > {literal(overlap_start(since))} "
        f"AND SystemModstamp < {literal(since.replace(microsecond=0) + timedelta(seconds=1))}"
    )
    for record in systems.salesforce.query(select(name, ["Id", "SystemModstamp"], where=window), include_deleted=True):
        stamp = parse_datetime(record["SystemModstamp"])
        if stamp < before:
            cursor.seen[str(record["Id"])] = instant(stamp)
    cursor.save(systems)


@dataclass
class Chunk:
    """Changes to act on, and the newest SystemModstamp read for them (the watermark once they are done)."""

    changes: list[Change]
    latest: datetime


def read_changes(systems: Systems, scope: Scope, cursor: Cursor, report: PollReport) -> Iterator[Chunk]:
    """The object's changes past the cursor (less the overlap), oldest first, in chunks."""
    assert cursor.after is not None
    object_name = cursor.object_name
    since = overlap_start(cursor.after)
    soql = select(
        object_name,
        scope.fields[object_name],
        where=f"SystemModstamp > {literal(since)}",
        order_by=["SystemModstamp", "Id"],
    )
    integration_user = systems.salesforce.user_id[:15]
    skip_bulks = systems.settings.advanced.disable_bulk_triggers
    changes: list[Change] = []
    latest = cursor.after
    read = 0
    for record in systems.salesforce.query(soql, include_deleted=True):
        stamp = parse_datetime(record["SystemModstamp"])
        record_id, stamp_text = str(record["Id"]), instant(stamp)
        previous = cursor.seen.get(record_id)
        if previous is not None and previous >= stamp_text:
            continue
        cursor.seen[record_id] = stamp_text
        latest = max(latest, stamp)
        read += 1
        report.changed(object_name)
        user = str(record.get("LastModifiedById") or "")
        bulk = f"{user}|{stamp_text}"
        if user[:15] == integration_user:
            report.skip("own_write")
        elif record.get("IsConverted"):
            report.skip("converted")
        elif skip_bulks and bulk in cursor.bulks:
            report.skip("bulk")
        else:
            if skip_bulks:
                cursor.bulks.add(bulk)
            created = previous is None and parse_datetime(record["CreatedDate"]) > since
            changes.append(Change(object_name, record, stamp, created=created, deleted=bool(record.get("IsDeleted"))))
        if read >= CHUNK:
            yield Chunk(changes, latest)
            changes, read = [], 0
    if read:
        yield Chunk(changes, latest)


def vanished_records(systems: Systems, object_name: str, since: datetime) -> list[Change]:
    """Records deleted past the recycle bin (hard-deleted, or the bin emptied) before the feed read them.

    getDeleted counts whole minutes, so it is asked once a minute at most, from where it last covered; a
    record it names that ``queryAll`` still finds is in the recycle bin, where the feed sees it. The first
    look starts at ``since``, when outbound came on.
    """
    deletes_read = systems.store.facts.outbound_deleted(object_name)
    now = datetime.now(UTC)
    saved = deletes_read.get()
    if saved is None:
        deletes_read.set(instant(since))
        return []
    start = max(datetime.fromisoformat(saved), now - DELETED_REACH)
    if now - start < DELETED_STEP:
        return []
    deleted = systems.salesforce.deleted(object_name, start, now)
    if deleted.earliest_date_available > start:
        log.warning("salesforce no longer knows every delete since the last look", object=object_name)
    when = dict(deleted.records)
    ids = sorted(when)
    in_bin: set[str] = set()
    for first in range(0, len(ids), _PER_QUERY):
        where = f"Id IN {literal_list(ids[first : first + _PER_QUERY])}"
        rows = systems.salesforce.query(select(object_name, ["Id"], where=where), include_deleted=True)
        in_bin.update(str(row["Id"]) for row in rows)
    deletes_read.set(instant(deleted.latest_date_covered))
    return [
        Change(object_name, {"Id": record_id}, when[record_id], deleted=True)
        for record_id in ids
        if record_id not in in_bin
    ]
