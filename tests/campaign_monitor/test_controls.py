"""The emulator's test controls under ``/_sandbox/``, driven over HTTP as a demo script or another process would."""

from typing import Any

import requests

from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from cmsync_sandbox.server import SandboxServer

AUTH = (DEFAULT_API_KEY, "x")


def control(server: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{server.url}/_sandbox/{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_reset_and_seed_by_size_or_counts_repeatably(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    control(server, "POST", "reset")
    assert control(server, "GET", "summary") == {
        "clients": 0,
        "lists": 0,
        "subscribers": 0,
        "campaigns": 0,
        "journeys": 0,
    }
    seeded = control(server, "POST", "seed", {"size": "small", "seed": 5})
    assert seeded == {"clients": 2, "lists": 4, "subscribers": 160, "campaigns": 4, "journeys": 2}
    first = requests.get(f"{cm.api_url(server)}/clients.json", auth=AUTH, timeout=10).json()
    control(server, "POST", "seed", {"size": "small", "seed": 5})
    assert requests.get(f"{cm.api_url(server)}/clients.json", auth=AUTH, timeout=10).json() == first
    control(server, "POST", "seed", {"size": "small", "seed": 6})
    assert requests.get(f"{cm.api_url(server)}/clients.json", auth=AUTH, timeout=10).json()[1] != first[1]
    counts = {"clients": 1, "lists_per_client": 1, "subscribers_per_list": 250, "campaigns_per_client": 0}
    assert control(server, "POST", "seed", {**counts, "journeys_per_client": 0})["subscribers"] == 250
    assert [client.client_id for client in cm.state.clients.values()] == [SANDBOX_CLIENT_ID]


def test_unknown_size_is_refused(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    answer = requests.post(f"{server.url}/_sandbox/seed", json={"size": "huge"}, timeout=10)
    assert answer.status_code == 400 and "small, demo, large" in answer.json()["error"]


def test_faults_and_the_call_log(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    url = f"{cm.api_url(server)}/clients.json"
    faults = control(
        server,
        "POST",
        "faults",
        {"rate_limit": {"every": 2, "reset": 0}, "server_errors": {"next_calls": 1, "status": 503}},
    )
    assert faults["rate_limit"]["every"] == 2 and faults["server_errors"]["next_calls"] == 1
    statuses = [requests.get(url, auth=AUTH, timeout=10).status_code for _ in range(4)]
    assert statuses == [503, 429, 200, 429]
    control(server, "DELETE", "faults")
    assert requests.get(url, auth=AUTH, timeout=10).status_code == 200
    log = control(server, "GET", "calls")
    assert log["counts"] == {"GET /clients": 5} and log["total"] == 5
    assert [call["status"] for call in log["calls"]] == [503, 429, 200, 429, 200]
    control(server, "DELETE", "calls")
    assert control(server, "GET", "calls")["total"] == 0


def test_changes_made_in_the_ui_and_by_recipients(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    newsletter = cm.state.clients[SANDBOX_CLIENT_ID].lists[0]
    email = next(iter(newsletter.by_state["Active"].values())).email
    assert (
        control(server, "POST", f"lists/{newsletter.list_id}/state", {"email": email, "state": "Bounced"})["State"]
        == "Bounced"
    )
    record = requests.get(
        f"{cm.api_url(server)}/subscribers/{newsletter.list_id}.json", params={"email": email}, auth=AUTH, timeout=10
    )
    assert record.json()["State"] == "Bounced"
    sent = control(server, "POST", "campaigns", {"client_id": SANDBOX_CLIENT_ID, "list_ids": [newsletter.list_id]})
    assert sent["Recipients"] == len(newsletter.by_state["Active"])
    reader = next(iter(newsletter.by_state["Active"].values())).email
    control(server, "POST", "events", {"source_id": sent["CampaignID"], "kind": "opens", "email": reader})
    opens = requests.get(
        f"{cm.api_url(server)}/campaigns/{sent['CampaignID']}/opens.json", auth=AUTH, timeout=10
    ).json()
    assert [item["EmailAddress"] for item in opens["Results"]] == [reader]


def test_tokens_clock_and_triggered_journeys(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    journey = cm.state.clients[SANDBOX_CLIENT_ID].journeys[0]
    body = {"EmailAddress": "trigger@example.com", "Name": "Trigger", "ConsentToTrack": "Yes"}
    requests.post(f"{cm.api_url(server)}/subscribers/{journey.list_id}.json", json=body, auth=AUTH, timeout=10)
    triggered = control(server, "GET", "journeys/triggered")
    assert [(item["journey_id"], item["email"], item["cause"]) for item in triggered] == [
        (journey.journey_id, "trigger@example.com", "add")
    ]
    before = cm.clock.now()
    control(server, "POST", "clock", {"advance": 3600})
    assert cm.clock.now() - before >= 3600
    origin = server.url
    token = requests.post(
        f"{origin}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "sandbox-cm-refresh-token"},
        timeout=10,
    ).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    control(server, "POST", "tokens/expire")
    assert requests.get(f"{cm.api_url(server)}/clients.json", headers=bearer, timeout=10).json()["Code"] == 121


def test_controls_live_outside_the_api(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    assert requests.post(f"{cm.api_url(server)}/_sandbox/reset", auth=AUTH, timeout=10).status_code == 404
    assert cm.state.summary()["clients"] == 2
