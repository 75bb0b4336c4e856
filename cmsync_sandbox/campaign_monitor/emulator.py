"""``CampaignMonitorEmulator``: the emulated account, its API app, faults, tokens and call log in one object.

Tests, benchmarks and ``cmsync sandbox`` use it; its ``state``, ``faults`` and ``tokens`` are the Python side
of the ``/_sandbox/`` controls.
"""

from pathlib import Path

from cmsync_sandbox.calls import CallLog
from cmsync_sandbox.campaign_monitor.app import CampaignMonitorApp
from cmsync_sandbox.campaign_monitor.controls import SandboxControls
from cmsync_sandbox.campaign_monitor.dates import Clock
from cmsync_sandbox.campaign_monitor.faults import Faults
from cmsync_sandbox.campaign_monitor.oauth import TokenStore
from cmsync_sandbox.campaign_monitor.resources import API
from cmsync_sandbox.campaign_monitor.seeding import SeedSpec, seed_account
from cmsync_sandbox.campaign_monitor.state import AccountState
from cmsync_sandbox.server import SandboxServer

DEFAULT_API_KEY = "sandbox-api-key"


class CampaignMonitorEmulator:
    """A CM account in memory, served by ``serve()``; ``size`` None starts it empty."""

    def __init__(self, *, size: str | SeedSpec | None = "small", seed: int = 1, api_key: str = DEFAULT_API_KEY) -> None:
        self.clock = Clock()
        self.calls = CallLog()
        self.state = AccountState(self.clock, seed)
        self.faults = Faults(self.calls)
        self.tokens = TokenStore(self.clock)
        self.api_keys = {api_key}
        self.controls = SandboxControls(self.state, self.faults, self.tokens, self.calls)
        self.app = CampaignMonitorApp(self.state, self.faults, self.tokens, self.api_keys, self.controls)
        if size is not None:
            self.seed(size, seed)

    def seed(self, size: str | SeedSpec = "small", seed: int = 1) -> dict[str, int]:
        """Replace the account with seeded data; returns how much it holds."""
        return seed_account(self.state, size, seed)

    def reset(self) -> None:
        """An empty account, no faults, fresh tokens, the wall clock and an empty call log."""
        self.controls.reset()

    def serve(self, *, host: str = "127.0.0.1", port: int = 0, ca_file: Path | None = None) -> SandboxServer:
        """A server for the API (not started); HTTPS when ``ca_file`` is given, its CA written there."""
        return SandboxServer(self.app, self.calls, host=host, port=port, ca_file=ca_file)

    @staticmethod
    def api_url(server: SandboxServer) -> str:
        """The API's base URL on ``server`` (what ``campaign_monitor.base_url`` is set to)."""
        return f"{server.url}{API}"
