"""What each console page shows, gathered from the settings, the state store and (for the connected
clients' lists) a Campaign Monitor read kept for a few minutes."""

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.clients.campaign_monitor.client import CampaignMonitorClient
from cmsync.clients.campaign_monitor.errors import CampaignMonitorError
from cmsync.clients.campaign_monitor.retry import RetryPolicy
from cmsync.commands.humanize import time_ago
from cmsync.commands.status import _duration as status_duration
from cmsync.commands.status import status_report
from cmsync.config import Settings
from cmsync.console.live import object_counts
from cmsync.outbound.pushes import STREAM as OUTBOUND_STREAM
from cmsync.state import Rejection, Run, StateStore
from cmsync.sync.failures import first_failure

LISTS_KEPT_SECONDS = 300.0
ERROR_KEPT_SECONDS = 30.0
LISTS_READ_TIMEOUT = timedelta(seconds=5)
ONE_TRY = RetryPolicy(attempts=1, rate_limit_patience=0.0)
RUNS_SHOWN = 50


def ago(moment: datetime | str | None, now: datetime | None = None) -> str:
    """``3 minutes ago`` (the ``status`` wording) for a moment or its ISO text; ``never`` for none."""
    if moment is None:
        return "never"
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return time_ago(when, now or datetime.now(UTC))


def duration(run: Run) -> str:
    """How long a run took (or has taken so far), worded as ``cmsync status`` words it."""
    return status_duration(((run.finished_at or datetime.now(UTC)) - run.started_at).total_seconds())


def rejection_email(rejection: Rejection) -> str:
    """The email a rejected record is about (its key may end with a digest when the email is long)."""
    payload = rejection.payload if isinstance(rejection.payload, dict) else {}
    return str(payload.get("CM_Email__c") or payload.get("email") or rejection.key.split(":", 1)[-1])


@dataclass
class ClientLists:
    """The lists of each connected client, read from Campaign Monitor at most every few minutes, with one
    short try: a page must not hang on Campaign Monitor being slow or down."""

    settings: Settings
    _read: dict[str, tuple[float, list[tuple[str, str]] | str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lists(self, client_id: str) -> list[tuple[str, str]] | str:
        """``[(list ID, name)]``, or why they could not be read."""
        with self._lock:
            kept = self._read.get(client_id)
            if kept is not None and kept[0] > time.monotonic():
                return kept[1]
            section = self.settings.campaign_monitor
            quick = section.model_copy(update={"timeout": min(section.timeout, LISTS_READ_TIMEOUT)})
            try:
                with CampaignMonitorClient.from_settings(quick, retry=ONE_TRY) as client:
                    found: list[tuple[str, str]] | str = [(s.list_id, s.name) for s in client.lists(client_id)]
                    keep = LISTS_KEPT_SECONDS
            except CampaignMonitorError as error:
                found, keep = f"lists could not be read from Campaign Monitor: {error}", ERROR_KEPT_SECONDS
            self._read[client_id] = (time.monotonic() + keep, found)
            return found


def _list_watermarks(store: StateStore) -> dict[str, str]:
    """The newest member change imported per list (``members:LIST:STATE`` watermarks)."""
    newest: dict[str, str] = {}
    for stream, value in store.watermarks.under("members:").items():
        list_id = stream.split(":")[1]
        newest[list_id] = max(newest.get(list_id, ""), value)
    return newest


def settings_page(settings: Settings, store: StateStore, client_lists: ClientLists) -> dict[str, Any]:
    """The settings page, section by section as the product lays it out."""
    report = status_report(settings, store)
    watermarks = _list_watermarks(store)
    success = report["last_success"]
    clients = []
    for client in report["clients"]:
        lists = client_lists.lists(client["id"])
        clients.append(
            {
                **client,
                "lists": [(list_id, name, watermarks.get(list_id)) for list_id, name in lists]
                if isinstance(lists, list)
                else [],
                "lists_error": lists if isinstance(lists, str) else None,
                "last_import": success["finished_at"] if success else None,
            }
        )
    return {
        "report": report,
        "clients": clients,
        "last_purge": store.facts.last_purge.get(),
        "last_reimport": store.facts.last_reimport.get(),
        "last_poll": store.facts.outbound_last_poll.get(),
        "rejected_pushes": store.rejections.count(OUTBOUND_STREAM),
    }


def run_row(store: StateStore, run: Run) -> dict[str, Any]:
    """One run as the history shows it."""
    return {
        "run": run,
        "started": ago(run.started_at),
        "duration": duration(run),
        "counts": object_counts(run.counts),
        "failed_jobs": run.counts.get("jobs", {}).get("failed", 0),
        "first_failure": first_failure(store, run.id),
    }


def run_history(store: StateStore) -> dict[str, Any]:
    runs = [run_row(store, run) for run in store.runs.recent(RUNS_SHOWN)]
    return {"runs": runs, "in_flight": any(row["run"].in_flight for row in runs)}


def rejected_page(store: StateStore, object_name: str, reason: str) -> dict[str, Any]:
    """Rejected records, filtered by object (exactly) and reason (any part of it, case-insensitive)."""
    everything = store.rejections.list()
    shown = [
        rejection
        for rejection in everything
        if (not object_name or rejection.object == object_name) and reason.lower() in rejection.reason.lower()
    ]
    return {
        "rejections": shown,
        "objects": sorted({rejection.object for rejection in everything}),
        "total": len(everything),
        "object": object_name,
        "reason": reason,
    }
