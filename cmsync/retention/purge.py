"""The rolling purge of email tracking: ``CM_Email_Activity__c`` records older than ``tracking.days_to_keep``.

The cut-off is measured in UTC when the purge starts. Records are found with a selective query on the
indexed ``CM_Activity_Day__c`` (refined by the exact date on the cut-off day) and deleted chunk by chunk
as the query pages in, so at most one chunk of Ids is held at once; the client deletes through
Collections of 200 below its Bulk threshold and a Bulk 2.0 ``delete`` job above it. A purge that would
delete more than ``tracking.purge_max_share`` of all activity records stops until it is confirmed. What
a purge did is the state store's ``last_purge`` fact, which ``cmsync status`` shows. Import watermarks are
never touched: the main sync never reads further back than ``days_to_keep``, so purged events stay purged.
"""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Literal

from cmsync.clients.salesforce.client import parse_datetime
from cmsync.clients.salesforce.errors import SalesforceError
from cmsync.clients.salesforce.soql import literal, literal_list
from cmsync.config.model import TRACKING_TYPES, TrackingSettings
from cmsync.logs import get_logger
from cmsync.mapping.records import ACTIVITY, ACTIVITY_TYPES
from cmsync.metrics import TRACKING_PURGE_REFUSALS, TRACKING_PURGED
from cmsync.state import StateStore
from cmsync.systems import Systems

log = get_logger(__name__)
LEASE = timedelta(hours=1)
CHUNK = 10_000
"""Ids held and deleted at once: one Bulk job's worth, whatever the size of the purge."""
GONE = "ENTITY_IS_DELETED"
"""A record already deleted (by a purge running elsewhere, or by a person): nothing left to do."""
PurgeStatus = Literal["running", "succeeded", "partial", "failed", "refused"]


@dataclass(frozen=True)
class PurgePlan:
    """What a purge would delete (records matching any of ``filters``) out of all activity records."""

    cutoff: datetime
    filters: tuple[str, ...]
    to_delete: int
    total: int

    @property
    def share(self) -> float:
        return self.to_delete / self.total if self.total else 0.0


@dataclass(frozen=True)
class PurgeRecord:
    """One purge as the state store keeps it: when, why, what it deleted and what it kept."""

    status: PurgeStatus
    reason: str
    started_at: datetime
    finished_at: datetime | None = None
    cutoff: datetime | None = None
    to_delete: int = 0
    total: int = 0
    deleted: int = 0
    failed: int = 0
    oldest_kept: datetime | None = None
    error: str | None = None

    def fact(self) -> dict[str, Any]:
        """As stored (and shown by ``cmsync status``): dates in ISO 8601, empty values left out."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(self).items()
            if value is not None and not (name == "failed" and value == 0)
        }

    @classmethod
    def from_fact(cls, data: dict[str, Any]) -> "PurgeRecord":
        dates = ("started_at", "finished_at", "cutoff", "oldest_kept")
        return cls(**{name: datetime.fromisoformat(value) if name in dates else value for name, value in data.items()})


def last_purge(store: StateStore) -> PurgeRecord | None:
    """The last purge (running, finished or refused), for ``cmsync status``."""
    data = store.facts.last_purge.get()
    return PurgeRecord.from_fact(data) if data else None


def cutoff_for(settings: TrackingSettings, started: datetime) -> datetime:
    """Activity dated before this is purged: ``days_to_keep`` days before ``started``, in UTC, to the second."""
    return started.astimezone(UTC).replace(microsecond=0) - timedelta(days=settings.days_to_keep)


def purge_filters(settings: TrackingSettings, cutoff: datetime) -> tuple[str, ...]:
    """SOQL conditions of what to delete: records older than ``cutoff`` (on the indexed day first), then,
    with ``purge_deselected_types``, newer records of types no longer selected."""
    day = int(cutoff.strftime("%Y%m%d"))
    filters = [f"CM_Activity_Day__c <= {day} AND CM_Activity_Date__c < {literal(cutoff)}"]
    deselected = [ACTIVITY_TYPES[kind] for kind in TRACKING_TYPES if kind not in settings.types]
    if settings.purge_deselected_types and deselected:
        filters.append(f"CM_Type__c IN {literal_list(deselected)} AND CM_Activity_Date__c >= {literal(cutoff)}")
    return tuple(filters)


def plan_purge(systems: Systems, started: datetime) -> PurgePlan:
    """Count what a purge starting at ``started`` would delete, and all activity records (two or three queries)."""
    settings = systems.settings.tracking
    cutoff = cutoff_for(settings, started)
    filters = purge_filters(settings, cutoff)
    count = systems.salesforce.count
    to_delete = sum(count(f"SELECT COUNT() FROM {ACTIVITY} WHERE {where}") for where in filters)
    return PurgePlan(cutoff, filters, to_delete, count(f"SELECT COUNT() FROM {ACTIVITY}"))


def refusal(plan: PurgePlan, settings: TrackingSettings) -> str | None:
    """Why the safety stop holds this purge back, or None when it may go ahead."""
    if plan.share <= settings.purge_max_share:
        return None
    return (
        f"would delete {plan.to_delete} of {plan.total} tracking records ({plan.share:.0%}), more than "
        f"tracking.purge_max_share ({settings.purge_max_share:.0%}); "
        "run `cmsync purge-tracking --confirm` if that is intended"
    )


def oldest_kept(systems: Systems) -> datetime | None:
    """The activity date of the oldest record left (read through the indexed day)."""
    soql = (
        f"SELECT CM_Activity_Date__c FROM {ACTIVITY} "
        "ORDER BY CM_Activity_Day__c ASC NULLS LAST, CM_Activity_Date__c ASC LIMIT 1"
    )
    row = next(iter(systems.salesforce.query(soql)), None)
    return parse_datetime(row["CM_Activity_Date__c"]) if row and row.get("CM_Activity_Date__c") else None


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[str]]:
    ids = (str(row["Id"]) for row in rows)
    while batch := list(islice(ids, size)):
        yield batch


def purge_old_tracking(
    systems: Systems, reason: str, *, confirm: bool = False, chunk: int = CHUNK
) -> PurgeRecord | None:
    """Purge old tracking records now (``confirm`` passes the safety stop); None when disconnected or when
    another purge is running. Salesforce failing stops the purge: what is left waits for the next one."""
    store = systems.store
    if not store.connection.connected():
        log.info("tracking purge skipped: disconnected", reason=reason)
        return None
    owner = uuid.uuid4().hex
    if not store.leases.tracking_purge.take(owner, LEASE):
        log.info("tracking purge skipped: another purge is running", reason=reason)
        return None
    try:
        return _purge(systems, reason, confirm, chunk, owner)
    finally:
        store.leases.tracking_purge.release(owner)


def _purge(systems: Systems, reason: str, confirm: bool, chunk: int, owner: str) -> PurgeRecord:
    store, salesforce = systems.store, systems.salesforce
    record = PurgeRecord("running", reason, datetime.now(UTC))
    try:
        plan = plan_purge(systems, record.started_at)
    except SalesforceError as error:
        return _finish(systems, replace(record, status="failed", error=str(error)))
    record = replace(record, cutoff=plan.cutoff, to_delete=plan.to_delete, total=plan.total)
    refused = None if confirm else refusal(plan, systems.settings.tracking)
    if refused:
        TRACKING_PURGE_REFUSALS.inc()
        log.warning("tracking purge refused", reason=reason, to_delete=plan.to_delete, total=plan.total)
        return _finish(systems, replace(record, status="refused", error=refused))
    store.facts.last_purge.set(record.fact())
    filters = plan.filters if plan.to_delete else ()
    try:
        for where in filters:
            for ids in _batches(salesforce.query(f"SELECT Id FROM {ACTIVITY} WHERE {where}"), chunk):
                results = salesforce.delete(ACTIVITY, ids)
                deleted = sum(result.success for result in results)
                failed = sum(not result.success and GONE not in result.status_codes for result in results)
                TRACKING_PURGED.inc(deleted)
                record = replace(record, deleted=record.deleted + deleted, failed=record.failed + failed)
                store.facts.last_purge.set(record.fact())
                store.leases.tracking_purge.take(owner, LEASE)
    except SalesforceError as error:
        return _finish(systems, _recounted(systems, plan, replace(record, status="failed", error=str(error))))
    return _finish(systems, replace(record, status="partial" if record.failed else "succeeded"))


def _recounted(systems: Systems, plan: PurgePlan, record: PurgeRecord) -> PurgeRecord:
    """After Salesforce failed mid-chunk (which it may have partly deleted): what is gone, from what is left."""
    try:
        left = sum(systems.salesforce.count(f"SELECT COUNT() FROM {ACTIVITY} WHERE {where}") for where in plan.filters)
    except SalesforceError:
        return record
    gone = max(record.deleted, plan.to_delete - left)
    TRACKING_PURGED.inc(gone - record.deleted)
    return replace(record, deleted=gone)


def _finish(systems: Systems, record: PurgeRecord) -> PurgeRecord:
    """Record the outcome, with the oldest record kept when Salesforce can still tell it."""
    kept = None
    try:
        kept = oldest_kept(systems)
    except SalesforceError as error:
        log.warning("oldest kept tracking record not known", error=str(error))
    record = replace(record, finished_at=datetime.now(UTC), oldest_kept=kept)
    systems.store.facts.last_purge.set(record.fact())
    log.info(
        "tracking purge finished",
        status=record.status,
        reason=record.reason,
        deleted=record.deleted,
        failed=record.failed,
        cutoff=record.cutoff,
        error=record.error,
    )
    return record
