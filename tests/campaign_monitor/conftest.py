"""One Campaign Monitor emulator served over real HTTP for the whole directory; each test gets it freshly
seeded (small, seed 7) with no faults, and a client with short retry delays."""

from collections.abc import Iterator

import pytest

from cmsync.clients.campaign_monitor import ApiKey, CampaignMonitorClient, RetryPolicy
from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from cmsync_sandbox.campaign_monitor.model import MailingList
from cmsync_sandbox.people import people
from cmsync_sandbox.server import SandboxServer

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, rate_limit_patience=10.0, max_reset_wait=2.0)


@pytest.fixture(scope="session")
def emulator() -> CampaignMonitorEmulator:
    return CampaignMonitorEmulator(size=None)


@pytest.fixture(scope="session")
def server(emulator: CampaignMonitorEmulator) -> Iterator[SandboxServer]:
    with emulator.serve() as running:
        yield running


@pytest.fixture
def cm(emulator: CampaignMonitorEmulator, server: SandboxServer) -> CampaignMonitorEmulator:
    """The emulator, reset and seeded for this test."""
    emulator.reset()
    emulator.seed("small", seed=7)
    return emulator


@pytest.fixture
def api_url(cm: CampaignMonitorEmulator, server: SandboxServer) -> str:
    return cm.api_url(server)


@pytest.fixture
def client(api_url: str) -> Iterator[CampaignMonitorClient]:
    with CampaignMonitorClient(api_url, ApiKey(DEFAULT_API_KEY), timeout=5.0, retry=FAST_RETRY) as made:
        yield made


def new_list(cm: CampaignMonitorEmulator, members: int, *, title: str = "Test list", seed: int = 99) -> MailingList:
    """A list of the sandbox client with ``members`` active subscribers."""
    mailing_list = cm.state.add_list(SANDBOX_CLIENT_ID, title)
    cm.state.add_members(mailing_list.list_id, ((person.email, person.name) for person in people(members, seed)))
    return mailing_list


def list_with_states(cm: CampaignMonitorEmulator) -> MailingList:
    """A seeded list of the sandbox client that has members in several states."""
    return cm.state.clients[SANDBOX_CLIENT_ID].lists[1]


@pytest.fixture(scope="session")
def tls_server(emulator: CampaignMonitorEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The same emulator over HTTPS; its certificate authority is in ``tls_server.ca_file``."""
    with emulator.serve(ca_file=tmp_path_factory.mktemp("tls") / "sandbox-ca.pem") as running:
        yield running
