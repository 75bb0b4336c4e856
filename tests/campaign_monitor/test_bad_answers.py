"""Bad answers and bad records, set up over HTTP through ``/_sandbox/faults``: a bad answer (an HTML page,
a cut-off or XML body, a body that stalls) is retried like a 5xx and then raised naming the call; a
record that breaks the documented shape is handed back alone with the field and value, and the rest of
its page is read."""

from datetime import datetime
from typing import Any

import pytest
import requests

from cmsync.clients.campaign_monitor import (
    ApiKey,
    BadResponseError,
    CampaignMonitorClient,
    RetryPolicy,
    SubscriberState,
    UnreadableRecordError,
)
from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from cmsync_sandbox.server import SandboxServer
from tests.campaign_monitor.conftest import FAST_RETRY, new_list

SUBSCRIBERS = "GET /lists/{listid}/active"


def set_faults(server: SandboxServer, faults: dict[str, Any]) -> None:
    answer = requests.post(f"{server.url}/_sandbox/faults", json=faults, timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("kind", ["html", "truncated_json", "wrong_content_type"])
def test_a_bad_answer_is_retried_and_loses_nothing(
    cm: CampaignMonitorEmulator, server: SandboxServer, client: CampaignMonitorClient, kind: str
) -> None:
    mailing_list = new_list(cm, 2500)
    set_faults(server, {"bad_responses": {"kind": kind, "calls": 2, "endpoint": SUBSCRIBERS}})
    emails = [subscriber.email for subscriber in client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE)]
    assert sorted(emails) == sorted(member.email for member in mailing_list.members.values())
    assert client.counts.snapshot()["list_subscribers"] == {"bad_response": 2, "ok": 3}


def test_a_body_that_stalls_past_the_read_timeout_is_retried(
    cm: CampaignMonitorEmulator, server: SandboxServer, api_url: str
) -> None:
    mailing_list = new_list(cm, 1200)
    set_faults(server, {"bad_responses": {"kind": "slow_body", "calls": 1, "endpoint": SUBSCRIBERS, "stall": 3.0}})
    with CampaignMonitorClient(api_url, ApiKey(DEFAULT_API_KEY), timeout=1.0, retry=FAST_RETRY) as client:
        read = list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE))
        assert client.counts.snapshot()["list_subscribers"] == {"connection_error": 1, "ok": 2}
    assert len(read) == 1200


def test_a_bad_answer_on_every_attempt_raises_naming_the_call(
    cm: CampaignMonitorEmulator, server: SandboxServer, client: CampaignMonitorClient
) -> None:
    set_faults(server, {"bad_responses": {"kind": "html", "calls": 50, "endpoint": "GET /clients/{clientid}"}})
    with pytest.raises(BadResponseError) as raised:
        client.client_details(SANDBOX_CLIENT_ID)
    message = str(raised.value)
    assert message.startswith(f"Campaign Monitor client_details: HTTP 200: GET /clients/{SANDBOX_CLIENT_ID}.json")
    assert "not JSON (text/html" in message and DEFAULT_API_KEY not in message
    assert client.counts.snapshot()["client_details"] == {"bad_response": FAST_RETRY.attempts}


def test_a_truncated_answer_on_every_attempt_raises(
    cm: CampaignMonitorEmulator, server: SandboxServer, api_url: str
) -> None:
    mailing_list = new_list(cm, 10)
    set_faults(server, {"bad_responses": {"kind": "truncated_json", "calls": 50, "endpoint": SUBSCRIBERS}})
    retry = RetryPolicy(attempts=2, base_delay=0.01)
    with (
        CampaignMonitorClient(api_url, ApiKey(DEFAULT_API_KEY), retry=retry) as client,
        pytest.raises(BadResponseError, match=r"list_subscribers: HTTP 200: .*not JSON"),
    ):
        list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE))


BAD_RECORDS = {
    0: ({"set": {"Date": "2024-02-30 10:00:00"}}, "Date is not a valid date: '2024-02-30 10:00:00'"),
    1: ({"set": {"Name": 12345}}, "Name is not text: 12345"),
    2: ({"set": {"CustomFields": "Colour=Teal"}}, "CustomFields is not a list of objects: 'Colour=Teal'"),
    3: ({"remove": ["EmailAddress"]}, "subscriber without an EmailAddress: EmailAddress is missing or not text"),
}


def test_bad_records_are_handed_back_alone_and_the_page_goes_on(
    cm: CampaignMonitorEmulator, server: SandboxServer, client: CampaignMonitorClient
) -> None:
    mailing_list = new_list(cm, 1500)
    members = sorted(mailing_list.members.values(), key=lambda member: member.email)
    spoilt = {members[index * 400].email: fault for index, fault in BAD_RECORDS.items()}
    set_faults(server, {"corrupt_records": {email: patch for email, (patch, _reason) in spoilt.items()}})
    unreadable: list[UnreadableRecordError] = []
    read = list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE, unreadable=unreadable.append))
    assert sorted(subscriber.email for subscriber in read) == sorted(m.email for m in members if m.email not in spoilt)
    assert len(unreadable) == len(BAD_RECORDS)
    for error in unreadable:
        if error.email is not None:
            assert str(error) == f"subscriber {error.email!r}: {spoilt[error.email][1]}"
        else:
            assert str(error).startswith(BAD_RECORDS[3][1])


def test_records_of_the_rarer_documented_forms_are_read(
    cm: CampaignMonitorEmulator, server: SandboxServer, client: CampaignMonitorClient
) -> None:
    mailing_list = new_list(cm, 4)
    first, second, third, fourth = sorted(mailing_list.members.values(), key=lambda member: member.email)
    changed = "2026-03-04 05:06:07"
    patches = {
        first.email: {"remove": ["Date"], "set": {"StateChangedDate": changed}},
        second.email: {"set": {"CustomFields": [{"Key": "Age", "Value": 42}, {"Key": "Note", "Value": None}]}},
        third.email: {"set": {"Name": None, "ListJoinedDate": "", "ConsentToTrack": None}},
    }
    set_faults(server, {"corrupt_records": patches})
    read = {
        subscriber.email: subscriber for subscriber in client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE)
    }
    assert set(read) == {first.email, second.email, third.email, fourth.email}
    assert read[first.email].date == datetime(2026, 3, 4, 5, 6, 7)
    assert [(field.key, field.value) for field in read[second.email].custom_fields] == [("Age", "42"), ("Note", "")]
    assert (read[third.email].name, read[third.email].joined, read[third.email].consent_to_track) == ("", None, None)


def test_without_a_taker_a_bad_record_raises(
    cm: CampaignMonitorEmulator, server: SandboxServer, client: CampaignMonitorClient
) -> None:
    mailing_list = new_list(cm, 5)
    victim = next(iter(mailing_list.members.values())).email
    set_faults(server, {"corrupt_records": {victim: {"set": {"State": "Sleeping"}}}})
    with pytest.raises(UnreadableRecordError, match="State is not a subscriber state: 'Sleeping'"):
        list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE))


def test_the_faults_read_back_and_clear(cm: CampaignMonitorEmulator, server: SandboxServer) -> None:
    set_faults(server, {"bad_responses": {"kind": "html", "calls": 3, "endpoint": "GET /clients"}})
    shown = requests.get(f"{server.url}/_sandbox/faults", timeout=10).json()
    assert shown["bad_responses"] == {"kind": "html", "calls": 3, "endpoint": "GET /clients", "stall": 2.0}
    answer = requests.get(f"{cm.api_url(server)}/clients.json", auth=(DEFAULT_API_KEY, "x"), timeout=10)
    assert (answer.status_code, answer.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    refused = requests.post(f"{server.url}/_sandbox/faults", json={"bad_responses": {"kind": "gibberish"}}, timeout=10)
    assert refused.status_code == 400 and "kind is one of html" in refused.json()["error"]
    requests.delete(f"{server.url}/_sandbox/faults", timeout=10)
    assert requests.get(f"{server.url}/_sandbox/faults", timeout=10).json()["bad_responses"] is None
