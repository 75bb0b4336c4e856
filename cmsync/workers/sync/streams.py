"""Writes one stream of records (a list's members, a campaign's opens …) to Salesforce, page by page.

Records are buffered up to ``chunk_size`` (memory stays flat however long the stream) and upserted by
external ID; the Salesforce client sends Collections of 200 below its Bulk threshold and a Bulk 2.0 job
above it. A record whose digest equals the one kept for its key (what Salesforce holds) is not written at
all. Only after Salesforce has answered for a chunk does the stream's watermark move; records it refused
are kept with their reason, the rest of the chunk is not held back by them, and a record written is no
longer kept as refused.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from cmsync.workers.metrics import RECORDS
from cmsync.workers.salesforce.client import SalesforceClient
from cmsync.workers.state import StateStore
from cmsync.workers.sync.records import EXTERNAL_ID, Record, content_hash

DEFAULT_CHUNK = 10_000


class RunCancelledError(Exception):
    """The run was cancelled (``cmsync disconnect``); the job stops at a page boundary."""


def run_cancelled(store: StateStore, run_id: int) -> bool:
    """True once the run is no longer in flight or the installation was disconnected."""
    run = store.run(run_id)
    return run is None or not run.in_flight or not store.connected()


def stop_if_cancelled(store: StateStore, run_id: int) -> None:
    if run_cancelled(store, run_id):
        raise RunCancelledError(f"run {run_id} was cancelled")


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


@dataclass
class StreamWriter:
    """Buffered, idempotent writes of one stream of one object, with its watermark and rejections.

    ``run_id`` None writes outside a run (a tracking re-import): no run counts, no cancellation check.
    ``digest_stream`` is where the digests of what Salesforce holds are kept when several streams write the
    same records (a list's member states); ``digest`` computes them."""

    salesforce: SalesforceClient
    store: StateStore
    run_id: int | None
    object_name: str
    stream: str
    chunk_size: int = DEFAULT_CHUNK
    keep_hashes: bool = True
    seen_marker: str | None = None
    digest_stream: str | None = None
    digest: Callable[[Record], str] = content_hash
    totals: StreamTotals = field(default_factory=StreamTotals)
    _buffer: list[Record] = field(default_factory=list)
    _position: str | None = None

    @property
    def key_field(self) -> str:
        return EXTERNAL_ID[self.object_name]

    @property
    def digests(self) -> str:
        return self.digest_stream or self.stream

    def retry_rejected(self) -> None:
        """Offer again the records Salesforce refused on earlier runs of this stream."""
        for rejection in self.store.rejections(self.stream):
            if rejection.object == self.object_name and isinstance(rejection.payload, dict):
                self._buffer.append(rejection.payload)

    def add(self, record: Record, position: str | None = None) -> None:
        """Queue a record; ``position`` is where the stream may resume once it (and all before it) is written."""
        self._buffer.append(record)
        if position is not None:
            self._position = position
        if len(self._buffer) >= self.chunk_size:
            self.flush()

    def advance(self, position: str) -> None:
        """Let the stream resume at ``position`` once everything added so far is written."""
        self._position = position

    def flush(self) -> None:
        """Write what is buffered, record the outcome, then move the watermark."""
        records, self._buffer = self._buffer, []
        if records:
            self._write(records)
        if self._position is not None:
            self.store.set_watermark(self.stream, self._position)
        if self.run_id is not None:
            stop_if_cancelled(self.store, self.run_id)

    def _write(self, records: list[Record]) -> None:
        key_field = self.key_field
        unique: dict[str, Record] = {}
        for record in records:
            unique[str(record[key_field])] = record
        hashes = {key: self.digest(record) for key, record in unique.items()}
        known = self.store.content_hashes(self.digests, hashes) if self.keep_hashes else {}
        changed = {key: record for key, record in unique.items() if known.get(key) != hashes[key]}
        if self.seen_marker is not None:
            self.store.mark_seen(self.digests, list(unique), self.seen_marker)
        self._count("unchanged", len(unique) - len(changed))
        if not changed:
            return
        keys = list(changed)
        results = self.salesforce.upsert(self.object_name, key_field, list(changed.values()))
        written: dict[str, str] = {}
        created = 0
        for result in results:
            key = keys[result.index]
            if result.success:
                written[key] = hashes[key]
                created += bool(result.created)
            else:
                reason = "; ".join(str(error) for error in result.errors) or "refused without a reason"
                self.store.reject(self.object_name, key, self.stream, reason, changed[key], self.run_id)
        if self.keep_hashes and written:
            self.store.save_content_hashes(self.digests, written, seen=self.seen_marker)
        if written:
            self.store.resolve(self.object_name, written)
        self._count("created", created)
        self._count("rewritten", len(written) - created)
        self._count("rejected", len(keys) - len(written))

    def _count(self, outcome: str, n: int) -> None:
        setattr(self.totals, outcome, getattr(self.totals, outcome) + n)
        if self.run_id is not None:
            self.store.count(self.run_id, self.object_name, outcome, n)
        RECORDS.labels(self.object_name, outcome).inc(n)
