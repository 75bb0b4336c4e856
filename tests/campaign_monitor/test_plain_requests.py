"""The emulator on its own, driven by plain ``requests`` calls written from the API reference (not through
cmsync's client): field names, the paging envelope, the date format, parameter case, statuses and errors."""

import re
from typing import Any

import pytest
import requests

from cmsync_sandbox.campaign_monitor import (
    DEFAULT_API_KEY,
    OAUTH_REFRESH_TOKEN,
    SANDBOX_CLIENT_ID,
    CampaignMonitorEmulator,
)

AUTH = (DEFAULT_API_KEY, "x")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
ENVELOPE = {
    "Results",
    "ResultsOrderedBy",
    "OrderDirection",
    "PageNumber",
    "PageSize",
    "RecordsOnThisPage",
    "TotalNumberOfRecords",
    "NumberOfPages",
}
SUBSCRIBER = {"EmailAddress", "Name", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith"}
GEO = {"IPAddress", "Latitude", "Longitude", "City", "Region", "CountryCode", "CountryName"}
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


def get(api_url: str, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{api_url}{path}", params=params, auth=AUTH, timeout=10)


def send(api_url: str, method: str, path: str, body: Any, **params: Any) -> requests.Response:
    return requests.request(method, f"{api_url}{path}", params=params, json=body, auth=AUTH, timeout=10)


def _ids(cm: CampaignMonitorEmulator) -> tuple[str, str]:
    client = cm.state.clients[SANDBOX_CLIENT_ID]
    return client.lists[0].list_id, max(client.campaigns, key=lambda each: len(each.events["clicks"])).campaign_id


def test_account_client_and_list_shapes(api_url: str, cm: CampaignMonitorEmulator) -> None:
    clients = get(api_url, "/clients.json").json()
    assert all(set(item) == {"ClientID", "Name"} for item in clients)
    details = get(api_url, f"/clients/{SANDBOX_CLIENT_ID}.json").json()
    assert set(details) == {"ApiKey", "AccessDetails", "BasicDetails", "BillingDetails"}
    assert set(details["BasicDetails"]) == {
        "ClientID",
        "CompanyName",
        "ContactName",
        "EmailAddress",
        "Country",
        "TimeZone",
    }
    lists = get(api_url, f"/clients/{SANDBOX_CLIENT_ID}/lists.json").json()
    assert all(set(item) == {"ListID", "Name"} for item in lists)
    list_details = get(api_url, f"/lists/{lists[0]['ListID']}.json").json()
    assert set(list_details) == {
        "ListID",
        "Title",
        "UnsubscribePage",
        "UnsubscribeSetting",
        "ConfirmedOptIn",
        "ConfirmationSuccessPage",
    }
    fields = get(api_url, f"/lists/{lists[0]['ListID']}/customfields.json").json()
    assert set(fields[0]) == {"FieldName", "Key", "DataType", "FieldOptions", "VisibleInPreferenceCenter"}
    created = send(
        api_url,
        "POST",
        f"/lists/{lists[0]['ListID']}/customfields.json",
        {"FieldName": "new date field", "DataType": "Date", "Options": []},
    )
    assert (created.status_code, created.json()) == (201, "[newdatefield]")


def test_subscriber_pages_and_records(api_url: str, cm: CampaignMonitorEmulator) -> None:
    list_id, _ = _ids(cm)
    page = get(
        api_url, f"/lists/{list_id}/active.json", page=1, pagesize=10, orderfield="email", orderdirection="asc"
    ).json()
    assert set(page) == ENVELOPE
    assert (page["ResultsOrderedBy"], page["OrderDirection"], page["PageNumber"], page["PageSize"]) == (
        "email",
        "asc",
        1,
        10,
    )
    assert page["RecordsOnThisPage"] == len(page["Results"]) == 10
    assert page["NumberOfPages"] == -(-page["TotalNumberOfRecords"] // 10)
    record = page["Results"][0]
    assert set(record) == SUBSCRIBER
    assert DATE.match(record["Date"]) and DATE.match(record["ListJoinedDate"])
    assert all(set(field) == {"Key", "Value"} and not field["Key"].startswith("[") for field in record["CustomFields"])
    with_consent = get(api_url, f"/lists/{list_id}/active.json", includetrackingpreference="true").json()
    assert set(with_consent["Results"][0]) == SUBSCRIBER | {"ConsentToTrack"}
    one = get(api_url, f"/subscribers/{list_id}.json", email=record["EmailAddress"]).json()
    assert set(one) == SUBSCRIBER and one["EmailAddress"] == record["EmailAddress"]


def test_query_parameter_names_and_values_in_any_case(api_url: str, cm: CampaignMonitorEmulator) -> None:
    list_id, _ = _ids(cm)
    lower = get(
        api_url, f"/lists/{list_id}/active.json", page=2, pagesize=10, orderfield="email", orderdirection="desc"
    )
    mixed = get(
        api_url, f"/lists/{list_id}/active.json", Page=2, pageSize=10, orderField="EMAIL", orderDirection="DESC"
    )
    assert lower.json() == mixed.json()
    empty_date = get(api_url, f"/lists/{list_id}/active.json", date="")
    assert empty_date.json()["TotalNumberOfRecords"] == lower.json()["TotalNumberOfRecords"]


def test_empty_pages(api_url: str, cm: CampaignMonitorEmulator) -> None:
    list_id, _ = _ids(cm)
    empty = get(api_url, f"/lists/{list_id}/active.json", date="2999-01-01").json()
    assert (empty["Results"], empty["TotalNumberOfRecords"], empty["NumberOfPages"], empty["RecordsOnThisPage"]) == (
        [],
        0,
        0,
        0,
    )
    beyond = get(api_url, f"/lists/{list_id}/active.json", page=99).json()
    assert beyond["Results"] == [] and beyond["PageNumber"] == 99


def test_subscriber_writes(api_url: str, cm: CampaignMonitorEmulator) -> None:
    list_id, _ = _ids(cm)
    body = {
        "EmailAddress": "plain@example.com",
        "Name": "Plain Requests",
        "CustomFields": [{"Key": "website", "Value": "http://example.com"}, {"Key": "[City]", "Value": "Dublin"}],
        "Resubscribe": True,
        "ConsentToTrack": "Yes",
        "RestartSubscriptionBasedAutoresponders": False,
    }
    added = send(api_url, "POST", f"/subscribers/{list_id}.json", body)
    assert (added.status_code, added.json()) == (201, "plain@example.com")
    updated = send(
        api_url,
        "PUT",
        f"/subscribers/{list_id}.json",
        {**body, "EmailAddress": "plain2@example.com"},
        email="plain@example.com",
    )
    assert updated.status_code == 200
    assert (
        send(
            api_url, "POST", f"/subscribers/{list_id}/unsubscribe.json", {"EmailAddress": "plain2@example.com"}
        ).status_code
        == 200
    )
    assert (
        requests.delete(
            f"{api_url}/subscribers/{list_id}.json", params={"email": "plain2@example.com"}, auth=AUTH, timeout=10
        ).status_code
        == 200
    )
    record = get(api_url, f"/subscribers/{list_id}.json", email="plain2@example.com").json()
    assert record["State"] == "Deleted" and record["CustomFields"] == [{"Key": "City", "Value": "Dublin"}]
    missing_consent = send(api_url, "POST", f"/subscribers/{list_id}.json", {"EmailAddress": "no.consent@example.com"})
    assert (missing_consent.status_code, missing_consent.json()["Code"]) == (400, 214)
    bad_consent = send(
        api_url, "POST", f"/subscribers/{list_id}.json", {"EmailAddress": "x@example.com", "ConsentToTrack": "maybe"}
    )
    assert bad_consent.json()["Code"] == 215


def test_import_success_and_partial_failure_shapes(api_url: str, cm: CampaignMonitorEmulator) -> None:
    list_id, _ = _ids(cm)
    batch = [{"EmailAddress": f"import{number}@example.com", "Name": f"Import {number}"} for number in range(3)]
    success = send(
        api_url,
        "POST",
        f"/subscribers/{list_id}/import.json",
        {"Subscribers": batch, "Resubscribe": False, "QueueSubscriptionBasedAutoResponders": False},
    )
    assert success.status_code == 201
    assert success.json() == {
        "FailureDetails": [],
        "TotalUniqueEmailsSubmitted": 3,
        "TotalExistingSubscribers": 0,
        "TotalNewSubscribers": 3,
        "DuplicateEmailsInSubmission": [],
    }
    partial = send(
        api_url,
        "POST",
        f"/subscribers/{list_id}/import.json",
        {"Subscribers": [*batch[:2], {"EmailAddress": "example+1@example"}], "Resubscribe": False},
    )
    assert partial.status_code == 400
    assert partial.json() == {
        "ResultData": {
            "FailureDetails": [{"EmailAddress": "example+1@example", "Code": 1, "Message": "Invalid Email Address"}],
            "TotalUniqueEmailsSubmitted": 3,
            "TotalExistingSubscribers": 2,
            "TotalNewSubscribers": 0,
            "DuplicateEmailsInSubmission": [],
        },
        "Code": 210,
        "Message": "Subscriber Import had some failures",
    }


@pytest.mark.parametrize("spelling", ["QueueSubscriptionBasedAutoResponders", "QueueSubscriptionBasedAutoresponders"])
def test_import_body_keys_in_either_spelling(api_url: str, cm: CampaignMonitorEmulator, spelling: str) -> None:
    list_id, _ = _ids(cm)
    send(
        api_url,
        "POST",
        f"/subscribers/{list_id}/import.json",
        {"Subscribers": [{"EmailAddress": "journey@example.com"}], spelling: True},
    )
    assert [trigger.email for trigger in cm.state.triggers] == ["journey@example.com"]


def test_campaign_shapes(api_url: str, cm: CampaignMonitorEmulator) -> None:
    _, campaign_id = _ids(cm)
    campaigns = get(api_url, f"/clients/{SANDBOX_CLIENT_ID}/campaigns.json").json()
    assert set(campaigns) == ENVELOPE and (campaigns["ResultsOrderedBy"], campaigns["OrderDirection"]) == (
        "SentDate",
        "desc",
    )
    assert set(campaigns["Results"][0]) == {
        "WebVersionURL", "WebVersionTextURL", "CampaignID", "Subject", "Name", "FromName", "FromEmail", "ReplyTo",
        "SentDate", "TotalRecipients", "Tags",
    }  # fmt: skip
    summary = get(api_url, f"/campaigns/{campaign_id}/summary.json").json()
    assert {"Recipients", "TotalOpened", "Clicks", "Unsubscribed", "Bounced", "UniqueOpened", "SpamComplaints",
            "Mentions", "Forwards", "Likes", "WebVersionURL", "WorldviewURL"} <= set(summary)  # fmt: skip
    expected = {
        "recipients": {"EmailAddress", "ListID"},
        "opens": {"EmailAddress", "ListID", "Date"} | GEO,
        "clicks": {"EmailAddress", "ListID", "Date", "URL"} | GEO,
    }
    for kind, keys in expected.items():
        page = get(api_url, f"/campaigns/{campaign_id}/{kind}.json").json()
        assert set(page) == ENVELOPE and set(page["Results"][0]) == keys
        assert page["ResultsOrderedBy"] == ("email" if kind == "recipients" else "date")
    recipients = [event.email for event in cm.state.campaigns[campaign_id].events["recipients"].events]
    for kind, email in zip(("unsubscribes", "spam", "bounces"), recipients[-3:], strict=True):
        cm.state.record_event(campaign_id, kind, email)
    for kind, keys in {
        "unsubscribes": {"EmailAddress", "ListID", "Date", "IPAddress"},
        "spam": {"EmailAddress", "ListID", "Date"},
        "bounces": {"EmailAddress", "ListID", "BounceType", "Date", "Reason"},
    }.items():
        records = get(api_url, f"/campaigns/{campaign_id}/{kind}.json").json()["Results"]
        assert records and all(set(record) == keys for record in records)


def test_journey_shapes(api_url: str, cm: CampaignMonitorEmulator) -> None:
    journeys = get(api_url, f"/clients/{SANDBOX_CLIENT_ID}/journeys.json").json()
    assert set(journeys[0]) == {"ListID", "JourneyID", "Name", "Status"}
    details = get(api_url, f"/journeys/{journeys[0]['JourneyID']}.json").json()
    assert set(details) == {"JourneyID", "Name", "TriggerType", "Status", "Emails"}
    email = details["Emails"][1]
    assert set(email) == {"EmailID", "Name", "Bounced", "Clicked", "Opened", "Sent", "UniqueOpened", "Unsubscribed"}
    recipients = get(api_url, f"/journeys/email/{email['EmailID']}/recipients.json", orderdirection="desc").json()
    assert (recipients["ResultsOrderedBy"], recipients["OrderDirection"]) == ("SentDate", "DESC")
    assert set(recipients["Results"][0]) == {"EmailAddress", "SentDate"}
    opens = get(api_url, f"/journeys/email/{email['EmailID']}/opens.json").json()
    assert (opens["ResultsOrderedBy"], opens["OrderDirection"]) == ("Date", "ASC")
    assert set(opens["Results"][0]) == {"EmailAddress", "Date"} | GEO
    assert get(api_url, f"/journeys/email/{email['EmailID']}/spam.json").status_code == 404


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        (f"/clients/{UNKNOWN_ID}.json", 401, 102, "Invalid ClientID"),
        (f"/lists/{UNKNOWN_ID}.json", 400, 101, "Invalid ListID"),
        (f"/campaigns/{UNKNOWN_ID}/summary.json", 400, 301, "Invalid CampaignID"),
        (f"/journeys/{UNKNOWN_ID}.json", 400, 3000, "Invalid Journey ID"),
        (f"/journeys/email/{UNKNOWN_ID}/opens.json", 400, 3002, "Invalid Journey Email ID"),
    ],
)
def test_error_bodies(
    api_url: str, cm: CampaignMonitorEmulator, path: str, status: int, code: int, message: str
) -> None:
    answer = get(api_url, path)
    assert (answer.status_code, answer.json()) == (status, {"Code": code, "Message": message})


def test_authentication(api_url: str, cm: CampaignMonitorEmulator) -> None:
    no_auth = requests.get(f"{api_url}/clients.json", timeout=10)
    assert (no_auth.status_code, no_auth.json()["Code"]) == (401, 50)
    wrong = requests.get(f"{api_url}/clients.json", auth=("wrong", "x"), timeout=10)
    assert (wrong.status_code, wrong.json()) == (401, {"Code": 100, "Message": "Invalid API Key"})
    origin = api_url.removesuffix("/api/v3.3")
    token = requests.post(
        f"{origin}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": OAUTH_REFRESH_TOKEN}, timeout=10
    )
    assert set(token.json()) == {"access_token", "expires_in", "refresh_token"}
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert requests.get(f"{api_url}/clients.json", headers=bearer, timeout=10).status_code == 200
    cm.tokens.expire_all()
    expired = requests.get(f"{api_url}/clients.json", headers=bearer, timeout=10)
    assert (expired.status_code, expired.json()) == (401, {"Code": 121, "Message": "Expired OAuth Token"})
    unknown = requests.get(f"{api_url}/clients.json", headers={"Authorization": "Bearer nonsense"}, timeout=10)
    assert (unknown.status_code, unknown.json()["Code"]) == (401, 120)
    refused = requests.post(
        f"{origin}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "nope"}, timeout=10
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_rate_limit_headers_and_body(api_url: str, cm: CampaignMonitorEmulator) -> None:
    cm.faults.rate_limit(every=1, limit=60, reset=348)
    limited = get(api_url, "/clients.json")
    assert limited.status_code == 429
    assert limited.json() == {"Code": 429, "Message": "Rate limit exceeded"}
    assert {
        name: limited.headers[name] for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    } == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "348",
    }
    assert "Retry-After" not in limited.headers
