"""Re-import of email tracking for a window of dates: CM's events read again and upserted (nothing doubled).

The sources are the campaigns sent from ``days_to_keep`` before the window to its end (the main sync
imports a campaign's events while it was sent within ``days_to_keep``) and every journey email, of the
selected clients. Events go through the main sync's per-type import without watermark positions, so the
main sync's watermarks never move; records Salesforce refuses are kept under the main sync's stream and
retried by it. A window older than ``days_to_keep`` is refused unless forced: the next purge would
delete it again. A dry run reads CM only and says what the import would write and the calls it expects.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import ceil
from typing import Any

from cmsync.clients.salesforce.writes import COLLECTION_LIMIT
from cmsync.config import Settings
from cmsync.config.model import TRACKING_TYPES
from cmsync.logs import get_logger
from cmsync.mapping.records import ACTIVITY
from cmsync.retention.purge import cutoff_for
from cmsync.sync import tracking
from cmsync.sync.unreadable import UnreadableRecords, digest
from cmsync.systems import Systems

log = get_logger(__name__)
BULK_JOB_CALLS = 6
"""Calls of one Bulk 2.0 job at the least: create, upload, close, one poll, two result reads."""


class ReimportRefusedError(ValueError):
    """The request cannot be carried out as given (the message says why and what to do)."""


@dataclass(frozen=True)
class Reimport:
    """What to import again: events dated in ``[since, until)`` (UTC), optionally narrowed."""

    since: datetime
    until: datetime
    clients: tuple[str, ...] = ()
    campaign: str | None = None
    types: tuple[str, ...] = ()
    force: bool = False

    def message(self) -> dict[str, Any]:
        """As an actor's argument (JSON)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "clients": list(self.clients),
            "campaign": self.campaign,
            "types": list(self.types),
            "force": self.force,
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> "Reimport":
        return cls(
            datetime.fromisoformat(data["since"]),
            datetime.fromisoformat(data["until"]),
            tuple(data["clients"]),
            data["campaign"],
            tuple(data["types"]),
            bool(data["force"]),
        )


@dataclass
class SourceEvents:
    """One campaign or journey email of the window: its events per tracking type."""

    kind: str
    source_id: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ReimportReport:
    """What a re-import found (or, in a dry run, would write), and what it cost."""

    dry_run: bool
    sources: list[SourceEvents] = field(default_factory=list)
    campaign_monitor_calls: int = 0
    salesforce_writes: int = 0
    rejected: int = 0

    @property
    def events(self) -> int:
        return sum(sum(source.counts.values()) for source in self.sources)


def check(settings: Settings, request: Reimport, now: datetime) -> None:
    """Refuse a request that names unknown things, or whose events the next purge would delete again."""
    if request.since >= request.until:
        raise ReimportRefusedError(f"--since {request.since:%Y-%m-%d %H:%M} is not before --until")
    unknown = [client for client in request.clients if client not in settings.campaign_monitor.clients]
    if unknown:
        raise ReimportRefusedError(f"client {unknown[0]} is not one of campaign_monitor.clients")
    tracking_settings = settings.tracking
    if request.force:
        return
    purged = [kind for kind in request.types if kind not in tracking_settings.types]
    if purged and tracking_settings.purge_deselected_types:
        raise ReimportRefusedError(
            f"tracking type {purged[0]} is not selected and tracking.purge_deselected_types is on: the next purge "
            "would delete it again (use --force to import it anyway)"
        )
    cutoff = cutoff_for(tracking_settings, now)
    if request.since < cutoff:
        raise ReimportRefusedError(
            f"--since {request.since:%Y-%m-%d %H:%M} UTC is older than tracking.days_to_keep "
            f"({tracking_settings.days_to_keep} days, so {cutoff:%Y-%m-%d %H:%M} UTC): the next purge would delete "
            "those events again (use --force to import them anyway)"
        )


def _local(moment: datetime, offset: timedelta | None) -> datetime:
    """A UTC moment as a CM date of a client ``offset`` ahead of UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) + (offset or timedelta(0))


def _sources(systems: Systems, request: Reimport) -> Iterator[tuple[tracking.Source, str, tracking.Window]]:
    """The campaigns and journey emails whose events may fall in the window, with the window in their client's time."""
    cm = systems.campaign_monitor
    wanted = request.campaign.lower() if request.campaign else None
    for client_id in request.clients or systems.settings.campaign_monitor.clients:
        offset = cm.client_details(client_id).utc_offset
        window = tracking.Window(_local(request.since, offset), _local(request.until, offset))
        sent_from = window.since - timedelta(days=systems.settings.tracking.days_to_keep)
        for campaign in cm.campaigns(client_id, sent_from=sent_from.date()):
            if campaign.sent_date < window.until and wanted in (None, campaign.campaign_id.lower()):
                source = tracking.Source("campaign", campaign.campaign_id, campaign.sent_date, offset)
                yield source, campaign.name, window
        for journey in cm.journeys(client_id):
            details = cm.journey_details(journey.journey_id)
            for email in details.emails:
                if wanted in (None, email.email_id.lower()):
                    source = tracking.Source("journey_email", email.email_id, None, offset)
                    yield source, f"{details.name}: {email.name}", window


def expected_writes(events: int, chunk: int, bulk_threshold: int) -> int:
    """Salesforce calls to upsert ``events`` in chunks of ``chunk``: Collections of 200 each, or one Bulk
    job (at the least) for a chunk above the threshold."""

    def calls(records: int) -> int:
        return BULK_JOB_CALLS if records > bulk_threshold else ceil(records / COLLECTION_LIMIT)

    full, rest = divmod(events, chunk)
    return full * calls(chunk) + calls(rest)


def _calls(systems: Systems) -> int:
    return sum(sum(outcomes.values()) for outcomes in systems.campaign_monitor.counts.snapshot().values())


def reimport_window(systems: Systems, request: Reimport, *, dry_run: bool = False) -> ReimportReport:
    """Import (or count, in a dry run) the window's events of every source and selected type."""
    check(systems.settings, request, datetime.now(UTC))
    started = datetime.now(UTC)
    calls_before = _calls(systems)
    types = request.types or tuple(systems.settings.tracking.types)
    report = ReimportReport(dry_run)
    for source, name, window in _sources(systems, request):
        if not dry_run and not systems.store.connection.connected():
            log.info("tracking re-import stopped: disconnected")
            break
        found = SourceEvents(source.kind, source.source_id, name)
        for activity in (kind for kind in TRACKING_TYPES if kind in types):
            report_name = tracking.REPORTS[source.kind].get(activity)
            if report_name is None or (source.undated(report_name) and not window.holds(source.sent_date)):
                continue
            stream = tracking.tracking_stream(source.source_id, activity)
            unreadable = UnreadableRecords(systems.store, None, ACTIVITY, stream, digest)
            taker = (lambda _error: None) if dry_run else unreadable.reject
            events = tracking.read_events(systems, source, report_name, window, taker)
            writer = tracking.activity_writer(systems, None, stream)
            if dry_run:
                count = sum(1 for _ in events)
                threshold = systems.settings.salesforce.bulk_threshold
                report.salesforce_writes += expected_writes(count, writer.chunk_size, threshold)
            else:
                tracking.import_events(systems, writer, source, activity, events, None)
                count = writer.totals.imported + writer.totals.rejected
                report.rejected += writer.totals.rejected + unreadable.rejected
            if count:
                found.counts[activity] = count
        if found.counts:
            report.sources.append(found)
    report.campaign_monitor_calls = _calls(systems) - calls_before
    if not dry_run:
        systems.store.facts.last_reimport.set(_fact(request, report, started))
    log.info("tracking re-import finished", dry_run=dry_run, events=report.events, rejected=report.rejected)
    return report


def _fact(request: Reimport, report: ReimportReport, started: datetime) -> dict[str, Any]:
    return {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "since": request.since.isoformat(),
        "until": request.until.isoformat(),
        "events": report.events,
        "rejected": report.rejected,
    }
