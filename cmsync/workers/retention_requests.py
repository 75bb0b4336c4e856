"""Asking for a tracking purge (daily, after a reload, from the command line) or a re-import: a worker runs it."""

from cmsync.config import Settings
from cmsync.config.model import TRACKING_TYPES, TrackingSettings
from cmsync.sync.reimport import Reimport
from cmsync.workers.actors import purge_tracking_job, reimport_tracking_job


def request_purge(reason: str, *, confirm: bool = False) -> None:
    """Queue a purge; ``confirm`` lets it pass the ``purge_max_share`` safety stop."""
    purge_tracking_job.send(reason, confirm)


def tightened_retention(previous: TrackingSettings, current: TrackingSettings) -> str | None:
    """What new settings make due for the purge (fewer days kept, more types purged), or None."""
    if current.days_to_keep < previous.days_to_keep:
        return f"days_to_keep {previous.days_to_keep} → {current.days_to_keep}"
    purged_before = set(TRACKING_TYPES) - set(previous.types) if previous.purge_deselected_types else set()
    purged_now = set(TRACKING_TYPES) - set(current.types) if current.purge_deselected_types else set()
    newly = [kind for kind in TRACKING_TYPES if kind in purged_now - purged_before]
    return f"deselected types purged: {', '.join(newly)}" if newly else None


def request_purge_after_reload(previous: Settings, current: Settings) -> bool:
    """Queue a purge when a reload tightened retention (call it once the new systems is installed)."""
    tightened = tightened_retention(previous.tracking, current.tracking)
    if tightened is None:
        return False
    request_purge(f"reload: {tightened}")
    return True


def request_reimport(request: Reimport) -> None:
    """Queue a re-import of a window (checked by the caller; the worker checks it again)."""
    reimport_tracking_job.send(request.message())
