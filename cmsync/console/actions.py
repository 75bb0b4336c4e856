"""What the console's buttons do: each calls the code behind the matching ``cmsync`` command, so a
button and its command can never disagree (``sync-now``, ``disconnect``, ``connect``,
``reimport-tracking``)."""

import io
from datetime import UTC, datetime

from cmsync.commands.connection import connect
from cmsync.commands.reimport import parse_moment, report_lines
from cmsync.commands.sync_now import request_sync
from cmsync.config import Settings
from cmsync.console.live import DISCONNECTED_REASON
from cmsync.state import StateStore
from cmsync.sync.reimport import Reimport, ReimportRefusedError, check, reimport_window
from cmsync.systems import Systems
from cmsync.workers.retention_requests import request_reimport


class ActionRefusedError(ValueError):
    """The action was not carried out; the message says why, in the command line's words."""


def start_sync(settings: Settings, *, full: bool) -> str:
    """``cmsync sync-now [--full]``: start a run, or name the one in flight; refused when disconnected."""
    out = io.StringIO()
    status = request_sync(settings, wait=False, full=full, out=out)
    said = out.getvalue().strip()
    if status != 0:
        raise ActionRefusedError(said)
    return said


def connect_installation(store: StateStore) -> str:
    """``cmsync connect``."""
    connect(store)
    return "connected: syncing resumes (the schedule starts again within a second)"


def reimport_request(since: str, until: str) -> Reimport:
    """A window as ``reimport-tracking --since/--until`` reads it (UTC days or ISO date-times)."""
    try:
        start = parse_moment(since)
        end = parse_moment(until, end_of_day=True) if until.strip() else datetime.now(UTC)
    except ValueError as error:
        raise ActionRefusedError(str(error)) from None
    return Reimport(start, end)


def _checked(settings: Settings, store: StateStore, request: Reimport) -> None:
    if not store.connection.connected():
        raise ActionRefusedError(DISCONNECTED_REASON)
    try:
        check(settings, request, datetime.now(UTC))
    except ReimportRefusedError as refused:
        raise ActionRefusedError(str(refused)) from None


def count_reimport(settings: Settings, store: StateStore, request: Reimport) -> list[str]:
    """``reimport-tracking --dry-run``: reads Campaign Monitor only; the events and calls it would take."""
    _checked(settings, store, request)
    systems = Systems.from_settings(settings, store)
    try:
        return report_lines(request, reimport_window(systems, request, dry_run=True))
    finally:
        systems.close()


def queue_reimport(settings: Settings, store: StateStore, request: Reimport) -> str:
    """``reimport-tracking``: sent to the supervisor's workers (embedded or RabbitMQ), which log its outcome."""
    _checked(settings, store, request)
    request_reimport(request)
    return "re-import queued for the workers; its outcome is logged and shown under Email Tracking Data"
