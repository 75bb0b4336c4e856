"""Sends planned pushes to Campaign Monitor and records each outcome.

Adds and updates go to each list in one import call per 1000 (see ``batches``), with
``QueueSubscriptionBasedAutoResponders`` as ``trigger_journeys_on_bulk_add`` says when the import adds more
than one subscriber; a lone add is a single add, which starts the list's journeys as CM does. Address
changes, unsubscribes and deletes are one call per push, oldest change first.

A subscriber CM refuses (invalid email, suppressed, deleted, unsubscribed, bounced, unconfirmed: codes 1 and
204–208, or any other 400) is rejected alone, with CM's reason, and not sent again until its record
changes; but an update an import leaves out only because the subscriber is not active (204–208) is sent
again alone, and updates the subscriber where it is, as a single update does. The transport already
retries 429 and 5xx with backoff; a push that still fails stops the poll so that the next one retries it
(the watermark has not moved, and the ledger skips what went through), up to ``TRANSIENT_ATTEMPTS`` polls,
after which it is rejected too: one bad record never blocks the rest.
"""

from collections.abc import Callable, Sequence
from typing import TypeVar

from cmsync.clients.campaign_monitor.client import IMPORT_BATCH
from cmsync.clients.campaign_monitor.errors import (
    BadRequestError,
    CampaignMonitorError,
    ConnectionFailedError,
    ErrorCode,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from cmsync.logs import get_logger
from cmsync.outbound.batches import Batches, address, addresses, batches
from cmsync.outbound.ledger import Ledger
from cmsync.outbound.planning import Push
from cmsync.outbound.report import PollReport
from cmsync.systems import Systems

log = get_logger(__name__)
STREAM = "outbound"
"""The stream outbound rejections are recorded under."""
TRANSIENT_ATTEMPTS = 5
REFUSED = (BadRequestError, NotFoundError)
TRANSIENT = (RateLimitedError, ServerError, ConnectionFailedError)
NOT_ACTIVE = frozenset(
    {ErrorCode.IN_SUPPRESSION_LIST, ErrorCode.IS_DELETED, ErrorCode.IS_UNSUBSCRIBED, ErrorCode.IS_BOUNCED,
     ErrorCode.IS_UNCONFIRMED}
)  # fmt: skip
"""Import failures of a subscriber CM holds but not as active: a single update still updates it there."""
Result = TypeVar("Result")


class PushesInterruptedError(Exception):
    """Campaign Monitor kept failing for a push; the poll stops and the next one retries."""


class _GivenUpError(Exception):
    """A push (or import) failed ``TRANSIENT_ATTEMPTS`` polls in a row."""


def _reason(error: CampaignMonitorError) -> str:
    code = f"code {error.code}: " if error.code is not None else ""
    return f"{code}{error.message}"


class Pusher:
    """Sends one chunk's pushes; ``rejected`` holds the keys of outbound rejections on record (to resolve)."""

    def __init__(self, systems: Systems, ledger: Ledger, report: PollReport, rejected: set[str]) -> None:
        self.systems = systems
        self.cm = systems.campaign_monitor
        self.ledger = ledger
        self.report = report
        self.rejected = rejected
        self.failures: dict[str, int] = dict(systems.store.facts.outbound_failures.get() or {})
        self._failures_changed = False

    def run(self, pushes: Sequence[Push]) -> None:
        """Send every push (adds and updates imported per list), then write the ledger, even when interrupted.

        An import waits until the chunk's other pushes are sent, unless one of them names an address it
        holds: then the imports go first, so that each address sees its pushes in order.
        """
        grouped = batches(pushes)
        waiting = {address(push) for group in grouped.pushes.values() for push in group}
        try:
            for push in pushes:
                if push.refused is not None:
                    self._reject(push, push.refused)
                elif not grouped.holds(push):
                    if not waiting.isdisjoint(addresses(push)):
                        self._imports(grouped)
                        waiting.clear()
                    self._single(push)
            if waiting:
                self._imports(grouped)
        finally:
            self.ledger.flush()
            if self._failures_changed:
                self.systems.store.facts.outbound_failures.set(self.failures)

    # Outcomes.

    def _done(self, push: Push, result: str = "ok") -> None:
        self.report.pushed(push.kind, result, push.modstamp)
        self.ledger.record(push.list_id, push.record_id, push.entry)
        for list_id in push.covers:
            self.ledger.record(list_id, push.record_id, push.entry)
        if push.key in self.rejected:
            self.systems.store.rejections.resolve(push.object_name, [push.key])
            self.rejected.discard(push.key)

    def _reject(self, push: Push, reason: str, *, reached_cm: bool = False) -> None:
        self.report.pushed(push.kind, "rejected", push.modstamp if reached_cm else None)
        payload = {"kind": push.kind, "list": push.list_id, "email": push.email}
        if push.details is not None:
            payload["subscriber"] = push.details.as_json()
        self.systems.store.rejections.add(push.object_name, push.key, STREAM, reason, payload, None)
        self.rejected.add(push.key)
        log.info("push rejected", kind=push.kind, list=push.list_id, record=push.record_id, reason=reason)

    def _attempt(self, target: str, call: Callable[[], Result]) -> Result:
        """Run ``call``. When CM fails it even after the transport's retries, stop the poll so a later one
        retries it, unless ``target`` has now failed ``TRANSIENT_ATTEMPTS`` polls in a row: then give it up."""
        try:
            result = call()
        except TRANSIENT as error:
            failures = self.failures.get(target, 0) + 1
            self._failures_changed = True
            log.warning("push failed", target=target, attempt=failures, error=str(error))
            if failures < TRANSIENT_ATTEMPTS:
                self.failures[target] = failures
                raise PushesInterruptedError(str(error)) from error
            self.failures.pop(target, None)
            raise _GivenUpError(str(error)) from error
        if target in self.failures:
            del self.failures[target]
            self._failures_changed = True
        return result

    # Calls.

    def _single(self, push: Push) -> None:
        try:
            self._attempt(push.key, lambda: self._call(push))
        except _GivenUpError as error:
            self._reject(push, f"Campaign Monitor failed {TRANSIENT_ATTEMPTS} polls in a row: {error}", reached_cm=True)
        except REFUSED as refusal:
            if refusal.code == ErrorCode.SUBSCRIBER_NOT_IN_LIST and push.kind in ("delete", "unsubscribe"):
                self._done(push, "not_member")
            else:
                self._reject(push, _reason(refusal), reached_cm=True)
        else:
            self._done(push)

    def _call(self, push: Push) -> None:
        cm, list_id = self.cm, push.list_id
        if push.kind == "delete":
            cm.delete_subscriber(list_id, push.email)
        elif push.kind == "unsubscribe":
            cm.unsubscribe(list_id, push.email)
        elif push.kind == "add":
            assert push.details is not None
            cm.add_subscriber(list_id, push.details)
        else:
            assert push.details is not None
            try:
                cm.update_subscriber(list_id, push.email, push.details)
            except BadRequestError as refusal:
                # An address cmsync already changed, before the main sync recorded it: update the new one.
                if push.kind != "email_change" or refusal.code != ErrorCode.SUBSCRIBER_NOT_IN_LIST:
                    raise
                cm.update_subscriber(list_id, push.details.email, push.details)

    def _imports(self, grouped: Batches) -> None:
        journeys_setting = self.systems.settings.advanced.trigger_journeys_on_bulk_add
        for list_id, group in grouped.pushes.items():
            self._import(list_id, group, start_journeys=journeys_setting and grouped.bulk_add[list_id])

    def _import(self, list_id: str, pushes: list[Push], *, start_journeys: bool) -> None:
        for start in range(0, len(pushes), IMPORT_BATCH):
            batch = pushes[start : start + IMPORT_BATCH]
            details = [push.details for push in batch if push.details is not None]
            try:
                result = self._attempt(
                    f"import:{list_id}",
                    lambda details=details: self.cm.import_subscribers(list_id, details, start_journeys=start_journeys),
                )
            except _GivenUpError:
                for push in batch:
                    self._single(push)
                continue
            except REFUSED as refusal:
                for push in batch:
                    self._reject(push, _reason(refusal), reached_cm=True)
                continue
            failures = {failure.email.strip().lower(): failure for failure in result.failures}
            for push in batch:
                failure = failures.get(address(push))
                if failure is None:
                    self._done(push)
                elif failure.code in NOT_ACTIVE and push.kind == "update":
                    self._single(push)
                else:
                    self._reject(push, f"code {failure.code}: {failure.message}", reached_cm=True)


def rejected_keys(systems: Systems) -> set[str]:
    """Keys of the outbound rejections on record, so that a push that now succeeds resolves its own."""
    return {rejection.key for rejection in systems.store.rejections.list(STREAM)}
