"""Facts: the small values cmsync keeps between runs, one typed accessor per kind, each key spelled here once.

Values keep the JSON shape their owners give them; ``store.facts.last_purge.get()`` reads one,
``store.facts.outbound_cursor("Contact").set(...)`` writes one of a family keyed by object, list, run or source.
"""

from datetime import datetime
from typing import Any, Generic, TypeVar

from cmsync.state.fact_table import FactTable

Value = TypeVar("Value")
Json = dict[str, Any]


class Fact(Generic[Value]):
    """One kept value: ``get()`` (None until set), ``set(value)``, ``clear()``, ``changed_at()``."""

    def __init__(self, table: FactTable, key: str) -> None:
        self._table = table
        self._key = key

    def get(self) -> Value | None:
        value: Value | None = self._table.get(self._key)
        return value

    def set(self, value: Value | None) -> None:
        self._table.set(self._key, value)

    def clear(self) -> None:
        """Set it to None, unless it is None already (so its change time stays)."""
        if self.get() is not None:
            self.set(None)

    def changed_at(self) -> datetime | None:
        """When it was last set (None if never)."""
        return self._table.changed_at(self._key)


class Facts:
    """Every kind of fact; the ones kept per object, list, run or source are methods taking that name."""

    def __init__(self, table: FactTable) -> None:
        self._table = table
        self.schedule: Fact[Json] = Fact(table, "schedule")
        """The supervisor's schedule: ``frequency`` and ``next_run``, for status."""
        self.last_purge: Fact[Json] = Fact(table, "last_purge")
        """The last (or running) tracking purge."""
        self.last_reimport: Fact[Json] = Fact(table, "last_reimport")
        """The last re-import of tracking events."""
        self.outbound_last_poll: Fact[Json] = Fact(table, "outbound_last_poll")
        """What the outbound poller's last poll did."""
        self.outbound_source: Fact[Json] = Fact(table, "outbound_source")
        """Which outbound source runs (change events or polling), why, and its lag."""
        self.outbound_paused: Fact[list[str]] = Fact(table, "outbound_paused")
        """Why outbound is paused (e.g. ``disconnected``); None when it is not."""
        self.outbound_failures: Fact[dict[str, int]] = Fact(table, "outbound_transient_failures")
        """Transient push failures per change, so a change that keeps failing is rejected."""

    def outbound_cursor(self, object_name: str) -> Fact[Json]:
        """Where the outbound poll of ``object_name`` resumes."""
        return Fact(self._table, f"outbound_cursor:{object_name}")

    def outbound_deleted(self, object_name: str) -> Fact[str]:
        """Up to when the deletes of ``object_name`` were read (an ISO instant)."""
        return Fact(self._table, f"outbound_deleted:{object_name}")

    def cdc_progress(self, object_name: str) -> Fact[Json]:
        """Where the change-event feed of ``object_name`` resumes."""
        return Fact(self._table, f"outbound_cdc:{object_name}")

    def salesforce_fields(self, object_name: str) -> Fact[Json]:
        """The fields of ``object_name`` as last described, with when they were read."""
        return Fact(self._table, f"outbound_salesforce_fields:{object_name}")

    def list_fields(self, list_id: str) -> Fact[Json]:
        """The custom fields of Campaign Monitor list ``list_id``, with when they were read."""
        return Fact(self._table, f"outbound_cm_fields:{list_id}")

    def full_pass(self, list_id: str) -> Fact[str]:
        """When the last full pass over list ``list_id`` started (an ISO instant)."""
        return Fact(self._table, f"full_pass:{list_id}")

    def run_error(self, run_id: int) -> Fact[str]:
        """The first failure of run ``run_id``."""
        return Fact(self._table, f"run_error:{run_id}")

    def plan_attempts(self, run_id: int) -> Fact[str]:
        """How many times run ``run_id`` was planned (a number as text)."""
        return Fact(self._table, f"plan_attempts:{run_id}")

    def client(self, client_id: str) -> Fact[Json]:
        """What the last run learnt of Campaign Monitor client ``client_id``."""
        return Fact(self._table, f"client:{client_id}")

    def source(self, source_id: str) -> Fact[Json]:
        """What the last run learnt of tracking source ``source_id`` (a campaign or journey email)."""
        return Fact(self._table, f"source:{source_id}")

    def tracking_seen(self, source_id: str) -> Fact[str]:
        """The digest of ``source_id``'s event counts when the plan last found them moved."""
        return Fact(self._table, f"tracking_seen:{source_id}")

    def tracking_read(self, source_id: str) -> Fact[str]:
        """The digest of ``source_id``'s event counts when its events were last read."""
        return Fact(self._table, f"tracking_digest:{source_id}")

    def bulk_pace(self, object_name: str) -> Fact[float]:
        """Seconds per row the last Bulk ingest job of Salesforce object ``object_name`` took, so that a new
        process polls its first job when it is likely done."""
        return Fact(self._table, f"bulk_pace:{object_name}")

    def directory_mark(self, object_name: str) -> Fact[Json]:
        """How far the directory of ``object_name`` (Contact or Lead) is up to date."""
        return Fact(self._table, f"directory:{object_name}")

    def directory_version(self) -> Fact[Json]:
        """The directory's ``version`` (one more per refresh) and the version it was last ``reloaded`` whole at."""
        return Fact(self._table, "directory_version")
