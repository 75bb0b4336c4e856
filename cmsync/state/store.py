"""The state store: run history, watermarks, content hashes, connection state, rejected records, locks.

One class over SQLite or PostgreSQL (see ``database``). Every method is one short transaction, so the
supervisor, worker threads, worker processes on other hosts and ``cmsync status`` can share it.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cmsync.state.database import PostgresDatabase, Row, SqliteDatabase, Transaction, connect
from cmsync.state.schema import migrate

RunStatus = Literal["running", "succeeded", "partial", "failed", "cancelled"]
FINISHED: tuple[RunStatus, ...] = ("succeeded", "partial", "failed", "cancelled")
Clock = Callable[[], datetime]
_RUN_COLUMNS = (
    "id, trigger, full_pass, status, started_at, updated_at, finished_at, error, owner, heartbeat_at, dispatched"
)
_LAST_SIGN_OF_LIFE = "COALESCE(heartbeat_at, updated_at)"
_IN_CHUNK = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _key_prefix(stream: str) -> str:
    """The start of a key that repeats the stream's own ID (``members:<list>`` → ``<list>:``), or ""."""
    return stream.partition(":")[2] + ":" if ":" in stream else ""


def _short(prefix: str, key: str) -> str:
    """A key as kept: without ``prefix`` but its colon (``:<email>``), so no kept key is two keys' form."""
    return key[len(prefix) - 1 :] if prefix and key.startswith(prefix) else key


def _long(prefix: str, kept: str) -> str:
    return prefix[:-1] + kept if prefix and kept.startswith(":") else kept


@dataclass(frozen=True)
class Run:
    """One main sync: what started it, how it ended, and what it wrote per object."""

    id: int
    trigger: str
    full_pass: bool
    status: RunStatus
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    pending_jobs: int = 0
    owner: str | None = None
    heartbeat_at: datetime | None = None
    dispatched: bool = True

    @property
    def in_flight(self) -> bool:
        return self.status == "running"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None


@dataclass(frozen=True)
class RunStart:
    """The run a request started, or the one already in flight (``started`` False).

    ``replayed``: the run was recorded by a process that died before sending it; this request sends it.
    ``interrupted``: runs this request closed because their owner was gone."""

    run: Run
    started: bool
    replayed: bool = False
    interrupted: tuple[int, ...] = ()


@dataclass(frozen=True)
class Rejection:
    """A record Salesforce or Campaign Monitor refused, kept to be retried on a later run."""

    object: str
    key: str
    stream: str
    reason: str
    payload: Any
    first_seen: datetime
    last_seen: datetime
    attempts: int


class StateStore:
    """What cmsync remembers between runs and across hosts."""

    def __init__(self, database: SqliteDatabase | PostgresDatabase, clock: Clock = utc_now) -> None:
        self.database = database
        self.clock = clock
        self._stream_ids: dict[str, int] = {}
        with database.transaction() as transaction:
            if database.dialect == "postgresql":
                transaction.execute("SELECT pg_advisory_xact_lock(7413021)")
            migrate(transaction, database.dialect)

    @classmethod
    def open(cls, url: str, clock: Clock = utc_now) -> "StateStore":
        """Open (and create or migrate) the store ``state.url`` names."""
        return cls(connect(url), clock)

    def close(self) -> None:
        self.database.close()

    def _now(self) -> str:
        return _text(self.clock())

    # Runs

    def begin_run(self, trigger: str, *, owner: str, stale_after: timedelta, full_pass: bool = False) -> RunStart:
        """Start a run, owned by ``owner`` and not yet sent, unless one is in flight with a live owner.

        A run whose owner showed no sign of life for ``stale_after`` is taken over when it was never sent
        (``replayed``: the caller sends it), else closed as interrupted before a new one is recorded."""
        now = self._now()
        stale_before = _text(self.clock() - stale_after)
        with self.database.transaction() as transaction:
            interrupted = tuple(self._close_abandoned(transaction, stale_before, stale_after))
            claimed = self._claim_unsent(transaction, owner, stale_before, any_age_if_owned=False)
            if claimed is not None:
                return RunStart(claimed, started=True, replayed=True, interrupted=interrupted)
            in_flight = transaction.execute("SELECT id FROM runs WHERE in_flight = 1")
            created = (
                []
                if in_flight
                else transaction.execute(
                    "INSERT INTO runs (trigger, full_pass, status, in_flight, started_at, updated_at, owner, "
                    "heartbeat_at, dispatched) VALUES (?, ?, 'running', 1, ?, ?, ?, ?, 0) "
                    "ON CONFLICT (in_flight) DO NOTHING RETURNING id",
                    (trigger, int(full_pass), now, now, owner, now),
                )
            )
            run_id = created[0][0] if created else transaction.execute("SELECT id FROM runs WHERE in_flight = 1")[0][0]
            run = self._run(transaction, run_id)
        assert run is not None
        return RunStart(run, bool(created), interrupted=interrupted)

    def close_abandoned_runs(self, stale_after: timedelta) -> list[int]:
        """Close, as interrupted, sent runs whose owner showed no sign of life for ``stale_after``."""
        with self.database.transaction() as transaction:
            return self._close_abandoned(transaction, _text(self.clock() - stale_after), stale_after)

    def claim_unsent_run(self, owner: str, stale_after: timedelta) -> Run | None:
        """Take over the run in flight that was recorded but never sent, when ``owner`` recorded it for
        itself to send or its recorder showed no sign of life for ``stale_after``; the caller sends it."""
        with self.database.transaction() as transaction:
            return self._claim_unsent(transaction, owner, _text(self.clock() - stale_after), any_age_if_owned=True)

    def mark_sent(self, run_id: int) -> None:
        """Note that the run's first message is with the broker (it leaves the outbox)."""
        with self.database.transaction() as transaction:
            transaction.execute("UPDATE runs SET dispatched = 1, heartbeat_at = ? WHERE id = ?", (self._now(), run_id))

    def beat(self, run_ids: Iterable[int], owner: str, *, until: datetime | None = None) -> None:
        """Renew the heartbeat of runs in flight: ``owner`` is alive and working on them (and vouches for
        them ``until`` a later moment, e.g. while a job waits out its retry backoff). Never moves it back."""
        moment = _text(until) if until is not None else self._now()
        rows = [(moment, moment, owner, run_id) for run_id in run_ids]
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "UPDATE runs SET heartbeat_at = CASE WHEN heartbeat_at > ? THEN heartbeat_at ELSE ? END, "
                "owner = ? WHERE id = ? AND in_flight = 1",
                rows,
            )

    def _close_abandoned(self, transaction: Transaction, stale_before: str, stale_after: timedelta) -> list[int]:
        now = self._now()
        rows = transaction.execute(
            "UPDATE runs SET status = 'cancelled', in_flight = NULL, finished_at = ?, updated_at = ?, "
            "error = 'interrupted: ' || COALESCE(owner, 'its owner') || ' showed no sign of life for ' || ? "
            "|| '; the next run resumes from the watermarks' "
            f"WHERE in_flight = 1 AND dispatched = 1 AND {_LAST_SIGN_OF_LIFE} < ? RETURNING id",
            (now, now, str(stale_after), stale_before),
        )
        return [int(row[0]) for row in rows]

    def _claim_unsent(
        self, transaction: Transaction, owner: str, stale_before: str, *, any_age_if_owned: bool
    ) -> Run | None:
        owned = "owner = ? OR " if any_age_if_owned else ""
        parameters = (owner,) if any_age_if_owned else ()
        rows = transaction.execute(
            "UPDATE runs SET owner = ?, heartbeat_at = ? "
            f"WHERE in_flight = 1 AND dispatched = 0 AND ({owned}{_LAST_SIGN_OF_LIFE} < ?) RETURNING id",
            (owner, self._now(), *parameters, stale_before),
        )
        return self._run(transaction, rows[0][0]) if rows else None

    def run(self, run_id: int) -> Run | None:
        with self.database.transaction() as transaction:
            return self._run(transaction, run_id)

    def current_run(self) -> Run | None:
        """The run in flight, if any."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT id FROM runs WHERE in_flight = 1")
            return self._run(transaction, rows[0][0]) if rows else None

    def last_run(self, statuses: Iterable[RunStatus] = FINISHED) -> Run | None:
        """The most recently finished run with one of ``statuses``."""
        wanted = tuple(statuses)
        marks = ", ".join("?" for _ in wanted)
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                f"SELECT id FROM runs WHERE status IN ({marks}) ORDER BY finished_at DESC, id DESC LIMIT 1", wanted
            )
            return self._run(transaction, rows[0][0]) if rows else None

    def recent_runs(self, limit: int = 10) -> list[Run]:
        with self.database.transaction() as transaction:
            ids = [row[0] for row in transaction.execute("SELECT id FROM runs ORDER BY id DESC LIMIT ?", (limit,))]
            return [run for run in (self._run(transaction, run_id) for run_id in ids) if run is not None]

    def add_jobs(self, run_id: int, jobs: Iterable[str]) -> None:
        """Register jobs the run waits for; registering one twice is harmless (a redelivered fan-out)."""
        rows = [(run_id, job) for job in jobs]
        now = self._now()
        with self.database.transaction() as transaction:
            transaction.execute_many("INSERT INTO run_jobs (run_id, job) VALUES (?, ?) ON CONFLICT DO NOTHING", rows)
            transaction.execute("UPDATE runs SET updated_at = ?, heartbeat_at = ? WHERE id = ?", (now, now, run_id))

    def complete_job(self, run_id: int, job: str) -> int:
        """Mark a job done (once, however often it is delivered) and return how many are still pending."""
        now = self._now()
        with self.database.transaction() as transaction:
            transaction.execute("UPDATE run_jobs SET done = 1 WHERE run_id = ? AND job = ?", (run_id, job))
            transaction.execute("UPDATE runs SET updated_at = ?, heartbeat_at = ? WHERE id = ?", (now, now, run_id))
            return int(
                transaction.execute("SELECT COUNT(*) FROM run_jobs WHERE run_id = ? AND done = 0", (run_id,))[0][0]
            )

    def run_jobs(self, run_id: int) -> list[tuple[str, bool]]:
        """The jobs a run fanned out to, each with whether it is done, in name order."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT job, done FROM run_jobs WHERE run_id = ? ORDER BY job", (run_id,))
        return [(job, bool(done)) for job, done in rows]

    def count(self, run_id: int, object_name: str, outcome: str, n: int = 1) -> None:
        """Add ``n`` to a run's count of ``outcome`` (imported, rejected, unchanged …) for an object."""
        if n <= 0:
            return
        now = self._now()
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO run_counts (run_id, object, outcome, n) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run_id, object, outcome) DO UPDATE SET n = run_counts.n + excluded.n",
                (run_id, object_name, outcome, n),
            )
            transaction.execute("UPDATE runs SET updated_at = ?, heartbeat_at = ? WHERE id = ?", (now, now, run_id))

    def finish_run(self, run_id: int, status: RunStatus, error: str | None = None) -> bool:
        """Close a run in flight; False when it was already closed (so after-steps run once)."""
        with self.database.transaction() as transaction:
            closed = transaction.execute(
                "UPDATE runs SET status = ?, in_flight = NULL, finished_at = ?, updated_at = ?, error = ? "
                "WHERE id = ? AND in_flight = 1 RETURNING id",
                (status, self._now(), self._now(), error, run_id),
            )
        return bool(closed)

    def _run(self, transaction: Transaction, run_id: int) -> Run | None:
        rows = transaction.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if not rows:
            return None
        identifier, trigger, full_pass, status, started, updated, finished, error, owner, heartbeat, sent = rows[0]
        counts: dict[str, dict[str, int]] = {}
        for object_name, outcome, n in transaction.execute(
            "SELECT object, outcome, n FROM run_counts WHERE run_id = ? ORDER BY object, outcome", (run_id,)
        ):
            counts.setdefault(object_name, {})[outcome] = int(n)
        pending = transaction.execute("SELECT COUNT(*) FROM run_jobs WHERE run_id = ? AND done = 0", (run_id,))
        return Run(
            id=int(identifier),
            trigger=trigger,
            full_pass=bool(full_pass),
            status=status,
            started_at=datetime.fromisoformat(started),
            updated_at=datetime.fromisoformat(updated),
            finished_at=_moment(finished),
            error=error,
            counts=counts,
            pending_jobs=int(pending[0][0]),
            owner=owner,
            heartbeat_at=_moment(heartbeat),
            dispatched=bool(sent),
        )

    # Watermarks and content hashes

    def watermark(self, stream: str) -> str | None:
        """Where ``stream`` (e.g. ``members:<list id>``) resumes; None before its first success."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT value FROM watermarks WHERE stream = ?", (stream,))
        return rows[0][0] if rows else None

    def set_watermark(self, stream: str, value: str) -> None:
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO watermarks (stream, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (stream, value, self._now()),
            )

    def watermarks(self, prefix: str = "") -> dict[str, str]:
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT stream, value FROM watermarks WHERE stream LIKE ? ORDER BY stream", (prefix + "%",)
            )
        return {stream: value for stream, value in rows}

    def content_hashes(self, stream: str, keys: Iterable[str]) -> dict[str, str]:
        """The digests of what Salesforce holds for ``keys`` of ``stream`` (what cmsync last wrote, or what the
        last full pass read back), so only records that differ are written."""
        rows = self._rows_in(
            "SELECT record_key, hash FROM content_hashes WHERE stream = ? AND record_key IN ({})", list(keys), (stream,)
        )
        return {key: value for key, value in rows}

    def _rows_in(self, sql: str, values: list[Any], leading: tuple[Any, ...] = ()) -> list[Row]:
        """Rows of ``sql`` whose ``IN ({})`` takes ``values``, asked in chunks small enough for any database."""
        found: list[Row] = []
        with self.database.transaction() as transaction:
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                found.extend(transaction.execute(sql.format(", ".join("?" for _ in chunk)), (*leading, *chunk)))
        return found

    def save_content_hashes(self, stream: str, hashes: Mapping[str, str], *, seen: str | None = None) -> None:
        rows = [(stream, key, value, seen) for key, value in hashes.items()]
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO content_hashes (stream, record_key, hash, seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream, record_key) DO UPDATE SET hash = excluded.hash, seen = excluded.seen",
                rows,
            )

    # The main sync's digests: one 16-byte digest per record key of a stream, of what Salesforce holds. A key
    # that starts with the stream's own ID (``members:<list>`` keeps ``<list>:<email>``) is kept without it.

    def _stream_id(self, stream: str) -> int:
        """The number a stream's digests are kept under (numbered on first use, remembered once committed)."""
        known = self._stream_ids.get(stream)
        if known is None:
            with self.database.transaction() as transaction:
                transaction.execute(
                    "INSERT INTO digest_streams (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (stream,)
                )
                known = int(transaction.execute("SELECT id FROM digest_streams WHERE name = ?", (stream,))[0][0])
            self._stream_ids[stream] = known
        return known

    def digests(self, stream: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The digests kept for those of ``keys`` that have one."""
        prefix = _key_prefix(stream)
        wanted = [_short(prefix, key) for key in keys]
        found: dict[str, bytes] = {}
        stream_id = self._stream_id(stream)
        with self.database.transaction() as transaction:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                for key, digest in transaction.execute(
                    f"SELECT record_key, digest FROM record_digests WHERE stream_id = ? AND record_key IN ({marks})",
                    (stream_id, *chunk),
                ):
                    found[_long(prefix, key)] = bytes(digest)
        return found

    def save_digests(self, stream: str, digests: Mapping[str, bytes], *, seen: str | None = None) -> None:
        """Keep ``digests`` (replacing those kept for the same keys), marked as seen by ``seen`` when given."""
        stream_id, prefix = self._stream_id(stream), _key_prefix(stream)
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO record_digests (stream_id, record_key, digest, seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream_id, record_key) DO UPDATE SET digest = excluded.digest, seen = excluded.seen",
                [(stream_id, _short(prefix, key), digest, seen) for key, digest in digests.items()],
            )

    def mark_seen(self, stream: str, keys: Iterable[str], marker: str) -> None:
        """Note that a full pass (``marker``) found ``keys`` in the source, so they are not stale."""
        stream_id, prefix = self._stream_id(stream), _key_prefix(stream)
        wanted = [_short(prefix, key) for key in keys]
        with self.database.transaction() as transaction:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                transaction.execute(
                    f"UPDATE record_digests SET seen = ? WHERE stream_id = ? AND record_key IN ({marks})",
                    (marker, stream_id, *chunk),
                )

    def unseen_keys(self, stream: str, marker: str) -> list[str]:
        """Keys of ``stream`` that the full pass ``marker`` did not see: gone from the source."""
        stream_id = self._stream_id(stream)
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT record_key FROM record_digests WHERE stream_id = ? AND (seen IS NULL OR seen <> ?) "
                "ORDER BY record_key",
                (stream_id, marker),
            )
        prefix = _key_prefix(stream)
        return sorted(_long(prefix, row[0]) for row in rows)

    def forget_digests(self, stream: str, keys: Iterable[str] | None = None) -> None:
        """Forget the digests of ``keys`` of ``stream``, or all of them (a full pass reads them again)."""
        stream_id = self._stream_id(stream)
        with self.database.transaction() as transaction:
            if keys is None:
                transaction.execute("DELETE FROM record_digests WHERE stream_id = ?", (stream_id,))
            else:
                prefix = _key_prefix(stream)
                transaction.execute_many(
                    "DELETE FROM record_digests WHERE stream_id = ? AND record_key = ?",
                    [(stream_id, _short(prefix, key)) for key in keys],
                )

    # The Contact and Lead directory: who has which email, for linking without a query per page.

    def save_directory(self, object_name: str, entries: Iterable[tuple[str, str | None, str]]) -> None:
        """Record ``(id, email, last_modified)`` of Contacts or Leads; an empty email keeps the record for
        linking by Id only, and an entry whose email is None is removed."""
        keep, drop = [], []
        for record_id, email, last_modified in entries:
            if email is not None:
                keep.append((object_name, record_id, record_id[:15], email.lower(), last_modified))
            else:
                drop.append((object_name, record_id))
        with self.database.transaction() as transaction:
            transaction.execute_many(
                "INSERT INTO directory (object, id, id15, email, last_modified) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (object, id) DO UPDATE SET email = excluded.email, last_modified = excluded.last_modified",
                keep,
            )
            transaction.execute_many("DELETE FROM directory WHERE object = ? AND id = ?", drop)

    def forget_directory(self, object_name: str, ids: Iterable[str]) -> None:
        rows = [(object_name, record_id) for record_id in ids]
        with self.database.transaction() as transaction:
            transaction.execute_many("DELETE FROM directory WHERE object = ? AND id = ?", rows)

    def clear_directory(self, object_name: str) -> None:
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM directory WHERE object = ?", (object_name,))

    def directory_by_email(self, emails: Iterable[str]) -> list[Row]:
        """``(object, id, email, last_modified)`` of every Contact and Lead with one of ``emails``."""
        wanted = sorted({email.lower() for email in emails if email})
        return self._rows_in("SELECT object, id, email, last_modified FROM directory WHERE email IN ({})", wanted)

    def directory_by_id(self, ids: Iterable[str]) -> list[Row]:
        """The same for 15- or 18-character Ids."""
        wanted = sorted({record_id[:15] for record_id in ids if record_id})
        return self._rows_in("SELECT object, id, email, last_modified FROM directory WHERE id15 IN ({})", wanted)

    # Installation facts: connection state and other small values

    def fact(self, key: str) -> Any:
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT value FROM installation WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_fact(self, key: str, value: Any) -> None:
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO installation (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, json.dumps(value), self._now()),
            )

    def fact_changed_at(self, key: str) -> datetime | None:
        """When ``key`` was last set (None if never)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT updated_at FROM installation WHERE key = ?", (key,))
        return _moment(rows[0][0]) if rows else None

    def connected(self) -> bool:
        """False after ``cmsync disconnect`` until ``cmsync connect`` (survives restarts)."""
        return self.fact("connection") != "disconnected"

    def set_connected(self, connected: bool) -> None:
        self.set_fact("connection", "connected" if connected else "disconnected")

    # Rejected records

    def reject(self, object_name: str, key: str, stream: str, reason: str, payload: Any, run_id: int | None) -> None:
        """Record (or re-record) a refused record with its reason, to be retried on a later run."""
        now = self._now()
        with self.database.transaction() as transaction:
            transaction.execute(
                "INSERT INTO rejected_records (object, record_key, stream, reason, payload, first_seen, last_seen, "
                "attempts, last_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (object, record_key) DO UPDATE "
                "SET reason = excluded.reason, payload = excluded.payload, last_seen = excluded.last_seen, "
                "attempts = rejected_records.attempts + 1, last_run_id = excluded.last_run_id, "
                "stream = excluded.stream",
                (object_name, key, stream, reason, json.dumps(payload), now, now, run_id),
            )

    def resolve(self, object_name: str, keys: Iterable[str]) -> None:
        """Forget rejections of records that have now been written."""
        rows = [(object_name, key) for key in keys]
        with self.database.transaction() as transaction:
            transaction.execute_many("DELETE FROM rejected_records WHERE object = ? AND record_key = ?", rows)

    def rejections(
        self, stream: str | None = None, limit: int = 10_000, *, stream_prefix: str | None = None
    ) -> list[Rejection]:
        """Rejected records, of one ``stream`` or of every stream under ``stream_prefix`` when given."""
        query = (
            "SELECT object, record_key, stream, reason, payload, first_seen, last_seen, attempts FROM rejected_records"
        )
        parameters: tuple[Any, ...] = ()
        if stream is not None:
            query += " WHERE stream = ?"
            parameters = (stream,)
        elif stream_prefix is not None:
            query += " WHERE stream LIKE ?"
            parameters = (stream_prefix + "%",)
        with self.database.transaction() as transaction:
            rows = transaction.execute(query + " ORDER BY first_seen, record_key LIMIT ?", (*parameters, limit))
        return [
            Rejection(obj, key, strm, reason, json.loads(payload) if payload else None,
                      datetime.fromisoformat(first), datetime.fromisoformat(last), int(attempts))
            for obj, key, strm, reason, payload, first, last, attempts in rows
        ]  # fmt: skip

    def rejected_count(self, stream_prefix: str = "") -> int:
        """How many records are kept as rejected (under ``stream_prefix`` when given)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT COUNT(*) FROM rejected_records WHERE stream LIKE ?", (stream_prefix + "%",)
            )
        return int(rows[0][0])

    # Locks

    def acquire_lock(
        self, name: str, owner: str, ttl: timedelta, *, holder_gone: Callable[[str], bool] | None = None
    ) -> bool:
        """Take or renew a lease on ``name``; True when ``owner`` holds it now.

        A lease held by someone else is taken before it expires only when ``holder_gone(holder)`` says that
        holder can no longer renew it (a crashed process of this host).
        """
        now = self.clock()
        with self.database.transaction() as transaction:
            held = transaction.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE locks.owner = excluded.owner OR locks.expires_at < ? RETURNING owner",
                (name, owner, _text(now + ttl), _text(now)),
            )
            if held or holder_gone is None:
                return bool(held)
            rows = transaction.execute("SELECT owner FROM locks WHERE name = ?", (name,))
            if not rows or not holder_gone(rows[0][0]):
                return False
            taken = transaction.execute(
                "UPDATE locks SET owner = ?, expires_at = ? WHERE name = ? AND owner = ? RETURNING owner",
                (owner, _text(now + ttl), name, rows[0][0]),
            )
        return bool(taken)

    def lease(self, name: str) -> tuple[str, datetime] | None:
        """Who holds the lease ``name`` and until when (None when nobody does or it expired)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT owner, expires_at FROM locks WHERE name = ? AND expires_at >= ?", (name, self._now())
            )
        return (rows[0][0], datetime.fromisoformat(rows[0][1])) if rows else None

    def lock_holder(self, name: str) -> str | None:
        """Who holds the lease ``name`` now (None when nobody does or it expired)."""
        held = self.lease(name)
        return held[0] if held else None

    def release_lock(self, name: str, owner: str) -> None:
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
