"""Leases: one holder at a time for the supervisor, the outbound poller, the tracking purge and each job of
a run (DESIGN.md §6).

Each lease's name is spelled here once; a holder renews its lease before it expires, and whoever finds it
expired may take it.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from cmsync.state.database import Database
from cmsync.state.moments import Clock, as_text

SUPERVISOR_LEASE_TTL = timedelta(seconds=30)
"""How long the supervisor's lease lasts unrenewed; its loop renews it every time round."""


class Lease:
    """One named lease: ``take(owner, ttl)``, ``holder()``, ``held()``, ``release(owner)``."""

    def __init__(self, database: Database, clock: Clock, name: str) -> None:
        self.database = database
        self.clock = clock
        self.name = name

    def take(self, owner: str, ttl: timedelta, *, holder_gone: Callable[[str], bool] | None = None) -> bool:
        """Take or renew the lease for ``ttl``; True when ``owner`` holds it now.

        A lease held by someone else is taken before it expires only when ``holder_gone(holder)`` says that
        holder can no longer renew it (a crashed process of this host)."""
        now = self.clock()
        with self.database.transaction() as transaction:
            held = transaction.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE locks.owner = excluded.owner OR locks.expires_at < ? RETURNING owner",
                (self.name, owner, as_text(now + ttl), as_text(now)),
            )
            if held or holder_gone is None:
                return bool(held)
            rows = transaction.execute("SELECT owner FROM locks WHERE name = ?", (self.name,))
            if not rows or not holder_gone(rows[0][0]):
                return False
            taken = transaction.execute(
                "UPDATE locks SET owner = ?, expires_at = ? WHERE name = ? AND owner = ? RETURNING owner",
                (owner, as_text(now + ttl), self.name, rows[0][0]),
            )
        return bool(taken)

    def held(self) -> tuple[str, datetime] | None:
        """Who holds the lease and until when (None when nobody does or it expired)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT owner, expires_at FROM locks WHERE name = ? AND expires_at >= ?",
                (self.name, as_text(self.clock())),
            )
        return (rows[0][0], datetime.fromisoformat(rows[0][1])) if rows else None

    def holder(self) -> str | None:
        """Who holds the lease now (None when nobody does or it expired)."""
        held = self.held()
        return held[0] if held else None

    def release(self, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it."""
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (self.name, owner))


class Leases:
    """Every lease by name: the supervisor's (one per state store), the outbound poller's (one poller or
    change-event listener per installation), the tracking purge's (one purge at a time) and one per job of
    a run (one attempt at a time, however often the broker delivers the job)."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self.supervisor = Lease(database, clock, "supervisor")
        self.outbound_poller = Lease(database, clock, "outbound_poller")
        self.tracking_purge = Lease(database, clock, "tracking_purge")

    def job(self, run_id: int, job: str) -> Lease:
        """The lease of ``job`` of run ``run_id``, held by the attempt working on it."""
        return Lease(self.database, self.clock, f"job:{run_id}:{job}")
