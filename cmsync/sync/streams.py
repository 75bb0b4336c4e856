"""Writes one stream of records (a list's members, a campaign's opens …) to Salesforce.

Records are compared with the digest kept for their key (what Salesforce holds) a page at a time; a
record that would change nothing is not written at all. Changed records wait in memory while they are
few (sObject Collections of 200 below the client's Bulk threshold); past it they are spooled as CSV to a
temporary file, with each row's key and digest in another, and the whole stream goes to Salesforce as
one Bulk 2.0 job (a new one only at Bulk's upload limit). Once the job has answered, every row it did not
refuse is recorded as written from the digests kept beside it: its successful results are not read back.
A stream's writes run on a thread of their own (its write lane, which the streams of one list share so that
they write one after another, in the order they were read) while the stream goes on reading, one job per
stream in flight at a time, so memory stays flat however long the stream. Only after Salesforce has
answered for every record before it does the stream's watermark move; records it refused are kept with
their reason (a locked row or a key sent twice is written once more first), and a record written is no
longer kept as refused.
"""

import contextvars
import functools
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple, ParamSpec

from cmsync.clients.salesforce.bulk import NULL, IngestSpool, RowResult, SpoolJob, columns
from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.logs import get_logger
from cmsync.mapping.records import EXTERNAL_ID, Record, held_digest
from cmsync.metrics import RECORDS
from cmsync.state import StateStore
from cmsync.sync.spooled_digests import SpooledDigests

PAGE = 1_000
"""Records compared with their kept digests at once (one state store read and write per page)."""
log = get_logger(__name__)
P = ParamSpec("P")
_SAVE_EVERY = 50_000
"""Job results applied to the state store at once (in key order: SQLite saves 100,000 digests in random order
in 7.4 µs each by 5,000, in 3.4 µs each by 50,000 sorted; 50,000 take about 10 MB)."""
_CHECK_EVERY = 10
"""Pages between two checks that the run was not cancelled."""
_WRITE_AGAIN = frozenset({"UNABLE_TO_LOCK_ROW", "DUPLICATE_EXTERNAL_ID", "DUPLICATE_VALUE"})
"""Refusals of a Bulk row that a second, single write cures: a lock, or the same key twice in one job."""


class RunCancelledError(Exception):
    """The run was cancelled (``cmsync disconnect``); the job stops at a page boundary."""


def run_cancelled(store: StateStore, run_id: int) -> bool:
    """True once the run is no longer in flight or the installation was disconnected."""
    run = store.runs.get(run_id)
    return run is None or not run.in_flight or not store.connection.connected()


def stop_if_cancelled(store: StateStore, run_id: int) -> None:
    if run_cancelled(store, run_id):
        raise RunCancelledError(f"run {run_id} was cancelled")


def ends_when_cancelled(job: Callable[P, None]) -> Callable[P, None]:
    """``job`` (one job of a run), returning quietly once its run is cancelled: the job then counts as done."""

    @functools.wraps(job)
    def until_cancelled(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            job(*args, **kwargs)
        except RunCancelledError:
            log.info("job stopped: run cancelled")

    return until_cancelled


@dataclass
class StreamTotals:
    """What a stream created and rewrote in Salesforce, left alone (same content) and had refused."""

    created: int = 0
    rewritten: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def imported(self) -> int:
        return self.created + self.rewritten


class _Change(NamedTuple):
    """A record to write, with its key, its digest, whether a digest was kept for its key before and the
    number of the seen marker it was compared under (None outside a full pass)."""

    key: str
    record: Record
    digest: bytes
    held: bool
    seen: int | None


def _markers(changes: Iterable[_Change]) -> dict[str, int | None]:
    """Each change's key with the seen marker it was compared under."""
    return {change.key: change.seen for change in changes}


def _record_of(row: dict[str, str]) -> Record:
    """A spooled CSV row as the record it was built from: ``Rel__r.Key__c`` nested again, empty cells None."""
    record: Record = {}
    for name, cell in row.items():
        value = None if cell in ("", NULL) else cell
        relationship, _, key = name.partition(".")
        if key:
            record.setdefault(relationship, {})[key] = value
        else:
            record[name] = value
    return record


def _held_row(row: dict[str, str]) -> Record:
    """A spooled CSV row as a flat record to digest (``Rel__r.Key__c`` as queries name it), ``#N/A`` None:
    the digest a record gets either way, without nesting the row again."""
    if NULL not in row.values():
        return row
    return {name: None if cell == NULL else cell for name, cell in row.items()}


@dataclass
class StreamWriter:
    """Idempotent writes of one stream of one object, with its watermark and rejections.

    ``run_id`` None writes outside a run (a tracking re-import): no run counts, no cancellation check.
    ``lane`` is the one-thread executor its writes run on, shared with the other streams of a list (their
    owner shuts it down); without one the writer makes its own.
    ``digest_stream`` is where the digests of what Salesforce holds are kept when several streams write the
    same records (a list's member states); ``digest`` computes them, from a record as built and from the
    same record read back from a Bulk job's results alike. On a full pass each page of records is compared
    under its own seen marker (``begin_page``), and ``built`` tells, per marker, the XOR of the digests of the
    records compared under it."""

    salesforce: SalesforceClient
    store: StateStore
    run_id: int | None
    object_name: str
    stream: str
    keep_hashes: bool = True
    seen_marker: str | None = None
    digest_stream: str | None = None
    digest: Callable[[Record], bytes] = held_digest
    totals: StreamTotals = field(default_factory=StreamTotals)
    built: dict[int, int] = field(default_factory=dict)
    _pending: list[Record] = field(default_factory=list)
    _changed: list[_Change] = field(default_factory=list)
    _spool: IngestSpool | None = None
    _spooled: SpooledDigests | None = None
    _fields: frozenset[str] = frozenset()
    _position: str | None = None
    _compared_through: str | None = None
    _pages: int = 0
    lane: ThreadPoolExecutor | None = None
    _job: "Future[None] | None" = None
    _own_lane: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def key_field(self) -> str:
        return EXTERNAL_ID[self.object_name]

    @property
    def digests(self) -> str:
        return self.digest_stream or self.stream

    @property
    def chunk_size(self) -> int:
        """Records one write takes: the whole stream (one Bulk job, split only at the upload limit)."""
        return sys.maxsize

    def retry_rejected(self) -> None:
        """Offer again the records Salesforce refused on earlier runs of this stream."""
        for rejection in self.store.rejections.list(self.stream):
            if rejection.object == self.object_name and isinstance(rejection.payload, dict):
                self.add(rejection.payload)

    def add(self, record: Record, position: str | None = None) -> None:
        """Queue a record; ``position`` is where the stream may resume once it (and all before it) is written."""
        self._pending.append(record)
        if position is not None:
            self._position = position
        if len(self._pending) >= PAGE:
            self._compare()

    def begin_page(self, seen_marker: str) -> None:
        """Compare what is queued, then compare what comes next under ``seen_marker`` (a page of a full pass)."""
        self._compare()
        self.seen_marker = seen_marker

    def left_alone(self, records: int) -> None:
        """Count ``records`` as unchanged without comparing them (a page of a full pass as it was)."""
        self._count("unchanged", records)

    def advance(self, position: str) -> None:
        """Let the stream resume at ``position`` once everything added so far is written."""
        self._position = position

    def flush(self) -> None:
        """Write what is queued, record the outcome, then move the watermark; returns once it is all done."""
        self.send()
        self.wait()

    def send(self) -> None:
        """Write what is queued: a Bulk job, or any write of a stream given a lane, may still be running when
        this returns (``wait`` for it)."""
        self._compare()
        position = self._position
        if self._spool is not None and self._spooled is not None:
            self._submit(self._spool, self._spooled, position)
            self._spool, self._spooled = None, None
        else:
            self._wait_for_job()
            changed, self._changed = self._changed, []
            if self.lane is None:
                self._write_changes(changed, position)
            else:
                self._job = self._on_lane(self._write_changes, changed, position)
        self._stop_if_cancelled()

    def wait(self) -> None:
        """Wait for the writes in flight (and raise what they raised)."""
        self._wait_for_job()
        if self._own_lane and self.lane is not None:
            self.lane.shutdown()
            self.lane, self._own_lane = None, False

    def _stop_if_cancelled(self) -> None:
        """Stop once the run was cancelled (``cmsync disconnect``); every write checks first, so a write waiting
        on the lane when it came is not made."""
        if self.run_id is not None:
            stop_if_cancelled(self.store, self.run_id)

    def _on_lane(self, write: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> "Future[None]":
        """Run ``write`` on the write lane (this writer's own when it was given none), with the log context of
        the job that queued it."""
        if self.lane is None:
            self.lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"writes:{self.stream}")
            self._own_lane = True
        return self.lane.submit(contextvars.copy_context().run, write, *args, **kwargs)

    def _write_changes(self, changed: list[_Change], position: str | None) -> None:
        """Write ``changed`` (Collections, or a Bulk job of the client's own), then move the watermark."""
        self._stop_if_cancelled()
        if changed:
            self._write([change.record for change in changed], _markers(changed))
        if position is not None:
            self.store.watermarks.set(self.stream, position)

    def _compare(self) -> None:
        """Sort the queued records into unchanged (digest as kept) and changed (written)."""
        records, self._pending = self._pending, []
        if records:
            self._pages += 1
            if self.run_id is not None and self._pages % _CHECK_EVERY == 0:
                stop_if_cancelled(self.store, self.run_id)
            key_field = self.key_field
            unique: dict[str, Record] = {str(record[key_field]): record for record in records}
            seen: list[str] = list(unique)
            marker = None if self.seen_marker is None else self.store.digests.marker(self.seen_marker)
            if self.keep_hashes:
                digest = self.digest
                hashes = {key: digest(record) for key, record in unique.items()}
                known = self.store.digests.get(self.digests, hashes)
                changed = [
                    _Change(key, record, hashes[key], key in known, marker)
                    for key, record in unique.items()
                    if known.get(key) != hashes[key]
                ]
                seen = list(known)
                if marker is not None:
                    self._tally(marker, hashes.values())
            else:
                changed = [_Change(key, record, b"", False, marker) for key, record in unique.items()]
            if self.seen_marker is not None and seen:
                self.store.digests.mark_seen(self.digests, seen, self.seen_marker)
            self._count("unchanged", len(unique) - len(changed))
            for change in changed:
                self._queue(change)
        self._compared_through = self._position

    def _tally(self, marker: int, digests: Iterable[bytes]) -> None:
        folded = self.built.get(marker, 0)
        for digest in digests:
            folded ^= int.from_bytes(digest)
        self.built[marker] = folded

    def _queue(self, change: _Change) -> None:
        spool, spooled = self._spool, self._spooled
        if spool is None or spooled is None:
            self._changed.append(change)
            if len(self._changed) > self.salesforce.bulk_threshold:
                header = columns([waiting.record for waiting in self._changed])
                spool, spooled = self._spool, self._spooled = IngestSpool(header), SpooledDigests()
                self._fields = frozenset(name.partition(".")[0] for name in header)
                changed, self._changed = self._changed, []
                for waiting in changed:
                    spool.add(spool.row_of(waiting.record))
                    spooled.add(waiting.key, waiting.digest, waiting.held, waiting.seen)
            return
        if not change.record.keys() <= self._fields:
            self._changed.append(change)
            return
        row = spool.row_of(change.record)
        if not spool.fits(row):
            self._submit(spool, spooled, self._compared_through)
            spool, spooled = self._spool, self._spooled = IngestSpool(spool.header), SpooledDigests()
        spool.add(row)
        spooled.add(change.key, change.digest, change.held, change.seen)

    def _submit(self, spool: IngestSpool, spooled: SpooledDigests, position: str | None) -> None:
        """Send ``spool`` as a job on the write lane, once this stream's job before it is done, with the
        records that did not fit its columns."""
        self._wait_for_job()
        odd, self._changed = self._changed, []
        self._job = self._on_lane(self._run_job, spool, spooled, odd, position)

    def _wait_for_job(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.result()

    def _run_job(self, spool: IngestSpool, spooled: SpooledDigests, odd: list[_Change], position: str | None) -> None:
        """Run one Bulk job, apply its results, write what is left over, then move the watermark."""
        try:
            self._stop_if_cancelled()
            job = self.salesforce.writer.bulk.send_spool("upsert", self.object_name, spool, self.key_field)
            again = self._apply_job(job, spooled)
            if again:
                latest: dict[str, Record] = {}
                column = spool.header.index(self.key_field)
                for cells in spool.read():
                    if cells[column] in again:
                        latest[cells[column]] = _record_of(dict(zip(spool.header, cells, strict=False)))
                self._write(list(latest.values()), spooled.markers(again))
            if odd:
                self._write([change.record for change in odd], _markers(odd))
        finally:
            spool.close()
            spooled.close()
        if position is not None:
            self.store.watermarks.set(self.stream, position)

    def _apply_job(self, job: SpoolJob, spooled: SpooledDigests) -> set[str]:
        """Record the outcome of a job's rows; return the keys of rows worth one more write. When the job
        answered every row and the stream keeps digests, only its failures are read: every other row was
        written as spooled, created where no digest was held for its key before (DESIGN.md §4)."""
        if not (self.keep_hashes and job.complete):
            markers = spooled.markers() if self.keep_hashes and self.seen_marker is not None else {}
            return self._apply(job.results(), markers)[0]
        again, refused = self._apply(job.failures(), {})
        written: dict[str, tuple[bytes, int | None]] = {}
        created = 0
        for key, digest, held, seen in spooled.read():
            if key in again or key in refused:
                continue
            created += not held and key not in written
            written[key] = (digest, seen)
            if len(written) >= _SAVE_EVERY:
                self._written(written, created)
                written, created = {}, 0
        self._written(written, created)
        return again

    def _apply(self, results: Iterable[RowResult], markers: Mapping[str, int | None]) -> tuple[set[str], set[str]]:
        """Record the outcome of a job's rows (a row written keeps its seen marker in ``markers``); the keys of
        rows worth one more write, and of rows refused."""
        key_field = self.key_field
        written: dict[str, tuple[bytes, int | None]] = {}
        created = 0
        again: set[str] = set()
        refused: set[str] = set()
        for result in results:
            key = result.row.get(key_field, "")
            if result.success:
                written[key] = (self.digest(_held_row(result.row)) if self.keep_hashes else b"", markers.get(key))
                created += bool(result.created)
                if len(written) >= _SAVE_EVERY:
                    self._written(written, created)
                    written, created = {}, 0
            elif _WRITE_AGAIN.intersection(error.status_code for error in result.errors):
                again.add(key)
            else:
                refused.add(key)
                self._refused(key, result.errors, _record_of(result.row))
        self._written(written, created)
        return again, refused

    def _write(self, records: list[Record], markers: Mapping[str, int | None]) -> None:
        """Write ``records`` at once (Collections, or a Bulk job of the client's own) and record the outcome;
        a record written keeps its seen marker in ``markers``."""
        key_field = self.key_field
        unique = {str(record[key_field]): record for record in records}
        keys = list(unique)
        results = self.salesforce.upsert(self.object_name, key_field, list(unique.values()))
        written: dict[str, tuple[bytes, int | None]] = {}
        created = 0
        for result in results:
            key = keys[result.index]
            if result.success:
                written[key] = (self.digest(unique[key]) if self.keep_hashes else b"", markers.get(key))
                created += bool(result.created)
            else:
                self._refused(key, result.errors, unique[key])
        self._written(written, created)

    def _written(self, written: dict[str, tuple[bytes, int | None]], created: int) -> None:
        if not written:
            return
        if self.keep_hashes:
            self.store.digests.save_seen(self.digests, dict(sorted(written.items())))
        if self.store.rejections.count():
            self.store.rejections.resolve(self.object_name, written)
        self._count("created", created)
        self._count("rewritten", len(written) - created)

    def _refused(self, key: str, errors: Iterable[object], record: Record) -> None:
        reason = "; ".join(str(error) for error in errors) or "refused without a reason"
        self.store.rejections.add(self.object_name, key, self.stream, reason, record, self.run_id)
        self._count("rejected", 1)

    def _count(self, outcome: str, n: int) -> None:
        with self._lock:
            setattr(self.totals, outcome, getattr(self.totals, outcome) + n)
        if self.run_id is not None:
            self.store.runs.count(self.run_id, self.object_name, outcome, n)
        RECORDS.labels(self.object_name, outcome).inc(n)
