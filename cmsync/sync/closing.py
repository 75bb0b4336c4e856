"""The end of a main sync: the after-steps, then the run's outcome.

The last job of a run to finish closes it (the state store's job set says which is last). Outcome:
``failed`` with the first reason when a part failed, ``partial`` when records were rejected, else
``succeeded``.
"""

from collections.abc import Iterator, Sequence

from cmsync.clients.salesforce.soql import literal, literal_list
from cmsync.logs import get_logger
from cmsync.retention.purge import purge_old_tracking
from cmsync.state import Run
from cmsync.sync.failures import first_failure, record_failure
from cmsync.systems import Systems

log = get_logger(__name__)
_CHUNK = 200
_GONE = ("Unsubscribed", "Deleted")


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def end_job(systems: Systems, run_id: int, job: str) -> None:
    """Count ``job`` of run ``run_id`` as ended; the last job to end closes the run."""
    if systems.store.runs.complete_job(run_id, job) == 0:
        close_run(systems, run_id)


def fail_job(systems: Systems, run_id: int, job: str, reason: str) -> None:
    """Record why ``job`` failed for good against its run, and count it as ended."""
    record_failure(systems.store, run_id, f"{job}: {reason}")
    end_job(systems, run_id, job)


def close_run(systems: Systems, run_id: int) -> None:
    """Run the after-steps and record how the run ended (once, however often it is called)."""
    store = systems.store
    run = store.runs.get(run_id)
    if run is None or not run.in_flight:
        return
    if store.connection.connected() and systems.settings.email_opt_out.opt_out_when_unsubscribed_everywhere:
        opt_out_unsubscribed_everywhere(systems, run)
        run = store.runs.get(run_id) or run
    purge_old_tracking(systems, f"after run {run_id}")
    failure = first_failure(store, run_id)
    rejected = any(counts.get("rejected") for counts in run.counts.values())
    status = "failed" if failure else "partial" if rejected else "succeeded"
    if store.runs.finish(run_id, status, failure):
        log.info("run finished", run_id=run_id, status=status, counts=run.counts, error=failure)


def opt_out_unsubscribed_everywhere(systems: Systems, run: Run) -> None:
    """Set Email Opt Out on Contacts and Leads this run found unsubscribed or deleted on every list."""
    salesforce = systems.salesforce
    touched: dict[str, set[str]] = {"Contact": set(), "Lead": set()}
    since = literal(run.started_at)
    for row in salesforce.query(
        "SELECT CM_Contact__c, CM_Lead__c FROM CM_List_Member__c "
        f"WHERE LastModifiedDate >= {since} AND CM_State__c IN {literal_list(_GONE)}"
    ):
        for object_name, field in (("Contact", "CM_Contact__c"), ("Lead", "CM_Lead__c")):
            if row.get(field):
                touched[object_name].add(row[field])
    for object_name, ids in touched.items():
        field = f"CM_{object_name}__c"
        for chunk in _chunks(sorted(ids)):
            still_subscribed = {
                row[field]
                for row in salesforce.query(
                    f"SELECT {field} FROM CM_List_Member__c WHERE {field} IN {literal_list(chunk)} "
                    f"AND CM_State__c NOT IN {literal_list(_GONE)}"
                )
            }
            candidates = [record_id for record_id in chunk if record_id not in still_subscribed]
            if not candidates:
                continue
            soql = f"SELECT Id FROM {object_name} WHERE Id IN {literal_list(candidates)} AND HasOptedOutOfEmail = false"
            to_set = [{"Id": row["Id"], "HasOptedOutOfEmail": True} for row in salesforce.query(soql)]
            if to_set:
                results = salesforce.update(object_name, to_set)
                done = sum(result.success for result in results)
                systems.store.rejections.resolve(
                    object_name, [to_set[result.index]["Id"] for result in results if result.success]
                )
                systems.store.runs.count(run.id, object_name, "opted_out", done)
                for result in results:
                    if not result.success:
                        reason = "; ".join(str(error) for error in result.errors)
                        systems.store.rejections.add(
                            object_name, to_set[result.index]["Id"], "opt_out", reason, to_set[result.index], run.id
                        )
