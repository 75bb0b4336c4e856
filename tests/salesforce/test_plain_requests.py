"""The emulator driven with plain ``requests``, call by call as the Salesforce reference notes show them:
what any client, not only ours, would see."""

import csv
import io
from datetime import UTC, datetime, timedelta

import requests

from tests.waiting import wait_until


def test_token_response_fields(server, emulator):
    answer = requests.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "sandbox-refresh-token",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert {"access_token", "id", "instance_url", "issued_at", "signature", "token_type"} <= set(body)
    assert body["id"].endswith(f"/id/{emulator.org_id}/{emulator.integration_user_id}")
    refused = requests.post(f"{server.url}/services/oauth2/token", data={"grant_type": "password"}, timeout=10)
    assert refused.status_code == 400 and set(refused.json()) == {"error", "error_description"}


def test_query_and_its_pages(api, emulator):
    session, base = api
    for number in range(250):
        emulator.create("Contact", {"LastName": f"C{number:03}"})
    first = session.get(
        f"{base}/query",
        params={"q": "SELECT Id, LastName FROM Contact ORDER BY LastName"},
        headers={"Sforce-Query-Options": "batchSize=200"},
        timeout=10,
    ).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (250, False, 200)
    assert first["nextRecordsUrl"].startswith("/services/data/v61.0/query/")
    assert first["records"][0]["attributes"]["type"] == "Contact"
    assert (
        first["records"][0]["attributes"]["url"] == f"/services/data/v61.0/sobjects/Contact/{first['records'][0]['Id']}"
    )
    origin = base.removesuffix("/services/data/v61.0")
    second = session.get(origin + first["nextRecordsUrl"], timeout=10).json()
    assert (second["totalSize"], second["done"], len(second["records"])) == (250, True, 50)
    assert "nextRecordsUrl" not in second
    malformed = session.get(f"{base}/query", params={"q": "SELEC Id FROM Contact"}, timeout=10)
    assert malformed.status_code == 400 and malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_incremental_polling_by_system_modstamp(api, emulator):
    session, base = api
    first = emulator.create("Contact", {"LastName": "First"})
    mark = emulator.get(first)["SystemModstamp"]
    emulator.clock.advance(1)
    second = emulator.create("Contact", {"LastName": "Second"})
    emulator.clock.advance(1)
    emulator.update(first, {"Title": "Changed"})
    soql = f"SELECT Id, LastModifiedById FROM Contact WHERE SystemModstamp > {mark} ORDER BY SystemModstamp"
    records = session.get(f"{base}/query", params={"q": soql}, timeout=10).json()["records"]
    assert [record["Id"] for record in records] == [second, first]
    assert records[-1]["LastModifiedById"] == emulator.admin_user_id


def test_get_updated_and_get_deleted(api, emulator):
    session, base = api
    start = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    end = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    kept = emulator.create("Lead", {"LastName": "Kept", "Company": "Co"})
    gone = emulator.create("Lead", {"LastName": "Gone", "Company": "Co"})
    emulator.delete(gone)
    updated = session.get(f"{base}/sobjects/Lead/updated/", params={"start": start, "end": end}, timeout=10).json()
    assert updated["ids"] == [kept] and updated["latestDateCovered"].endswith("+0000")
    deleted = session.get(f"{base}/sobjects/Lead/deleted/", params={"start": start, "end": end}, timeout=10).json()
    assert [item["id"] for item in deleted["deletedRecords"]] == [gone]
    assert {"earliestDateAvailable", "latestDateCovered"} <= set(deleted)


def test_collections_create_update_upsert_delete(api):
    session, base = api
    created = session.post(
        f"{base}/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Smith", "Email": "smith@example.com"},
                {"attributes": {"type": "Account"}, "Name": "Acme"},
                {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
            ],
        },
        timeout=10,
    )
    assert created.status_code == 200
    items = created.json()
    assert items[0]["success"] and items[0]["id"].startswith("003") and items[0]["errors"] == []
    assert items[1]["id"].startswith("001")
    assert items[2] == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    updated = session.patch(
        f"{base}/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [{"attributes": {"type": "Contact"}, "id": items[0]["id"], "HasOptedOutOfEmail": True}],
        },
        timeout=10,
    ).json()
    assert updated == [{"id": items[0]["id"], "success": True, "errors": []}]
    upserted = session.patch(
        f"{base}/composite/sobjects/CM_Client__c/CM_Client_ID__c",
        json={
            "allOrNone": False,
            "records": [{"attributes": {"type": "CM_Client__c"}, "CM_Client_ID__c": "a" * 32, "Name": "C"}],
        },
        timeout=10,
    ).json()
    assert upserted[0]["created"] is True and upserted[0]["success"] is True
    ids = f"{items[0]['id']},{items[1]['id']}"
    deleted = session.delete(f"{base}/composite/sobjects", params={"ids": ids, "allOrNone": "false"}, timeout=10).json()
    assert [item["success"] for item in deleted] == [True, True]


def test_single_record_crud_and_upsert_by_external_id(api):
    session, base = api
    created = session.post(f"{base}/sobjects/Account", json={"Name": "Solo"}, timeout=10)
    assert created.status_code == 201 and created.json()["success"]
    record_id = created.json()["id"]
    assert (
        session.patch(f"{base}/sobjects/Account/{record_id}", json={"Industry": "Energy"}, timeout=10).status_code
        == 204
    )
    assert (
        session.get(f"{base}/sobjects/Account/{record_id}", params={"fields": "Name,Industry"}, timeout=10).json()[
            "Industry"
        ]
        == "Energy"
    )
    too_long = session.patch(f"{base}/sobjects/Account/{record_id}", json={"Name": "x" * 256}, timeout=10)
    assert too_long.status_code == 400 and too_long.json()[0]["errorCode"] == "STRING_TOO_LONG"
    key = f"{base}/sobjects/CM_Campaign__c/CM_Campaign_ID__c/{'c' * 32}"
    first = session.patch(key, json={"Name": "Spring sale", "CM_Kind__c": "Campaign"}, timeout=10)
    assert first.status_code == 201 and first.json()["created"] is True
    second = session.patch(key, json={"CM_Opens__c": 12}, timeout=10)
    assert second.status_code == 200 and second.json()["created"] is False
    assert session.get(key, timeout=10).json()["CM_Opens__c"] == 12.0
    assert session.delete(f"{base}/sobjects/Account/{record_id}", timeout=10).status_code == 204
    assert session.get(f"{base}/sobjects/Account/{record_id}", timeout=10).status_code == 404


def test_limits_and_usage_header(api):
    session, base = api
    response = session.get(f"{base}/limits/", timeout=10)
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    limits = response.json()
    assert {"DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB"} <= set(
        limits
    )
    assert set(limits["DailyApiRequests"]) == {"Max", "Remaining"}


def test_bulk_ingest_upsert_as_in_the_reference(api):
    session, base = api
    job = session.post(
        f"{base}/jobs/ingest",
        json={
            "object": "CM_List_Member__c",
            "operation": "upsert",
            "externalIdFieldName": "CM_Member_Key__c",
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        },
        timeout=10,
    ).json()
    data = "CM_Member_Key__c,CM_Email__c,CM_State__c\nl:a@example.com,a@example.com,Active\nl:b,b@example.com,Gone\n"
    assert (
        session.put(
            f"{base}/jobs/ingest/{job['id']}/batches",
            data=data.encode(),
            headers={"Content-Type": "text/csv"},
            timeout=10,
        ).status_code
        == 201
    )
    session.patch(f"{base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}, timeout=10)
    wait_until(
        lambda: session.get(f"{base}/jobs/ingest/{job['id']}", timeout=10).json()["state"] == "JobComplete",
        "the ingest job complete",
    )
    info = session.get(f"{base}/jobs/ingest/{job['id']}", timeout=10).json()
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    failed = list(
        csv.reader(io.StringIO(session.get(f"{base}/jobs/ingest/{job['id']}/failedResults/", timeout=10).text))
    )
    assert failed[1][1] == (
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:State: bad value for restricted picklist field: Gone:CM_State__c --"
    )
    assert failed[1][2:] == ["l:b", "b@example.com", "Gone"]
