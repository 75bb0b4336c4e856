"""``cmsync sandbox`` starts both emulators; the Salesforce one prints how to sign in and its Contacts and
Leads overlap the people of the Campaign Monitor seed."""

import signal
import subprocess
import sys

import requests

from cmsync.clients.salesforce import RefreshTokenAuth, SalesforceClient
from tests.conftest import REPOSITORY
from tests.salesforce.conftest import FAST_RETRY


def _sections(lines: list[str]) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in lines:
        if line.startswith("  "):
            key, value = line.strip().split(None, 1)
            current[key] = value
        elif line.strip() and not line.startswith(("Serving", "TLS")):
            current = sections.setdefault(line.strip(), {})
    return sections


def test_cmsync_sandbox_starts_salesforce_next_to_campaign_monitor(tmp_path):
    ca_file = tmp_path / "ca.pem"
    command = [sys.executable, "-m", "cmsync", "sandbox", "--size", "small", "--seed", "3"]
    command += ["--port", "0", "--sf-port", "0", "--tls", str(ca_file)]
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    printed: list[str] = []
    try:
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Serving"):
                break
        sections = _sections(printed)
        salesforce, campaign_monitor = (
            sections["Salesforce REST and Bulk API 2.0"],
            sections["Campaign Monitor API v3.3"],
        )
        login_url = salesforce["login_url"]
        assert login_url.startswith("https://127.0.0.1:")
        assert "client_secret sandbox-client-secret" in salesforce["oauth"]
        auth = RefreshTokenAuth(login_url, "sandbox-client-id", "sandbox-client-secret", "sandbox-refresh-token")
        client = SalesforceClient(login_url, auth, ca_file=ca_file, retry=FAST_RETRY)
        assert client.user_id in salesforce["user"]
        salesforce_emails = {
            row["Email"].lower() for row in client.query("SELECT Email FROM Contact WHERE Email != null")
        }
        salesforce_emails |= {
            row["Email"].lower() for row in client.query("SELECT Email FROM Lead WHERE Email != null")
        }
        base_url, key = campaign_monitor["base_url"], (campaign_monitor["api_key"], "x")
        cm_emails: set[str] = set()
        for mailing_list in requests.get(
            f"{base_url}/clients/{campaign_monitor['client']}/lists.json", auth=key, verify=ca_file, timeout=10
        ).json():
            page = requests.get(
                f"{base_url}/lists/{mailing_list['ListID']}/active.json", auth=key, verify=ca_file, timeout=10
            )
            cm_emails |= {subscriber["EmailAddress"].lower() for subscriber in page.json()["Results"]}
        shared = cm_emails & salesforce_emails
        assert 0.3 < len(shared) / len(cm_emails) < 0.9
        assert any(email.startswith("sf-only.") for email in salesforce_emails - cm_emails)
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Sandbox stopped." in rest
