"""Outbound from Change Data Capture: Salesforce's change events over the Pub/Sub API, acted on in about a
second, through the same planning and pushes as the poller (DESIGN.md §5).

One Subscribe stream per object in scope (Contact, Lead, and Account with the Account trigger). An event
names records and says who saved them: cmsync's own writes (``changeOrigin`` client ``cmsync``) are left
out by event, so a person's edit between two of cmsync's writes is still pushed; the named records are then
read whole (the planner needs every field and the Account's) and planned as the poller's changes are. Gap
events are read the same way; an overflow event falls back to a query of the object from its commit
time. An object's replay ID is stored only once the pushes for its events are done, so a lost stream or
a killed supervisor resumes where it was, and the ledger keeps anything redelivered from being pushed twice.

With no stored replay ID (the first start, or outbound back on after a pause) or an expired one (down more
than 72 hours), the streams start at the newest event and a catch-up poll covers the time since outbound
came on, or since the last known commit. An object without Change Data Capture makes the whole outbound
poll instead (``SourceUnavailableError``); the loop logs why.
"""

import os
import queue
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import grpc

from cmsync.clients.salesforce.pubsub.client import PubSubClient, Received, Stream, error_code, topic_of
from cmsync.clients.salesforce.soql import literal_list, select
from cmsync.config import Settings
from cmsync.logs import get_logger
from cmsync.metrics import OUTBOUND_FALLBACKS, OUTBOUND_SOURCE_LAG
from cmsync.outbound.catalog import Catalog
from cmsync.outbound.cdc_progress import CdcProgress, forget_progress
from cmsync.outbound.change_events import ChangeNotice, Decoder
from cmsync.outbound.feed import Change, Cursor, read_changes, reset_cursors, start_cursor
from cmsync.outbound.pause import pause, resumed_at
from cmsync.outbound.poller import LEASE_TTL, STREAMS, OutboundRound, poll_once
from cmsync.outbound.report import PollReport
from cmsync.outbound.scope import build_scope
from cmsync.redaction import REDACTOR
from cmsync.systems import Systems, current

log = get_logger(__name__)
CHECK_EVERY = 0.5
"""Seconds between looks at the things that stop the feed: outbound off, a reload, the lease."""
RENEW_EVERY = 20.0
FIRST_RESPONSE_WAIT = 10.0
"""Seconds a catch-up poll waits for the new streams to answer (so it covers the moment they started)."""
MAX_BACKOFF = 60.0
MAX_BATCH = 10
"""Responses (of up to 100 events each) acted on as one batch when they are already waiting."""
PRODUCTION_ENDPOINT = "api.pubsub.salesforce.com:7443"
_PER_QUERY = 200


class SourceUnavailableError(Exception):
    """Change events cannot be had (Change Data Capture off for an object, no Pub/Sub API access)."""


@dataclass(frozen=True)
class Ended:
    """Why ``run_cdc`` returned: ``stopped``, ``reload``, ``off`` (``reason`` says why), ``lease``."""

    why: str
    reason: str | None = None


def run_cdc(systems: Systems, stop: threading.Event) -> Ended:
    """Act on change events until ``stop`` is set, the Systems are replaced, outbound goes off or another
    supervisor holds the lease. Raises SourceUnavailableError when change events cannot be had."""
    return _Feed(systems, stop).run()


class _Feed:
    def __init__(self, systems: Systems, stop: threading.Event) -> None:
        self.systems = systems
        self.stop = stop
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.lease = max(LEASE_TTL, 4 * systems.settings.outbound.poll_interval)
        settings = systems.settings
        endpoint = pubsub_endpoint(settings)
        if endpoint is None:
            raise SourceUnavailableError(
                "outbound.pubsub_endpoint is not set and the org does not sign in on salesforce.com"
            )
        plain = settings.salesforce.login_url.startswith("http://")
        self.client = PubSubClient(endpoint, systems.salesforce, tls=not plain, ca_file=settings.salesforce.ca_file)
        self.decoder = Decoder(self.client.schema_json)
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.backlog: deque[Received] = deque()
        self.streams: dict[str, Stream] = {}
        self.progress: dict[str, CdcProgress] = {}
        self.retry_at: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.catch_up: datetime | None = None
        self.subscribed_at = 0.0

    def run(self) -> Ended:
        store = self.systems.store
        if not store.leases.outbound_poller.take(self.owner, self.lease):
            PollReport().not_run("another poller holds the lease").finish(store)
            return Ended("lease")
        try:
            if (off := self._off()) is not None:
                return off
            scope = build_scope(self.systems.settings, Catalog(self.systems))
            objects = [name for name in STREAMS if name in scope.fields]
            self._check_topics(objects)
            for object_name in objects:
                self.progress[object_name] = CdcProgress.load(self.systems, object_name)
            if any(progress.replay_id is None for progress in self.progress.values()):
                self.catch_up = resumed_at(self.systems)
            for object_name in objects:
                self._subscribe(object_name)
            note_source(self.systems, "cdc", None)
            return self._loop()
        finally:
            for stream in self.streams.values():
                stream.close()
            self.client.close()
            store.leases.outbound_poller.release(self.owner)

    def _check_topics(self, objects: Iterable[str]) -> None:
        for object_name in objects:
            try:
                topic = self.client.topic(topic_of(object_name))
            except grpc.RpcError as error:
                raise SourceUnavailableError(_unavailable(object_name, error)) from None
            if not topic.can_subscribe:
                raise SourceUnavailableError(f"the integration user cannot subscribe to {object_name}'s change events")

    def _off(self) -> Ended | None:
        """Outbound off (disconnected, disable_triggers): forget where the feeds were, as the poller does."""
        holds = {
            "disable_triggers": self.systems.settings.advanced.disable_triggers,
            "disconnected": not self.systems.store.connection.connected(),
        }
        off = [reason for reason, held in holds.items() if held]
        if not off:
            return None
        pause(self.systems, off, STREAMS)
        forget_progress(self.systems, STREAMS)
        PollReport().not_run(off[0]).finish(self.systems.store)
        return Ended("off", off[0])

    def _subscribe(self, object_name: str) -> None:
        progress = self.progress[object_name]
        self.streams[object_name] = self.client.subscribe(object_name, progress.replay_id, self.inbox)
        self.subscribed_at = time.monotonic()
        self.retry_at.pop(object_name, None)

    def _loop(self) -> Ended:
        checked = renewed = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now - checked >= CHECK_EVERY:
                checked = now
                if current() is not self.systems:
                    return Ended("reload")
                if (off := self._off()) is not None:
                    return off
            if now - renewed >= RENEW_EVERY:
                renewed = now
                if not self.systems.store.leases.outbound_poller.take(self.owner, self.lease):
                    return Ended("lease")
            for object_name, when in list(self.retry_at.items()):
                if when <= now:
                    self._subscribe(object_name)
            if self.catch_up is not None and self._streams_started():
                self._catch_up()
            try:
                received = self._next(0.05 if self.catch_up is not None else CHECK_EVERY)
            except queue.Empty:
                continue
            if self.streams.get(received.stream.object_name) is not received.stream:
                continue
            if received.error is not None:
                self._lost(received.stream, received.error)
            elif received.response.events:
                self._received(received.stream, [received.response, *self._more_events(received.stream)])
            else:
                self._idle(received.stream, received.response)
        return Ended("stopped")

    def _next(self, timeout: float) -> Received:
        return self.backlog.popleft() if self.backlog else self.inbox.get(timeout=timeout)

    def _more_events(self, stream: Stream) -> list[Any]:
        """The stream's further responses with events already waiting, to act on them as one batch."""
        more: list[Any] = []
        while len(more) < MAX_BATCH and not self.backlog:
            try:
                received = self.inbox.get_nowait()
            except queue.Empty:
                break
            if received.stream is stream and received.response is not None and received.response.events:
                more.append(received.response)
            else:
                self.backlog.append(received)
        return more

    def _streams_started(self) -> bool:
        """Whether every stream has answered (or long enough has passed): a catch-up poll then covers the moment
        each started."""
        waited = time.monotonic() - self.subscribed_at
        return waited >= FIRST_RESPONSE_WAIT or all(stream.responded.is_set() for stream in self.streams.values())

    def _catch_up(self) -> None:
        """Poll from the catch-up time (the streams are started, so nothing falls between the two)."""
        since = self.catch_up
        assert since is not None
        reset_cursors(self.systems, STREAMS)
        for object_name in self.progress:
            start_cursor(self.systems, Cursor(object_name), since)
        report = poll_once(self.systems)
        self.systems.store.leases.outbound_poller.take(self.owner, self.lease)
        if report.error is None and report.ran:
            self.catch_up = None
            reset_cursors(self.systems, STREAMS)
            log.info("outbound caught up by a poll; change events from now on", since=since.isoformat())
        else:
            self.stop.wait(min(MAX_BACKOFF, 5.0))

    def _idle(self, stream: Stream, response: Any) -> None:
        """A keepalive: nothing is waiting, so its latest replay ID is where the feed resumes."""
        progress = self.progress[stream.object_name]
        self.failures.pop(stream.object_name, None)
        if response.latest_replay_id:
            progress.replay_id = bytes(response.latest_replay_id)
            progress.at = datetime.now(UTC)
            self._keep(progress)
        OUTBOUND_SOURCE_LAG.set(0)

    def _keep(self, progress: CdcProgress) -> None:
        """Store where the feed resumes, unless a catch-up poll is still due: until it has run, a restart must
        catch up again rather than resume past the time it covers."""
        if self.catch_up is None:
            progress.save(self.systems)

    def _received(self, stream: Stream, responses: list[Any]) -> None:
        object_name = stream.object_name
        progress = self.progress[object_name]
        self.failures.pop(object_name, None)
        events = [event for response in responses for event in response.events]
        notices = [self.decoder.notice(event.event.schema_id, event.event.payload) for event in events]
        report = PollReport()
        try:
            self._act(object_name, notices, progress, report)
        except Exception as error:
            report.error = REDACTOR.text(f"{type(error).__name__}: {error}")
            log.warning("outbound change events not acted on; resuming from the stored replay ID", error=report.error)
            report.finish(self.systems.store)
            self._retry(stream, "the pushes did not all go through")
            return
        progress.replay_id = bytes(events[-1].replay_id)
        progress.at = max(notice.committed_at for notice in notices)
        self._keep(progress)
        report.finish(self.systems.store)
        lag = max(0.0, (datetime.now(UTC) - progress.at).total_seconds())
        OUTBOUND_SOURCE_LAG.set(lag)
        note_source(self.systems, "cdc", None, lag)
        stream.request(len(events))

    def _act(self, object_name: str, notices: list[ChangeNotice], progress: CdcProgress, report: PollReport) -> None:
        """Plan and push the changes the events name, as one poll's chunk."""
        skip_bulks = self.systems.settings.advanced.disable_bulk_triggers
        stamps: dict[str, datetime] = {}
        created: set[str] = set()
        deleted: set[str] = set()
        overflow: datetime | None = None
        for notice in notices:
            for _ in notice.record_ids:
                report.changed(object_name)
            if notice.own:
                report.skip("own_write", len(notice.record_ids))
                continue
            if notice.overflow:
                overflow = min(overflow or notice.committed_at, notice.committed_at)
                continue
            record_ids = sorted(notice.record_ids)
            if skip_bulks:
                if progress.started(notice.transaction_key):
                    report.skip("bulk", len(record_ids))
                    continue
                report.skip("bulk", len(record_ids) - 1)
                record_ids = record_ids[:1]
            for record_id in record_ids:
                stamps[record_id] = max(stamps.get(record_id, notice.committed_at), notice.committed_at)
                if notice.kind == "CREATE":
                    created.add(record_id)
                if notice.kind == "DELETE":
                    deleted.add(record_id)
                else:
                    deleted.discard(record_id)
        batch = OutboundRound(self.systems, report, lambda: True)
        changes = self._read(batch, object_name, stamps, created, deleted, report)
        if overflow is not None:
            log.info("change events overflowed; reading the object's changes by query", object=object_name)
            cursor = Cursor(object_name, after=overflow)
            for chunk in read_changes(self.systems, batch.scope, cursor, report):
                changes.extend(change for change in chunk.changes if change.modstamp >= overflow)
        if object_name == "Account":
            changes = batch.contacts_of(changes)
        batch.act(changes)

    def _read(
        self,
        batch: OutboundRound,
        object_name: str,
        stamps: dict[str, datetime],
        created: set[str],
        deleted: set[str],
        report: PollReport,
    ) -> list[Change]:
        """The named records as they are now (a record gone for good counts as deleted)."""
        changes = [Change(object_name, {"Id": record_id}, stamps[record_id], deleted=True) for record_id in deleted]
        ids = sorted(set(stamps) - deleted)
        found: set[str] = set()
        for start in range(0, len(ids), _PER_QUERY):
            where = f"Id IN {literal_list(ids[start : start + _PER_QUERY])}"
            soql = select(object_name, batch.scope.fields[object_name], where=where)
            for record in self.systems.salesforce.query(soql, include_deleted=True):
                record_id = str(record["Id"])
                found.add(record_id)
                if record.get("IsConverted"):
                    report.skip("converted")
                    continue
                changes.append(
                    Change(
                        object_name, record, stamps[record_id],
                        created=record_id in created, deleted=bool(record.get("IsDeleted")),
                    )
                )  # fmt: skip
        changes.extend(
            Change(object_name, {"Id": record_id}, stamps[record_id], deleted=True) for record_id in set(ids) - found
        )
        return changes

    def _lost(self, stream: Stream, error: grpc.RpcError) -> None:
        object_name = stream.object_name
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        if code == grpc.StatusCode.UNAUTHENTICATED and not self.failures.get(object_name):
            log.info("salesforce access token expired; change events resume from the stored replay ID")
            self.failures[object_name] = 1
            self.client.token_refused()
            self._subscribe(object_name)
        elif code == grpc.StatusCode.INVALID_ARGUMENT and "replayid" in error_code(error):
            self._expired(object_name)
        elif code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
            raise SourceUnavailableError(_unavailable(object_name, error))
        else:
            details = error.details() if isinstance(error, grpc.Call) else error
            self._retry(stream, f"{code.name}: {REDACTOR.text(str(details))}")

    def _expired(self, object_name: str) -> None:
        """The stored replay ID is past the 72-hour retention: poll from the last known commit, then events."""
        progress = self.progress[object_name]
        since = progress.at or resumed_at(self.systems)
        log.warning(
            "change events no longer reach back to the stored replay ID (outbound was down more than 72 hours); "
            "catching up with a poll, then following change events again",
            object=object_name,
            since=since.isoformat(),
        )
        OUTBOUND_FALLBACKS.labels("replay_expired").inc()
        progress.replay_id = None
        progress.save(self.systems)
        self.catch_up = min(self.catch_up or since, since)
        self._subscribe(object_name)

    def _retry(self, stream: Stream, why: str) -> None:
        object_name = stream.object_name
        stream.close()
        self.streams.pop(object_name, None)
        failures = self.failures[object_name] = self.failures.get(object_name, 0) + 1
        delay = min(MAX_BACKOFF, 2.0 ** (failures - 1)) * random.uniform(0.5, 1.0)
        log.warning("change event stream lost; resubscribing from the stored replay ID", object=object_name,
                    error=why, retry_in_seconds=round(delay, 1))  # fmt: skip
        self.retry_at[object_name] = time.monotonic() + delay


def pubsub_endpoint(settings: Settings) -> str | None:
    """Where the Pub/Sub API answers: the setting, or Salesforce's endpoint for an org on salesforce.com."""
    if settings.outbound.pubsub_endpoint:
        return settings.outbound.pubsub_endpoint
    host = urlsplit(settings.salesforce.login_url).hostname or ""
    return PRODUCTION_ENDPOINT if host == "salesforce.com" or host.endswith(".salesforce.com") else None


def _unavailable(object_name: str, error: grpc.RpcError) -> str:
    if isinstance(error, grpc.Call) and error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
        return f"Change Data Capture is not enabled for {object_name} (Setup → Change Data Capture)"
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    return f"the Pub/Sub API did not answer for {object_name}: {REDACTOR.text(str(details))}"


def note_source(systems: Systems, active: str, reason: str | None, lag: float | None = None) -> None:
    """Keep which source runs, why not change events, and the lag of the last change acted on, for status."""
    systems.store.facts.outbound_source.set(
        {"configured": systems.settings.outbound.source, "active": active, "reason": reason, "lag_seconds": lag,
         "at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
