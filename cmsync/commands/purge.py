"""``cmsync purge-tracking``: purge old email tracking now; ``--confirm`` passes the safety stop.

With the embedded broker the purge runs in this process; with RabbitMQ it is queued for the workers.
``--dry-run`` counts what a purge would delete and says whether the safety stop would hold it back.
"""

from datetime import UTC, datetime

from cmsync.config import Settings
from cmsync.retention.purge import PurgePlan, PurgeRecord, plan_purge, purge_old_tracking, refusal
from cmsync.systems import Systems
from cmsync.workers.dispatch import run_or_queue
from cmsync.workers.retention_requests import request_purge

REASON = "cmsync purge-tracking"


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def purge_line(purge: PurgeRecord) -> str:
    """One line on a purge's outcome: what it deleted and kept, or why it stopped."""
    older = f" older than {_utc(purge.cutoff)}" if purge.cutoff else ""
    kept = f"; oldest kept {_utc(purge.oldest_kept)}" if purge.oldest_kept else "; none kept"
    if purge.status == "refused":
        return f"purge refused: {purge.error}"
    if purge.status == "failed":
        return (
            f"purge failed after deleting {purge.deleted} tracking records{older}: {purge.error}; "
            "the rest waits for the next purge"
        )
    if purge.status == "running":
        return f"purge running since {_utc(purge.started_at)}: {purge.deleted} of {purge.to_delete} deleted so far"
    refused = f"; {purge.failed} refused by Salesforce, left for the next purge" if purge.failed else ""
    return f"deleted {purge.deleted} tracking records{older}{refused}{kept}"


def plan_line(plan: PurgePlan, settings: Settings) -> str:
    """What a purge would do now, and whether the safety stop would hold it back."""
    held = refusal(plan, settings.tracking)
    verdict = (
        f"the safety stop would hold it back (more than tracking.purge_max_share, "
        f"{settings.tracking.purge_max_share:.0%}); --confirm passes it"
        if held
        else f"within tracking.purge_max_share ({settings.tracking.purge_max_share:.0%})"
    )
    return (
        f"would delete {plan.to_delete} of {plan.total} tracking records ({plan.share:.0%}) older than "
        f"{_utc(plan.cutoff)}: {verdict}"
    )


def purge_now(settings: Settings, *, confirm: bool, dry_run: bool) -> int:
    """Purge (or count, or queue); 0 when done or queued, 1 when refused, failed, partial or not possible."""

    def work(systems: Systems) -> int:
        if dry_run:
            print(plan_line(plan_purge(systems, datetime.now(UTC)), settings))
            return 0
        purge = purge_old_tracking(systems, REASON, confirm=confirm)
        if purge is None:
            print("another purge is running; `cmsync status` shows it")
            return 1
        print(purge_line(purge))
        return 0 if purge.status == "succeeded" else 1

    def queue() -> str:
        request_purge(REASON, confirm=confirm)
        return "purge queued for the workers; `cmsync status` shows its outcome"

    return run_or_queue(settings, work, None if dry_run else queue)
