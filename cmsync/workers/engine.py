"""The engine: what one process needs to sync (settings, state store, both API clients), built as a whole.

A worker process builds one at boot; the supervisor builds a new one on every reload and swaps it in
whole, so a job always sees one consistent configuration.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cmsync.config import Settings
from cmsync.workers.campaign_monitor.client import CampaignMonitorClient
from cmsync.workers.salesforce.client import SalesforceClient
from cmsync.workers.state import StateStore


@dataclass(frozen=True)
class Engine:
    settings: Settings
    store: StateStore
    campaign_monitor: CampaignMonitorClient
    salesforce: SalesforceClient
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When this configuration was loaded: for a reload, the moment its settings took effect."""

    @classmethod
    def from_settings(cls, settings: Settings, store: StateStore | None = None) -> "Engine":
        """Open the state store (unless given) and build both clients from ``settings``."""
        return cls(
            settings,
            store or StateStore.open(settings.state.url.get_secret_value()),
            CampaignMonitorClient.from_settings(settings.campaign_monitor),
            SalesforceClient.from_settings(settings.salesforce),
        )

    def close(self) -> None:
        self.campaign_monitor.close()
        self.salesforce.close()


_current: Engine | None = None
_lock = threading.Lock()


def install(engine: Engine) -> Engine | None:
    """Make ``engine`` the one jobs of this process use; return the one it replaces."""
    global _current
    with _lock:
        previous, _current = _current, engine
    return previous


def current() -> Engine:
    """The engine jobs of this process use."""
    engine = _current
    if engine is None:
        raise RuntimeError("no engine is installed in this process (cmsync worker or cmsync run installs one)")
    return engine
