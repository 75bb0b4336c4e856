"""The connection flag: off after ``cmsync disconnect`` until ``cmsync connect``, surviving restarts."""

from datetime import datetime

from cmsync.state.fact_table import FactTable
from cmsync.state.facts import Fact


class Connection:
    """``store.connection.connected()``, ``.set(connected)``, ``.changed_at()``."""

    def __init__(self, table: FactTable) -> None:
        self._state: Fact[str] = Fact(table, "connection")

    def connected(self) -> bool:
        """False after ``cmsync disconnect`` until ``cmsync connect``."""
        return self._state.get() != "disconnected"

    def set(self, connected: bool) -> None:
        self._state.set("connected" if connected else "disconnected")

    def changed_at(self) -> datetime | None:
        """When cmsync was last connected or disconnected (None if never)."""
        return self._state.changed_at()
