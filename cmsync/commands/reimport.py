"""``cmsync reimport-tracking``: import the email tracking of a window of dates from Campaign Monitor again.

Dates are UTC: ``YYYY-MM-DD`` (``--until`` then means the end of that day) or an ISO date-time. With the
embedded broker the import runs in this process; with RabbitMQ it is queued for the workers. ``--dry-run``
reads Campaign Monitor only and prints the events per campaign and type it would import, and the calls.
"""

import sys
from datetime import UTC, datetime, timedelta

from cmsync.config import Settings
from cmsync.sync.reimport import Reimport, ReimportRefusedError, ReimportReport, check, reimport_window
from cmsync.systems import Systems
from cmsync.workers.dispatch import run_or_queue
from cmsync.workers.retention_requests import request_reimport

KIND_NAMES = {"campaign": "campaign", "journey_email": "journey email"}


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A command-line date as an aware UTC moment; a bare date is its start (or, with ``end_of_day``, its end)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(text.strip()) == len("YYYY-MM-DD"):
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


def report_lines(request: Reimport, report: ReimportReport) -> list[str]:
    """The window, one line per source with events per type, and the totals with the API calls."""
    mode = " (dry run: nothing written)" if report.dry_run else ""
    lines = [f"tracking from {request.since:%Y-%m-%d %H:%M} to {request.until:%Y-%m-%d %H:%M} UTC{mode}"]
    for source in report.sources:
        counts = ", ".join(f"{kind} {count}" for kind, count in source.counts.items())
        lines.append(f"  {KIND_NAMES[source.kind]} {source.name} ({source.source_id}): {counts}")
    sources = f"{report.events} events from {len(report.sources)} campaigns and journey emails"
    if report.dry_run:
        lines.append(
            f"would import {sources}; expected API calls: Campaign Monitor {report.campaign_monitor_calls}, "
            f"Salesforce {report.salesforce_writes}"
        )
    else:
        rejected = f" ({report.rejected} rejected, kept to retry)" if report.rejected else ""
        lines.append(f"imported {sources}{rejected}; Campaign Monitor calls {report.campaign_monitor_calls}")
    return lines


def reimport_now(settings: Settings, request: Reimport, *, dry_run: bool) -> int:
    """Re-import (or count, or queue); 0 when done or queued, 1 when refused or records were rejected."""
    try:
        check(settings, request, datetime.now(UTC))
    except ReimportRefusedError as refused:
        print(f"cmsync reimport-tracking: {refused}", file=sys.stderr)
        return 1

    def work(systems: Systems) -> int:
        report = reimport_window(systems, request, dry_run=dry_run)
        print("\n".join(report_lines(request, report)))
        return 1 if report.rejected else 0

    def queue() -> str:
        request_reimport(request)
        return "re-import queued for the workers; its outcome is logged"

    return run_or_queue(settings, work, None if dry_run else queue)
