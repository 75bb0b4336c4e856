"""Injected faults and how the client lives with them: row locks and 503s retried, a spent daily
allowance reported distinctly, API usage exposed; plus the control API's faults, reset and call log."""

import pytest
import requests
from prometheus_client import REGISTRY

from cmsync.clients.salesforce import SalesforceLimitError, SalesforceUnavailableError
from tests.salesforce.conftest import make_client


def _metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _clients(number: int) -> list[dict]:
    return [{"CM_Client_ID__c": f"{n:032x}", "Name": f"Client {n}"} for n in range(number)]


def test_locked_rows_are_written_again(client, emulator):
    before = _metric("cmsync_api_retries_total", system="salesforce", reason="lock")
    emulator.faults.update({"lock_next": 3})
    results = client.upsert("CM_Client__c", "CM_Client_ID__c", _clients(10))
    assert all(result.success for result in results)
    assert len(emulator.records("CM_Client__c")) == 10
    assert _metric("cmsync_api_retries_total", system="salesforce", reason="lock") == before + 1


def test_locks_in_a_bulk_job_are_written_again(server, emulator):
    bulk = make_client(server.url, bulk_threshold=5)
    emulator.faults.update({"lock_next": 4})
    results = bulk.upsert("CM_Client__c", "CM_Client_ID__c", _clients(12))
    assert all(result.success for result in results)
    assert emulator.calls.counts()["POST /jobs/ingest"] == 1
    assert emulator.calls.counts()["PATCH /composite/sobjects/{object}/{field}"] == 1


def test_a_lock_that_never_clears_is_reported_per_record(client, emulator):
    emulator.faults.update({"lock_rate": 1.0})
    results = client.upsert("CM_Client__c", "CM_Client_ID__c", _clients(2))
    assert [result.locked for result in results] == [True, True]
    assert results[0].errors[0].message.startswith("unable to obtain exclusive access")


def test_all_or_none_batches_with_a_lock_are_retried_whole(client, emulator):
    emulator.faults.update({"lock_next": 1})
    results = client.upsert("CM_Client__c", "CM_Client_ID__c", _clients(3), all_or_none=True)
    assert all(result.success for result in results)


def test_server_unavailable_is_retried(client, emulator):
    assert client.user_id
    emulator.faults.update({"unavailable_next": 2})
    assert client.count("SELECT COUNT() FROM Account") == 0
    assert [call.status for call in emulator.calls.calls() if call.endpoint == "GET /query"] == [503, 503, 200]
    emulator.faults.update({"unavailable_rate": 1.0})
    with pytest.raises(SalesforceUnavailableError) as failed:
        client.count("SELECT COUNT() FROM Account")
    assert failed.value.status == 503


def test_inserts_are_resent_after_a_503_because_nothing_was_written(client, emulator):
    emulator.faults.update({"unavailable_next": 1})
    results = client.insert("Account", [{"Name": "Once"}])
    assert results[0].success
    assert [record["Name"] for record in emulator.records("Account")] == ["Once"]


def test_a_spent_daily_allowance_is_403_and_reported_distinctly(client, emulator, server, token):
    emulator.faults.update({"daily_api_limit": 3})
    client.count("SELECT COUNT() FROM Account")
    assert (client.api_usage.used, client.api_usage.limit, client.api_usage.remaining) == (1, 3, 2)
    assert _metric("cmsync_salesforce_api_requests", kind="limit") == 3
    client.count("SELECT COUNT() FROM Account")
    client.count("SELECT COUNT() FROM Account")
    refused = requests.get(
        f"{server.url}/services/data/v61.0/limits", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    before = _metric("cmsync_api_retries_total", system="salesforce", reason="rate_limited")
    with pytest.raises(SalesforceLimitError) as limited:
        client.count("SELECT COUNT() FROM Account")
    assert limited.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert _metric("cmsync_api_retries_total", system="salesforce", reason="rate_limited") == before + 1
    assert _metric("cmsync_salesforce_api_requests", kind="used") == 3


def test_every_api_response_carries_sforce_limit_info(server, token):
    headers = {"Authorization": f"Bearer {token}"}
    ok = requests.get(
        f"{server.url}/services/data/v61.0/query", params={"q": "SELECT Id FROM User"}, headers=headers, timeout=10
    )
    bad = requests.get(f"{server.url}/services/data/v61.0/query", params={"q": "SELECT"}, headers=headers, timeout=10)
    assert ok.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert bad.status_code == 400 and bad.headers["Sforce-Limit-Info"] == "api-usage=2/100000"


def test_faults_reset_and_call_log_through_the_control_api(server, emulator, token):
    control = f"{server.url}/_sandbox"
    changed = requests.patch(
        f"{control}/faults", json={"lock_rate": 0.5, "latency": 0.01, "daily_api_limit": 50}, timeout=10
    ).json()
    assert (changed["lock_rate"], changed["latency"], changed["daily_api_limit"]) == (0.5, 0.01, 50)
    assert requests.patch(f"{control}/faults", json={"lokc_rate": 1}, timeout=10).status_code == 400
    headers = {"Authorization": f"Bearer {token}"}
    requests.get(f"{server.url}/services/data/v61.0/limits", headers=headers, timeout=10)
    requests.post(
        f"{server.url}/services/data/v61.0/jobs/ingest",
        json={"object": "Account", "operation": "insert"},
        headers=headers,
        timeout=10,
    )
    log = requests.get(f"{control}/calls", timeout=10).json()
    assert log["counts"] == {"POST /services/oauth2/token": 1, "GET /limits": 1, "POST /jobs/ingest": 1}
    assert log["class_counts"] == {"auth": 1, "rest": 1, "bulk": 1}
    assert requests.post(f"{control}/faults", json={"expire_tokens": True}, timeout=10).status_code == 200
    assert requests.get(f"{server.url}/services/data/v61.0/limits", headers=headers, timeout=10).status_code == 401
    assert requests.post(f"{control}/reset", timeout=10).status_code == 204
    assert requests.get(f"{control}/faults", timeout=10).json()["lock_rate"] == 0
    assert requests.get(f"{control}/calls", timeout=10).json()["total"] == 0


def test_direct_record_reads_and_writes_through_the_control_api(server, emulator):
    control = f"{server.url}/_sandbox/records"
    created = requests.post(f"{control}/Contact", json={"LastName": "Direct", "Email": "d@example.com"}, timeout=10)
    assert created.status_code == 201
    record_id = created.json()["id"]
    assert requests.patch(f"{control}/Contact/{record_id}", json={"Title": "CTO"}, timeout=10).status_code == 204
    record = requests.get(f"{control}/Contact/{record_id}", timeout=10).json()
    assert (record["Title"], record["LastModifiedById"]) == ("CTO", emulator.admin_user_id)
    refused = requests.post(f"{control}/Contact", json={"Email": "d@example.com"}, timeout=10)
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert len(requests.get(f"{control}/Contact", timeout=10).json()) == 1
    assert requests.delete(f"{control}/Contact/{record_id}", timeout=10).status_code == 204
    assert requests.get(f"{control}/Contact/{record_id}", timeout=10).json()["IsDeleted"] is True
    assert emulator.calls.calls() == []
    info = requests.get(f"{server.url}/_sandbox/info", timeout=10).json()
    assert info["integration_user_id"] == emulator.integration_user_id
    assert info["refresh_token"] == "sandbox-refresh-token"


def test_a_locked_single_record_call_is_retried(client, emulator):
    record_id = emulator.create("Account", {"Name": "Locked"})
    emulator.faults.update({"lock_next": 2})
    path = client.transport.data_path(f"sobjects/Account/{record_id}")
    assert client.transport.call("sobject", "PATCH", path, json={"Industry": "Retail"}).status_code == 204
    assert emulator.get(record_id)["Industry"] == "Retail"
    statuses = [call.status for call in emulator.calls.calls() if call.endpoint == "PATCH /sobjects/{object}/{id}"]
    assert statuses == [400, 400, 204]
