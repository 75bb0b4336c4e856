"""``cmsync disconnect`` and ``cmsync connect``: stop all syncing both ways, and resume it.

Disconnecting is recorded first (it survives restarts and reloads, and every job checks it at each page),
then the run in flight is cancelled, queued messages are purged, and Salesforce's user overrides and
client ownership permissions are reset. Nothing is written to Campaign Monitor.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.clients.salesforce.errors import SalesforceError
from cmsync.clients.salesforce.results import RecordResult
from cmsync.config import Settings
from cmsync.state import StateStore
from cmsync.workers.placement import Placement

_CHUNK = 200


@dataclass
class DisconnectReport:
    cancelled_run: int | None = None
    purged_messages: int | None = None
    overrides_cleared: int = 0
    permissions_deleted: int = 0
    errors: list[str] = field(default_factory=list)

    def _purged(self) -> str:
        if self.purged_messages is None:
            return "none queued here (embedded broker: the daemon drops its own)"
        return str(self.purged_messages)

    def lines(self) -> list[str]:
        cancelled = f"run {self.cancelled_run} cancelled" if self.cancelled_run else "no run was in flight"
        return [
            "disconnected: no syncing either way until `cmsync connect`",
            cancelled,
            f"queued messages purged: {self._purged()}",
            f"user overrides cleared: {self.overrides_cleared}",
            f"client ownership permissions deleted: {self.permissions_deleted}",
            *(f"error: {error}" for error in self.errors),
        ]


def _chunks(ids: Iterator[str]) -> Iterator[list[str]]:
    while chunk := list(islice(ids, _CHUNK)):
        yield chunk


def _failures(kind: str, ids: list[str], results: list[RecordResult]) -> list[str]:
    refused = (result for result in results if not result.success)
    return [f"{kind} {ids[result.index]}: {'; '.join(map(str, result.errors))}" for result in refused]


def reset_salesforce(salesforce: SalesforceClient, report: DisconnectReport) -> None:
    """Clear ``User.CM_User_Email__c`` and delete every ``CM_Client_Access__c`` record."""
    users = (row["Id"] for row in salesforce.query("SELECT Id FROM User WHERE CM_User_Email__c != null"))
    for chunk in _chunks(users):
        results = salesforce.update("User", [{"Id": user_id, "CM_User_Email__c": None} for user_id in chunk])
        report.overrides_cleared += sum(result.success for result in results)
        report.errors.extend(_failures("user", chunk, results))
    access = (row["Id"] for row in salesforce.query("SELECT Id FROM CM_Client_Access__c"))
    for chunk in _chunks(access):
        results = salesforce.delete("CM_Client_Access__c", chunk)
        report.permissions_deleted += sum(result.success for result in results)
        report.errors.extend(_failures("client access", chunk, results))


def disconnect(
    store: StateStore, salesforce: SalesforceClient, purge_queues: Callable[[], int | None]
) -> DisconnectReport:
    """Disconnect: persisted first, then cancel, purge (``purge_queues()``, which says how many messages it
    dropped, or None when they wait in another process) and reset Salesforce."""
    report = DisconnectReport()
    store.connection.set(False)
    run = store.runs.current()
    if run is not None and store.runs.finish(run.id, "cancelled", "cancelled by `cmsync disconnect`"):
        report.cancelled_run = run.id
    report.purged_messages = purge_queues()
    try:
        reset_salesforce(salesforce, report)
    except SalesforceError as error:
        report.errors.append(f"Salesforce reset incomplete, run `cmsync disconnect` again: {error}")
    return report


def disconnect_installation(settings: Settings, store: StateStore) -> DisconnectReport:
    """Disconnect the installation ``settings`` describes: its Salesforce org, and its queued messages
    (those of the embedded broker live in the daemon, which drops them itself)."""
    placement = Placement(settings.broker)
    salesforce = SalesforceClient.from_settings(settings.salesforce)
    try:
        return disconnect(store, salesforce, placement.purge_queued)
    finally:
        salesforce.close()
        placement.close()


def connect(store: StateStore) -> None:
    """Resume syncing; everything imported so far stays where it is."""
    store.connection.set(True)
