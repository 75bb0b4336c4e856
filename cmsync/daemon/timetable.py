"""When the main sync is due: Import Frequency (never, hourly, daily, weekly, with ``at``, ``weekday``
and ``timezone``) as a job on a ``schedule.Scheduler``, plus the question a restart asks: was a run
missed while cmsync was down? A restart neither adds a run nor skips one that is due; a run that was
cut off (cancelled) does not count as done."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import schedule

from cmsync.config.model import SyncSettings

_PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


def _local(naive: datetime) -> datetime:
    """``schedule`` works in the host's naive local time; make it absolute."""
    return naive.astimezone(UTC)


def add_sync_job(scheduler: schedule.Scheduler, sync: SyncSettings, task: Callable[[], object]) -> schedule.Job | None:
    """Schedule ``task`` at the settings' Import Frequency; None for ``never``."""
    frequency = sync.import_frequency
    if frequency == "never":
        return None
    if frequency == "hourly":
        job = scheduler.every().hour.at(sync.at or ":00")
    else:
        unit = scheduler.every().day if frequency == "daily" else getattr(scheduler.every(), sync.weekday or "monday")
        job = unit.at(sync.at or "00:00", sync.timezone) if sync.timezone else unit.at(sync.at or "00:00")
    return job.do(task).tag("main_sync")


def period(frequency: str) -> timedelta | None:
    """The time between two scheduled runs at Import Frequency ``frequency``; None for ``never``."""
    return _PERIODS.get(frequency)


def next_run(job: schedule.Job | None) -> datetime | None:
    """When the job runs next (UTC), or None when nothing is scheduled."""
    return _local(job.next_run) if job is not None and job.next_run is not None else None


def missed_run(job: schedule.Job | None, frequency: str, last_started: datetime | None) -> bool:
    """True when the occurrence before the next one passed without a run starting after it."""
    upcoming = next_run(job)
    if upcoming is None:
        return False
    if last_started is None:
        return True
    return last_started < upcoming - _PERIODS[frequency]
