"""What one outbound poll did, counted once for both the poll's report and Prometheus.

The report of the last poll is kept in the state store (``outbound_last_poll``) for ``cmsync status``
and for anything that waits for a poll to have happened.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cmsync.metrics import (
    OUTBOUND_CHANGES,
    OUTBOUND_LAG,
    OUTBOUND_POLLS,
    OUTBOUND_PUSHES,
    OUTBOUND_SKIPPED,
)
from cmsync.state import StateStore


@dataclass
class PollReport:
    """Changes read per object, changes and pushes left out per reason, pushes per kind and result.

    ``ran`` is False when the poll did nothing at all, ``reason`` saying why (``disable_triggers``,
    disconnected, another poller holds the lease); ``error`` is set when a poll stopped part way.
    """

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    ran: bool = True
    reason: str | None = None
    error: str | None = None
    changes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    pushes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def changed(self, object_name: str) -> None:
        self.changes[object_name] += 1
        OUTBOUND_CHANGES.labels(object_name).inc()

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n
        OUTBOUND_SKIPPED.labels(reason).inc(n)

    def pushed(self, kind: str, result: str, modstamp: datetime | None = None) -> None:
        """Count one push; a push that reached CM (``modstamp`` given) also records its lag."""
        self.pushes[f"{kind}:{result}"] += 1
        OUTBOUND_PUSHES.labels(kind, result).inc()
        if modstamp is not None:
            OUTBOUND_LAG.observe(max(0.0, (datetime.now(UTC) - modstamp).total_seconds()))

    def not_run(self, reason: str) -> "PollReport":
        self.ran = False
        self.reason = reason
        return self

    def as_json(self) -> dict[str, Any]:
        return {
            "at": (self.finished_at or self.started_at).isoformat(),
            "started_at": self.started_at.isoformat(),
            "ran": self.ran,
            "reason": self.reason,
            "error": self.error,
            "changes": dict(self.changes),
            "skipped": dict(self.skipped),
            "pushes": dict(self.pushes),
            "problems": self.problems,
        }

    def finish(self, store: StateStore) -> "PollReport":
        """Close the report, count the poll and keep its report as the last poll's."""
        self.finished_at = datetime.now(UTC)
        OUTBOUND_POLLS.labels("not_run" if not self.ran else "failed" if self.error else "ok").inc()
        store.facts.outbound_last_poll.set(self.as_json())
        return self
