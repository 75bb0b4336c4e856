"""``cmsync status``: what an operator wants to know at a glance, read from the state store.

It works whether or not the daemon runs (and says which). Times read like the product's:
``3 minutes ago``, ``in 12 minutes``.
"""

from datetime import datetime
from typing import Any

from cmsync.commands.humanize import time_ago
from cmsync.commands.progress import counts_line
from cmsync.config import Settings
from cmsync.state import Run, StateStore
from cmsync.sync import sources


def _run(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "trigger": run.trigger,
        "full_pass": run.full_pass,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": run.duration.total_seconds() if run.duration else None,
        "counts": run.counts,
        "pending_jobs": run.pending_jobs,
        "error": run.error,
    }


def status_report(settings: Settings, store: StateStore) -> dict[str, Any]:
    """Everything ``status`` shows, as data (``--json`` prints it as is)."""
    clients = []
    for client_id in settings.campaign_monitor.clients:
        facts = sources.client(store, client_id)
        clients.append({"id": client_id, "name": facts.name if facts else None})
    schedule = store.facts.schedule.get() or {}
    daemon = store.leases.supervisor.holder()
    tracking = settings.tracking
    connected = store.connection.connected()
    return {
        "daemon": {"running": daemon is not None, "owner": daemon},
        "connection": "connected" if connected else "disconnected",
        "clients": clients,
        "schedule": {
            "import_frequency": settings.sync.import_frequency,
            "next_run": schedule.get("next_run") if daemon and connected else None,
        },
        "current_run": _run(store.runs.current()),
        "last_run": _run(store.runs.last()),
        "last_success": _run(store.runs.last(("succeeded", "partial"))),
        "tracking": {
            "enabled": tracking.enabled,
            "types": list(tracking.types),
            "days_to_keep": tracking.days_to_keep,
            "last_purge": store.facts.last_purge.get(),
        },
        "outbound": {
            "state": _outbound_state(settings, connected),
            "poll_interval_seconds": settings.outbound.poll_interval.total_seconds(),
            "last_poll": store.facts.outbound_last_poll.get(),
            "source": store.facts.outbound_source.get(),
        },
        "rejected_records": store.rejections.count(),
    }


def _outbound_state(settings: Settings, connected: bool) -> str:
    if not connected:
        return "stopped (disconnected)"
    return "disabled (disable_triggers)" if settings.advanced.disable_triggers else "active"


def _when(text: str | None, now: datetime) -> str:
    return time_ago(datetime.fromisoformat(text), now) if text else "never"


def status_text(report: dict[str, Any], now: datetime) -> str:
    """The report as lines for a terminal, with times relative to ``now``."""
    lines = []
    daemon = report["daemon"]
    lines.append(f"daemon:        {'running (' + daemon['owner'] + ')' if daemon['running'] else 'not running'}")
    lines.append(f"connection:    {report['connection']}")
    clients = report["clients"]
    if len(clients) == 1:
        client = clients[0]
        lines.append(f"connected client: {client['name'] or '(name not known yet)'} ({client['id']})")
    else:
        lines.append("connected clients:")
        lines.extend(f"  {client['name'] or '(name not known yet)'} ({client['id']})" for client in clients)
    schedule = report["schedule"]
    upcoming = _when(schedule["next_run"], now) if schedule["next_run"] else "not scheduled"
    if report["connection"] == "disconnected":
        upcoming = "none while disconnected (`cmsync connect` resumes)"
    elif schedule["import_frequency"] == "never":
        upcoming = "never (Sync Now only)"
    elif not daemon["running"]:
        upcoming = "when the daemon runs"
    lines.append(f"import:        {schedule['import_frequency']}; next run {upcoming}")
    current = report["current_run"]
    if current:
        lines.append(
            f"running now:   run {current['id']} ({current['trigger']}), started {_when(current['started_at'], now)}; "
            f"{current['pending_jobs']} jobs left; {counts_line(current['counts'])}"
        )
    last = report["last_run"]
    if last:
        took = f", took {_duration(last['duration_seconds'])}" if last["duration_seconds"] is not None else ""
        error = f" ({last['error']})" if last["error"] else ""
        lines.append(
            f"last run:      run {last['id']} {last['status']}{error}, finished {_when(last['finished_at'], now)}{took}"
        )
        lines.append(f"               {counts_line(last['counts'])}")
    else:
        lines.append("last run:      none yet")
    success = report["last_success"]
    if success and (not last or success["id"] != last["id"]):
        lines.append(f"last success:  run {success['id']}, finished {_when(success['finished_at'], now)}")
    tracking = report["tracking"]
    if tracking["enabled"]:
        kept = f"{', '.join(tracking['types'])}; kept {tracking['days_to_keep']} days"
    else:
        kept = f"off; existing records kept {tracking['days_to_keep']} days"
    lines.append(f"tracking:      {kept}")
    purge = tracking["last_purge"]
    if purge:
        lines.append(
            f"last purge:    {_when(purge.get('finished_at') or purge.get('started_at'), now)}: {_purge(purge)}"
        )
    outbound = report["outbound"]
    last_poll = outbound["last_poll"]
    polled = f", last poll {_when(last_poll.get('at'), now)}" if isinstance(last_poll, dict) else ""
    source = outbound.get("source") or {}
    if outbound["state"] == "active" and source.get("active") == "cdc":
        lag = source.get("lag_seconds")
        lagging = f", lag {lag:.1f}s" if isinstance(lag, int | float) else ""
        lines.append(f"outbound:      active, following change events (CDC){lagging}{polled}")
    elif outbound["state"] == "active":
        why = f" (change events unavailable: {source['reason']})" if source.get("reason") else ""
        lines.append(f"outbound:      active, every {outbound['poll_interval_seconds']:g}s{why}{polled}")
    else:
        lines.append(f"outbound:      {outbound['state']}: nothing is pushed to Campaign Monitor")
    lines.append(f"rejected:      {report['rejected_records']} records kept to retry")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def _purge(purge: dict[str, Any]) -> str:
    return ", ".join(
        f"{key.replace('_', ' ')} {value}" for key, value in purge.items() if key not in ("started_at", "finished_at")
    )
