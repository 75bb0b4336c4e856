"""Both emulators keep a client's connection open between calls, over HTTP and HTTPS, as the real APIs do:
GETs and POSTs with bodies follow each other on one socket, and the server sees one client port."""

import base64
import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from cmsync_sandbox.salesforce import SalesforceEmulator
from cmsync_sandbox.server import SandboxServer

from .conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


def connect(server: SandboxServer) -> http.client.HTTPConnection:
    host, port = server.url.split("://", 1)[1].split(":")
    if server.ca_file is None:
        return http.client.HTTPConnection(host, int(port), timeout=5)
    context = ssl.create_default_context(cafile=str(server.ca_file))
    return http.client.HTTPSConnection(host, int(port), timeout=5, context=context)


class OneConnection:
    """Sends every call on one ``http.client`` connection and notes which local port each went from."""

    def __init__(self, server: SandboxServer) -> None:
        self.connection = connect(server)
        self.ports: list[int] = []

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
        self.connection.request(method, path, body=body, headers=headers or {})
        assert self.connection.sock is not None
        self.ports.append(self.connection.sock.getsockname()[1])
        response = self.connection.getresponse()
        content = response.read()
        assert response.status < 300, content
        assert (response.getheader("Connection") or "").lower() != "close"
        return content


@pytest.fixture(scope="module", params=["http", "https"])
def servers(request, tmp_path_factory) -> Iterator[tuple[SandboxServer, SandboxServer]]:
    ca_file: Path | None = None
    if request.param == "https":
        ca_file = tmp_path_factory.mktemp("keep-alive") / "sandbox-ca.pem"
    salesforce = SalesforceEmulator(bulk_step_seconds=0.01)
    campaign_monitor = CampaignMonitorEmulator(size=None)
    campaign_monitor.seed("small", seed=3)
    with salesforce.serve(ca_file=ca_file) as sf_server, campaign_monitor.serve(ca_file=ca_file) as cm_server:
        yield sf_server, cm_server
    salesforce.close()


def test_salesforce_calls_share_one_connection(servers):
    sf_server, _ = servers
    client = OneConnection(sf_server)
    form = f"grant_type=refresh_token&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&refresh_token={REFRESH_TOKEN}"
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    token = json.loads(client.call("POST", "/services/oauth2/token", form.encode(), form_type))["access_token"]
    signed_in = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for number, name in enumerate(("Ōtani", "O'Brien", "田中")):
        body = json.dumps({"LastName": name, "Email": f"o'contact{number}@example.com"}).encode()
        client.call("POST", "/services/data/v61.0/sobjects/Contact", body, signed_in)
    found = json.loads(client.call("GET", "/services/data/v61.0/query?q=SELECT+LastName+FROM+Contact", None, signed_in))
    assert sorted(record["LastName"] for record in found["records"]) == sorted(("Ōtani", "O'Brien", "田中"))
    client.connection.close()
    assert len(client.ports) == 5 and len(set(client.ports)) == 1


def test_campaign_monitor_calls_share_one_connection(servers):
    _, cm_server = servers
    client = OneConnection(cm_server)
    key = base64.b64encode(f"{DEFAULT_API_KEY}:x".encode()).decode()
    signed_in = {"Authorization": f"Basic {key}", "Content-Type": "application/json"}
    lists = json.loads(client.call("GET", f"/api/v3.3/clients/{SANDBOX_CLIENT_ID}/lists.json", None, signed_in))
    list_id = lists[0]["ListID"]
    for email in ("josé@example.com", "o'neil@example.com"):
        body = json.dumps({"EmailAddress": email, "Name": "Keep Alive", "ConsentToTrack": "Yes"}).encode()
        client.call("POST", f"/api/v3.3/subscribers/{list_id}.json", body, signed_in)
    client.call("GET", f"/api/v3.3/subscribers/{list_id}.json?email=o'neil@example.com", None, signed_in)
    client.connection.close()
    assert len(client.ports) == 4 and len(set(client.ports)) == 1
