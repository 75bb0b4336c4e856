"""Run history: each main sync, who owns it while in flight, the jobs it waits for and what it wrote."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from cmsync.state.database import Database, Transaction
from cmsync.state.moments import Clock, as_text, from_text

RunStatus = Literal["running", "succeeded", "partial", "failed", "cancelled"]
FINISHED: tuple[RunStatus, ...] = ("succeeded", "partial", "failed", "cancelled")
_RUN_COLUMNS = (
    "id, trigger, full_pass, status, started_at, updated_at, finished_at, error, owner, heartbeat_at, dispatched"
)
_LAST_SIGN_OF_LIFE = "COALESCE(heartbeat_at, updated_at)"


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


class Runs:
    """The runs table: ``store.runs.begin(...)``, ``store.runs.current()``, ``store.runs.finish(...)``."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def _now(self) -> str:
        return as_text(self.clock())

    def begin(self, trigger: str, *, owner: str, stale_after: timedelta, full_pass: bool = False) -> RunStart:
        """Start a run, owned by ``owner`` and not yet sent, unless one is in flight with a live owner.

        A run whose owner showed no sign of life for ``stale_after`` is taken over when it was never sent
        (``replayed``: the caller sends it), else closed as interrupted before a new one is recorded."""
        now = self._now()
        stale_before = as_text(self.clock() - stale_after)
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

    def close_abandoned(self, stale_after: timedelta) -> list[int]:
        """Close, as interrupted, sent runs whose owner showed no sign of life for ``stale_after``."""
        with self.database.transaction() as transaction:
            return self._close_abandoned(transaction, as_text(self.clock() - stale_after), stale_after)

    def claim_unsent(self, owner: str, stale_after: timedelta) -> Run | None:
        """Take over the run in flight that was recorded but never sent, when ``owner`` recorded it for
        itself to send or its recorder showed no sign of life for ``stale_after``; the caller sends it."""
        with self.database.transaction() as transaction:
            return self._claim_unsent(transaction, owner, as_text(self.clock() - stale_after), any_age_if_owned=True)

    def mark_sent(self, run_id: int) -> None:
        """Note that the run's first message is with the broker (it leaves the outbox)."""
        with self.database.transaction() as transaction:
            transaction.execute("UPDATE runs SET dispatched = 1, heartbeat_at = ? WHERE id = ?", (self._now(), run_id))

    def beat(self, run_ids: Iterable[int], owner: str, *, until: datetime | None = None) -> None:
        """Renew the heartbeat of runs in flight: ``owner`` is alive and working on them (and vouches for
        them ``until`` a later moment, e.g. while a job waits out its retry backoff). Never moves it back."""
        moment = as_text(until) if until is not None else self._now()
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

    def get(self, run_id: int) -> Run | None:
        """The run ``run_id``, if recorded."""
        with self.database.transaction() as transaction:
            return self._run(transaction, run_id)

    def current(self) -> Run | None:
        """The run in flight, if any."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT id FROM runs WHERE in_flight = 1")
            return self._run(transaction, rows[0][0]) if rows else None

    def last(self, statuses: Iterable[RunStatus] = FINISHED) -> Run | None:
        """The most recently finished run with one of ``statuses``."""
        wanted = tuple(statuses)
        marks = ", ".join("?" for _ in wanted)
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                f"SELECT id FROM runs WHERE status IN ({marks}) ORDER BY finished_at DESC, id DESC LIMIT 1", wanted
            )
            return self._run(transaction, rows[0][0]) if rows else None

    def recent(self, limit: int = 10) -> list[Run]:
        """The latest ``limit`` runs, newest first."""
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

    def job_done(self, run_id: int, job: str) -> bool:
        """Whether ``job`` of run ``run_id`` has ended."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT done FROM run_jobs WHERE run_id = ? AND job = ?", (run_id, job))
        return bool(rows and rows[0][0])

    def jobs(self, run_id: int) -> list[tuple[str, bool]]:
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

    def finish(self, run_id: int, status: RunStatus, error: str | None = None) -> bool:
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
            finished_at=from_text(finished),
            error=error,
            counts=counts,
            pending_jobs=int(pending[0][0]),
            owner=owner,
            heartbeat_at=from_text(heartbeat),
            dispatched=bool(sent),
        )
