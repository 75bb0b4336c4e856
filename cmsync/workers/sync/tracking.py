"""Imports the tracking events of one campaign or journey email into ``CM_Email_Activity__c``.

Each selected type reads its report from the type's watermark (CM's ``date`` filter, to the minute),
never further back than ``tracking.days_to_keep`` (older events would only be purged again). The
watermark keeps the keys of the events at its exact time, so the overlapping minute is not written twice.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.logs import get_logger
from cmsync.workers.campaign_monitor.records import TrackingEvent
from cmsync.workers.engine import Engine
from cmsync.workers.sync import records, sources
from cmsync.workers.sync.linking import LINK_FIELDS, find_links
from cmsync.workers.sync.streams import StreamWriter

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


def import_tracking(engine: Engine, run_id: int, source_kind: str, source_id: str) -> None:
    """Import the selected tracking types of one source; once all are in, its counts count as read."""
    store, settings = engine.store, engine.settings
    facts = sources.source(store, source_id)
    client = sources.client(store, facts.client_id) if facts else None
    offset = client.offset if client else None
    now_local = datetime.now(UTC).replace(tzinfo=None) + (offset or timedelta(0))
    window_start = now_local - timedelta(days=settings.tracking.days_to_keep)
    sent_date = facts.sent if facts else None

    for activity in settings.tracking.types:
        report = REPORTS[source_kind].get(activity)
        if report is None:
            continue
        stream = tracking_stream(source_id, activity)
        mark = json.loads(store.watermark(stream) or "{}")
        undated = source_kind == "campaign" and report == "recipients"
        writer = StreamWriter(engine.salesforce, store, run_id, records.ACTIVITY, stream, keep_hashes=False)
        writer.retry_rejected()
        if undated and (mark.get("complete") or (sent_date is not None and sent_date < window_start)):
            writer.flush()
            continue
        floor = max(datetime.fromisoformat(mark["date"]), window_start) if mark.get("date") else window_start
        events = (
            engine.campaign_monitor.campaign_events(source_id, report, since=None if undated else floor)  # type: ignore[arg-type]
            if source_kind == "campaign"
            else engine.campaign_monitor.journey_email_events(source_id, report, since=floor)  # type: ignore[arg-type]
        )
        _import_events(engine, writer, events, activity, source_id, sent_date, offset, mark, floor, undated)
    store.set_fact(f"tracking_digest:{source_id}", store.fact(f"tracking_seen:{source_id}"))
    log.info("tracking imported", run_id=run_id, source=source_id, kind=source_kind)


def _import_events(
    engine: Engine,
    writer: StreamWriter,
    events: Any,
    activity: str,
    source_id: str,
    sent_date: datetime | None,
    offset: timedelta | None,
    mark: dict[str, Any],
    floor: datetime,
    undated: bool,
) -> None:
    seen_date: str | None = mark.get("date")
    seen_keys: set[str] = set(mark.get("keys", []))
    page: list[TrackingEvent] = []

    def write_page() -> None:
        nonlocal seen_date, seen_keys
        links = find_links(engine.store, (event.email for event in page))
        for event in page:
            record = records.activity_record(event, activity, source_id, sent_date, offset)
            key = record["CM_Activity_Key__c"]
            when = event.date.isoformat(sep=" ") if event.date else None
            if not undated and when is not None:
                if when < floor.isoformat(sep=" ") or (when == seen_date and key in seen_keys):
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
    if undated:
        writer.advance(json.dumps({"complete": True}))
    writer.flush()
