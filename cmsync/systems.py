"""The systems one process talks to (settings, state store, both API clients), built and swapped as a whole.

A worker process builds one at boot; the supervisor builds a new one on every reload and swaps it in
whole, so a job always sees one consistent configuration.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cmsync.clients.campaign_monitor.client import CampaignMonitorClient
from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.config import Settings
from cmsync.state import StateStore


@dataclass(frozen=True)
class Systems:
    settings: Settings
    store: StateStore
    campaign_monitor: CampaignMonitorClient
    salesforce: SalesforceClient
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When this configuration was loaded: for a reload, the moment its settings took effect."""

    @classmethod
    def from_settings(cls, settings: Settings, store: StateStore | None = None) -> "Systems":
        """Open the state store (unless given) and build both clients from ``settings``; the Salesforce
        client keeps its Bulk ingest paces in the store."""
        store = store or StateStore.open(settings.state.url.get_secret_value())
        return cls(
            settings,
            store,
            CampaignMonitorClient.from_settings(settings.campaign_monitor),
            SalesforceClient.from_settings(settings.salesforce, paces=store.facts.bulk_pace),
        )

    def close(self) -> None:
        self.campaign_monitor.close()
        self.salesforce.close()


_current: Systems | None = None
_lock = threading.Lock()


def install(systems: Systems) -> Systems | None:
    """Make ``systems`` the ones jobs of this process use; return the ones they replace."""
    global _current
    with _lock:
        previous, _current = _current, systems
    return previous


def current() -> Systems:
    """The Systems the jobs of this process use."""
    systems = _current
    if systems is None:
        raise RuntimeError("no Systems are installed in this process (cmsync worker or cmsync run installs them)")
    return systems
