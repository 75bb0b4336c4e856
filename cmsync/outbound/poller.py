"""One outbound poll: Salesforce changes since the watermarks, acted on in Campaign Monitor.

The supervisor calls ``poll_once`` every ``outbound.poll_interval``. A poll does nothing (no API call)
while ``disable_triggers`` is on or cmsync is disconnected, and forgets the watermarks then, so changes
made meanwhile are not pushed later; once on again, the watermarks start when it came on (``pause``). A
lease in the state store lets one poller run at a time across hosts. Contacts, then Leads, then (with
``account_trigger``) Accounts are read chunk by chunk; each chunk's pushes are done before its watermark
moves, so a poll that stops part way is taken up where it stopped, and the ledger keeps what already went
through from being sent twice.
"""

import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from cmsync.clients.salesforce.soql import literal_list, select
from cmsync.logs import get_logger
from cmsync.outbound.catalog import Catalog
from cmsync.outbound.feed import (
    Change,
    Cursor,
    read_changes,
    start_cursor,
    vanished_records,
)
from cmsync.outbound.ledger import Ledger
from cmsync.outbound.members import memberships
from cmsync.outbound.pause import pause, resume, resumed_at
from cmsync.outbound.planning import Planner
from cmsync.outbound.pushes import Pusher, PushesInterruptedError, rejected_keys
from cmsync.outbound.report import PollReport
from cmsync.outbound.scope import PEOPLE, Scope, build_scope
from cmsync.redaction import REDACTOR
from cmsync.systems import Systems

log = get_logger(__name__)
LEASE_TTL = timedelta(minutes=2)
STREAMS = (*PEOPLE, "Account")
_PER_QUERY = 200


def poll_once(systems: Systems) -> PollReport:
    """Read what changed in Salesforce since the last poll and push it to Campaign Monitor.

    Never raises: a poll that fails is logged, and its report (also kept as the ``outbound_last_poll``
    fact) carries the error; the next poll takes up the work.
    """
    report = PollReport()
    store = systems.store
    holds = {
        "disable_triggers": systems.settings.advanced.disable_triggers,
        "disconnected": not store.connection.connected(),
    }
    off = [reason for reason, held in holds.items() if held]
    if off:
        pause(systems, off, STREAMS)
        return report.not_run(off[0]).finish(store)
    owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    lease = max(LEASE_TTL, 4 * systems.settings.outbound.poll_interval)
    if not store.leases.outbound_poller.take(owner, lease):
        return report.not_run("another poller holds the lease").finish(store)
    try:
        OutboundRound(systems, report, lambda: store.leases.outbound_poller.take(owner, lease)).poll()
    except PushesInterruptedError as error:
        report.error = REDACTOR.text(str(error))
        log.warning("outbound poll stopped; the next poll retries", error=report.error)
    except Exception as error:
        report.error = REDACTOR.text(f"{type(error).__name__}: {error}")
        log.exception("outbound poll failed")
    finally:
        store.leases.outbound_poller.release(owner)
    return report.finish(store)


class OutboundRound:
    """One round of outbound work, a poll or a batch of change events: the scope, catalog, planner and refused
    keys its changes share. ``poll()`` reads every stream from its watermark; ``act()`` plans and pushes."""

    def __init__(self, systems: Systems, report: PollReport, renew_lease: Callable[[], bool]) -> None:
        self.systems = systems
        self.report = report
        self.renew_lease = renew_lease
        self.catalog = Catalog(systems)
        self.scope: Scope = build_scope(systems.settings, self.catalog)
        self.planner = Planner(systems.settings, self.scope, self.catalog, report)
        self.rejected = rejected_keys(systems)
        self.since = resumed_at(systems)
        report.problems.extend(self.scope.problems)
        for problem in self.scope.problems:
            log.warning("outbound setting skipped", problem=problem)

    def poll(self) -> None:
        """Act on what changed in every stream in scope since its watermark, chunk by chunk."""
        for object_name in STREAMS:
            if object_name in self.scope.fields:
                self._stream(object_name)
        if self.systems.settings.email_opt_out.delete_subscriber_when_record_deleted:
            for object_name in PEOPLE:
                self.act(vanished_records(self.systems, object_name, self.since))
        resume(self.systems)

    def _stream(self, object_name: str) -> None:
        cursor = Cursor.load(self.systems, object_name)
        if cursor.after is None:
            start_cursor(self.systems, cursor, self.since)
        for chunk in read_changes(self.systems, self.scope, cursor, self.report):
            if not self.systems.store.connection.connected():
                return
            changes = self.contacts_of(chunk.changes) if object_name == "Account" else chunk.changes
            self.act(changes)
            cursor.advance(chunk.latest)
            cursor.save(self.systems)
            self.renew_lease()

    def contacts_of(self, accounts: list[Change]) -> list[Change]:
        """The Contacts of changed Accounts, as edits made when their Account was saved."""
        stamps = {change.id: change.modstamp for change in accounts if not change.deleted}
        ids = sorted(stamps)
        contacts: list[Change] = []
        for start in range(0, len(ids), _PER_QUERY):
            where = f"AccountId IN {literal_list(ids[start : start + _PER_QUERY])}"
            for record in self.systems.salesforce.query(select("Contact", self.scope.fields["Contact"], where=where)):
                contacts.append(Change("Contact", record, stamps[str(record["AccountId"])]))
        return contacts

    def act(self, changes: list[Change]) -> None:
        """Plan the changes against CM's memberships and the ledger, and push them."""
        if not changes:
            return
        members = memberships(self.systems, changes)
        lists = self.scope.rule_lists().union(*(found.keys() for found in members.values()))
        ledger = Ledger(self.systems.store, lists, [change.id for change in changes])
        pushes = self.planner.plan(changes, members, ledger)
        Pusher(self.systems, ledger, self.report, self.rejected).run(pushes)
