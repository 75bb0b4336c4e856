"""HTTPS: the emulator writes its certificate authority to a file, and clients that trust that file connect."""

import json
import subprocess

import pytest
import requests

from cmsync.clients.campaign_monitor import ApiKey, CampaignMonitorClient, ConnectionFailedError, RetryPolicy
from cmsync.config import parse_settings
from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from cmsync_sandbox.server import SandboxServer
from tests.campaign_monitor.conftest import FAST_RETRY


def test_the_client_trusts_the_written_ca(cm: CampaignMonitorEmulator, tls_server: SandboxServer) -> None:
    assert tls_server.url.startswith("https://") and tls_server.ca_file is not None
    api_url = cm.api_url(tls_server)
    with CampaignMonitorClient(
        api_url, ApiKey(DEFAULT_API_KEY), ca_file=tls_server.ca_file, retry=FAST_RETRY
    ) as client:
        assert client.client_details(SANDBOX_CLIENT_ID).company_name == "Harbour Outfitters"
    with (
        CampaignMonitorClient(api_url, ApiKey(DEFAULT_API_KEY), retry=RetryPolicy(attempts=1)) as untrusting,
        pytest.raises(ConnectionFailedError, match="SSLError"),
    ):
        untrusting.clients()


def test_a_client_built_from_settings_uses_the_ca_file(cm: CampaignMonitorEmulator, tls_server: SandboxServer) -> None:
    settings = parse_settings(
        json.dumps(
            {
                "campaign_monitor": {
                    "base_url": cm.api_url(tls_server),
                    "auth": {"api_key": DEFAULT_API_KEY},
                    "clients": [SANDBOX_CLIENT_ID],
                    "ca_file": str(tls_server.ca_file),
                    "timeout": "5s",
                },
                "salesforce": {"auth": {"client_id": "id", "client_secret": "secret", "refresh_token": "token"}},
            }
        )
    )
    with CampaignMonitorClient.from_settings(settings.campaign_monitor, retry=FAST_RETRY) as client:
        assert client.clients()[0].client_id == SANDBOX_CLIENT_ID


def test_requests_and_curl_trust_the_written_ca(cm: CampaignMonitorEmulator, tls_server: SandboxServer) -> None:
    url = f"{cm.api_url(tls_server)}/clients.json"
    answer = requests.get(url, auth=(DEFAULT_API_KEY, "x"), verify=str(tls_server.ca_file), timeout=5)
    assert answer.status_code == 200 and answer.json()[0]["ClientID"] == SANDBOX_CLIENT_ID
    curl = subprocess.run(
        ["curl", "--silent", "--show-error", "--cacert", str(tls_server.ca_file), "-u", f"{DEFAULT_API_KEY}:x", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert SANDBOX_CLIENT_ID in curl.stdout
