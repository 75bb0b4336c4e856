"""Imports the tracking events of one campaign or journey email into ``CM_Email_Activity__c``.

Each selected type reads its report from the type's watermark (CM's ``date`` filter, to the minute),
never further back than ``tracking.days_to_keep`` (older events would only be purged again). The
watermark keeps the keys of the events at its exact time, so the overlapping minute is not written twice.
The re-import of a window (``cmsync.sync.reimport``) writes through the same per-type import,
with an explicit window and no watermark.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.clients.campaign_monitor.client import Unreadable
from cmsync.clients.campaign_monitor.records import TrackingEvent
from cmsync.logs import get_logger
from cmsync.mapping import records
from cmsync.mapping.linking import LINK_FIELDS, find_links
from cmsync.sync import sources
from cmsync.sync.streams import StreamWriter, ends_when_cancelled
from cmsync.sync.unreadable import UnreadableRecords, digest
from cmsync.systems import Systems

log = get_logger(__name__)
PAGE = 1000
REPORTS = {
    "campaign": {
        "sent": "recipients",
        "opened": "opens",
        "clicked": "clicks",
        "bounced": "bounces",
        "unsubscribed": "unsubscribes",
        "spam": "spam",
    },
    "journey_email": {
        "sent": "recipients",
        "opened": "opens",
        "clicked": "clicks",
        "bounced": "bounces",
        "unsubscribed": "unsubscribes",
    },
}
"""Tracking type → the CM report that lists it, per kind of source (journey emails have no spam report)."""


def tracking_stream(source_id: str, activity: str) -> str:
    return f"tracking:{source_id}:{activity}"


@dataclass(frozen=True)
class Source:
    """A campaign or journey email whose events are imported, with what dating its records needs."""

    kind: str
    source_id: str
    sent_date: datetime | None
    offset: timedelta | None

    def undated(self, report: str) -> bool:
        """A campaign's recipients have no date of their own (the campaign's sent date applies)."""
        return self.kind == "campaign" and report == "recipients"


@dataclass(frozen=True)
class Window:
    """Event dates from ``since`` to before ``until`` (open when None), in the source's client time."""

    since: datetime
    until: datetime | None = None

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.since <= moment and (self.until is None or moment < self.until)


def read_events(
    systems: Systems, source: Source, report: str, window: Window, unreadable: Unreadable = None
) -> Iterator[TrackingEvent]:
    """A report's events dated in ``window`` (all of an undated one), read from CM page by page; an event
    that cannot be read goes to ``unreadable``."""
    cm = systems.campaign_monitor
    if source.undated(report):
        yield from cm.campaign_events(source.source_id, "recipients", unreadable=unreadable)
        return
    events = (
        cm.campaign_events(source.source_id, report, since=window.since, unreadable=unreadable)  # type: ignore[arg-type]
        if source.kind == "campaign"
        else cm.journey_email_events(source.source_id, report, since=window.since, unreadable=unreadable)  # type: ignore[arg-type]
    )
    for event in events:
        if window.until is not None and event.date is not None and event.date >= window.until:
            return
        if event.date is None or event.date >= window.since:
            yield event


def activity_writer(systems: Systems, run_id: int | None, stream: str) -> StreamWriter:
    """The writer of one tracking stream (no run for a re-import: its counts are its own)."""
    return StreamWriter(systems.salesforce, systems.store, run_id, records.ACTIVITY, stream, keep_hashes=False)


@ends_when_cancelled
def import_tracking(systems: Systems, run_id: int, source_kind: str, source_id: str) -> None:
    """Import the selected tracking types of one source; once all are in, its counts count as read."""
    store, settings = systems.store, systems.settings
    facts = sources.source(store, source_id)
    client = sources.client(store, facts.client_id) if facts else None
    source = Source(source_kind, source_id, facts.sent if facts else None, client.offset if client else None)
    now_local = datetime.now(UTC).replace(tzinfo=None) + (source.offset or timedelta(0))
    window_start = now_local - timedelta(days=settings.tracking.days_to_keep)

    for activity in settings.tracking.types:
        report = REPORTS[source_kind].get(activity)
        if report is None:
            continue
        stream = tracking_stream(source_id, activity)
        mark = json.loads(store.watermarks.get(stream) or "{}")
        writer = activity_writer(systems, run_id, stream)
        writer.retry_rejected()
        unreadable = UnreadableRecords(store, run_id, records.ACTIVITY, stream, digest)
        unreadable.forget_earlier()
        if source.undated(report) and (
            mark.get("complete") or (source.sent_date is not None and source.sent_date < window_start)
        ):
            writer.flush()
            continue
        floor = max(datetime.fromisoformat(mark["date"]), window_start) if mark.get("date") else window_start
        events = read_events(systems, source, report, Window(floor), unreadable.reject)
        import_events(systems, writer, source, activity, events, mark)
    store.facts.tracking_read(source_id).set(store.facts.tracking_seen(source_id).get())
    log.info("tracking imported", run_id=run_id, source=source_id, kind=source_kind)


def import_events(
    systems: Systems,
    writer: StreamWriter,
    source: Source,
    activity: str,
    events: Iterable[TrackingEvent],
    mark: dict[str, Any] | None,
) -> None:
    """Write one type's events, linked to their Contacts and Leads. With the stream's watermark ``mark``
    (the main sync) the events at its exact time already written are skipped and the watermark advances;
    without (a re-import) every event is written and no watermark moves."""
    undated = source.undated(REPORTS[source.kind][activity])
    seen_date: str | None = mark.get("date") if mark else None
    seen_keys: set[str] = set(mark.get("keys", [])) if mark else set()
    page: list[TrackingEvent] = []

    def write_page() -> None:
        nonlocal seen_date, seen_keys
        links = find_links(systems.store, (event.email for event in page))
        for event in page:
            record = records.activity_record(event, activity, source.source_id, source.sent_date, source.offset)
            key = record["CM_Activity_Key__c"]
            if mark is not None and event.date is not None:
                when = event.date.isoformat(sep=" ")
                if when == seen_date and key in seen_keys:
                    continue
                if when != seen_date:
                    seen_date, seen_keys = when, set()
                seen_keys.add(key)
            matches = links.for_subscriber(event.email, None)
            for object_name, link_field in LINK_FIELDS.items():
                match = matches.get(object_name)
                record[link_field] = match.id if match else None
            position = json.dumps({"date": seen_date, "keys": sorted(seen_keys)}) if seen_date else None
            writer.add(record, position)
        page.clear()

    for event in events:
        page.append(event)
        if len(page) >= PAGE:
            write_page()
    if page:
        write_page()
    if mark is not None and undated:
        writer.advance(json.dumps({"complete": True}))
    writer.flush()
