"""The live parts of the settings page, as data: connection, "Last sync", the next run, the run in flight
with its records per object, and whether Sync Now may start. Built from ``cmsync status``'s own report."""

from datetime import UTC, datetime
from typing import Any

from cmsync.commands.humanize import time_ago
from cmsync.commands.status import status_report
from cmsync.config import Settings
from cmsync.state import StateStore

DISCONNECTED_REASON = "disconnected: run `cmsync connect` first"
"""The reason ``cmsync sync-now`` gives when disconnected, shown beside the disabled button."""


def _ago(text: str | None, now: datetime) -> str | None:
    return time_ago(datetime.fromisoformat(text), now) if text else None


def object_counts(counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Records per object and outcome, in a stable order (the ``jobs`` bookkeeping left out)."""
    return [
        {"object": name, "outcomes": dict(sorted(outcomes.items()))}
        for name, outcomes in sorted(counts.items())
        if name != "jobs"
    ]


def _run(run: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run["id"],
        "trigger": run["trigger"],
        "full_pass": run["full_pass"],
        "status": run["status"],
        "error": run["error"],
        "started": _ago(run["started_at"], now),
        "finished": _ago(run["finished_at"], now),
        "pending_jobs": run["pending_jobs"],
        "counts": object_counts(run["counts"]),
    }


def next_run_text(report: dict[str, Any], now: datetime) -> str:
    """The next run as ``status`` tells it."""
    schedule = report["schedule"]
    if schedule["import_frequency"] == "never":
        return "never (Sync Now only)"
    if report["connection"] != "connected":
        return "not scheduled while disconnected"
    if not report["daemon"]["running"]:
        return "when the daemon runs"
    return _ago(schedule["next_run"], now) or "not scheduled"


def live_state(settings: Settings, store: StateStore, now: datetime | None = None) -> dict[str, Any]:
    """Everything the page refreshes without a reload."""
    now = now or datetime.now(UTC)
    report = status_report(settings, store)
    current = report["current_run"]
    connected = report["connection"] == "connected"
    success = report["last_success"]
    reason = None if connected else DISCONNECTED_REASON
    if connected and current:
        reason = f"run {current['id']} is in flight"
    return {
        "connection": report["connection"],
        "last_sync": _ago(success["finished_at"], now) if success else None,
        "next_run": next_run_text(report, now),
        "current_run": _run(current, now),
        "last_run": _run(report["last_run"], now),
        "sync_now": {"allowed": reason is None, "reason": reason},
        "rejected_records": report["rejected_records"],
    }
