"""Writes through sObject Collections: per-record results of every kind of rejection, all-or-none
rollback, the 200-record limit, server-maintained fields, and getUpdated/getDeleted."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from cmsync.clients.salesforce import SalesforceRequestError

CLIENT = "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"


def _list(number: int, **values) -> dict:
    return {"CM_List_ID__c": f"{number:032x}", "Name": f"List {number}", **values}


def test_upsert_reports_created_then_updated(client, emulator):
    first = client.upsert("CM_Client__c", "CM_Client_ID__c", [{"CM_Client_ID__c": CLIENT, "Name": "Acme"}])
    again = client.upsert("CM_Client__c", "CM_Client_ID__c", [{"CM_Client_ID__c": CLIENT.upper(), "Name": "Acme Ltd"}])
    assert (first[0].success, first[0].created, again[0].created) == (True, True, False)
    assert first[0].id == again[0].id, "external IDs match case-insensitively"
    assert emulator.records("CM_Client__c")[0]["Name"] == "Acme Ltd"


def test_every_kind_of_record_error_comes_back_for_its_own_record(client, emulator):
    client.upsert("CM_Client__c", "CM_Client_ID__c", [{"CM_Client_ID__c": CLIENT}])
    client.upsert("CM_List__c", "CM_List_ID__c", [_list(99)])
    records = [
        _list(1, CM_Client__r={"CM_Client_ID__c": CLIENT}, CM_Unsubscribe_Setting__c="OnlyThisList"),
        _list(2, CM_Client__r={"CM_Client_ID__c": "0" * 32}),
        _list(3, Name="x" * 81),
        _list(4, CM_Unsubscribe_Setting__c="Sometimes"),
        {"Name": "no key"},
    ]
    results = client.upsert("CM_List__c", "CM_List_ID__c", records)
    assert [result.success for result in results] == [True, False, False, False, False]
    assert [result.index for result in results] == [0, 1, 2, 3, 4]
    assert results[1].status_codes == ("INVALID_FIELD",)
    assert "Foreign key external ID" in results[1].errors[0].message
    assert results[2].errors[0].status_code == "STRING_TOO_LONG" and results[2].errors[0].fields == ("Name",)
    assert results[3].status_codes == ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",)
    assert results[4].status_codes == ("MISSING_ARGUMENT",)
    members = [
        {"CM_Member_Key__c": "k1", "CM_Email__c": "x" * 256, "CM_State__c": "Active"},
        {"CM_Member_Key__c": "k2", "CM_State__c": "Active"},
        {"CM_Member_Key__c": "k3", "CM_Email__c": "o'brien@example.com", "CM_State__c": "Active"},
    ]
    results = client.upsert("CM_List_Member__c", "CM_Member_Key__c", members)
    assert results[0].status_codes == ("STRING_TOO_LONG",)
    assert results[1].status_codes == ("REQUIRED_FIELD_MISSING",) and results[1].errors[0].fields == ("CM_Email__c",)
    assert results[2].success
    duplicate = client.insert("CM_List__c", [_list(99), _list(98)])
    assert duplicate[0].status_codes == ("DUPLICATE_VALUE",) and duplicate[1].success
    twice = client.upsert("CM_List__c", "CM_List_ID__c", [_list(7), _list(7)])
    assert [result.status_codes for result in twice] == [("DUPLICATE_EXTERNAL_ID",)] * 2
    read_only = client.insert("Contact", [{"LastName": "X", "CreatedDate": "2020-01-01T00:00:00Z"}])
    assert read_only[0].status_codes == ("INVALID_FIELD_FOR_INSERT_UPDATE",)
    dangling = client.insert("Contact", [{"LastName": "X", "AccountId": "001000000000000AAA"}])
    assert dangling[0].status_codes == ("INVALID_CROSS_REFERENCE_KEY",)


def test_an_unknown_field_refuses_the_whole_request(client, emulator):
    with pytest.raises(SalesforceRequestError) as refused:
        client.upsert("CM_List__c", "CM_List_ID__c", [_list(1), _list(2, Nope__c="x")])
    assert (refused.value.status, refused.value.error_code) == (400, "INVALID_FIELD")
    assert emulator.records("CM_List__c") == []


def test_all_or_none_rolls_every_record_back(client, emulator):
    client.upsert("CM_List__c", "CM_List_ID__c", [_list(1, Name="Before")])
    results = client.upsert(
        "CM_List__c", "CM_List_ID__c", [_list(1, Name="After"), _list(2), _list(3, Name="x" * 81)], all_or_none=True
    )
    assert [result.status_codes for result in results] == [
        ("ALL_OR_NONE_OPERATION_ROLLED_BACK",),
        ("ALL_OR_NONE_OPERATION_ROLLED_BACK",),
        ("STRING_TOO_LONG",),
    ]
    assert [(record["CM_List_ID__c"], record["Name"]) for record in emulator.records("CM_List__c")] == [
        (f"{1:032x}", "Before")
    ]
    results = client.upsert("CM_List__c", "CM_List_ID__c", [_list(1, Name="After"), _list(2)], all_or_none=True)
    assert all(result.success for result in results)


def test_more_than_200_records_are_sent_in_several_collections(client, emulator):
    assert client.user_id
    emulator.calls.clear()
    results = client.upsert("CM_List__c", "CM_List_ID__c", [_list(number) for number in range(450)])
    assert all(result.success and result.created for result in results)
    assert emulator.calls.counts() == {"PATCH /composite/sobjects/{object}/{field}": 3}


def test_the_server_refuses_a_collection_of_more_than_200(server, token):
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": f"A{n}"} for n in range(201)]}
    response = requests.post(
        f"{server.url}/services/data/v61.0/composite/sobjects",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_insert_update_and_delete_through_collections(client, emulator):
    created = client.insert("Contact", [{"LastName": "One", "Email": "one@example.com"}, {"LastName": "Two"}])
    assert all(result.created for result in created)
    ids = [result.id for result in created]
    updated = client.update("Contact", [{"Id": ids[0], "HasOptedOutOfEmail": True}, {"Id": ids[1], "LastName": None}])
    assert updated[0].success and updated[1].status_codes == ("REQUIRED_FIELD_MISSING",)
    assert emulator.get(ids[0])["HasOptedOutOfEmail"] is True
    deleted = client.delete("Contact", [ids[0], ids[0][:3] + "5g000000zzzzAAA"])
    assert deleted[0].success and not deleted[1].success
    assert emulator.get(ids[0])["IsDeleted"] is True
    assert client.delete("Contact", [ids[0]])[0].status_codes == ("ENTITY_IS_DELETED",)


def test_server_maintained_fields(client, emulator):
    record_id = client.insert("Account", [{"Name": "Audit"}])[0].id
    created = emulator.get(record_id)
    assert created["CreatedById"] == created["LastModifiedById"] == client.user_id
    assert len(record_id) == 18 and record_id.startswith("001")
    assert created["CreatedDate"] == created["SystemModstamp"]
    emulator.update(record_id, {"Industry": "Banking"})
    changed = emulator.get(record_id)
    assert changed["LastModifiedById"] == emulator.admin_user_id
    assert changed["SystemModstamp"] >= created["SystemModstamp"]
    assert changed["CreatedDate"] == created["CreatedDate"]
    assert client.get("Account", record_id, ["Name", "Industry"]) == {"Name": "Audit", "Industry": "Banking"}
    assert client.get("Account", "001000000000000AAA") is None


def test_updated_and_deleted_report_changes_in_a_window(client, emulator):
    start = datetime.now(UTC) - timedelta(minutes=2)
    kept = emulator.create("Contact", {"LastName": "Kept"})
    gone = emulator.create("Contact", {"LastName": "Gone"})
    emulator.delete(gone)
    end = datetime.now(UTC) + timedelta(minutes=2)
    updated = client.updated("Contact", start, end)
    assert updated.ids == [kept]
    assert updated.latest_date_covered <= end
    deleted = client.deleted("Contact", start, end)
    assert [record_id for record_id, _when in deleted.records] == [gone]
    assert deleted.earliest_date_available <= datetime.now(UTC)
    with pytest.raises(SalesforceRequestError) as refused:
        client.updated("Contact", start - timedelta(days=31), end)
    assert refused.value.error_code == "INVALID_REPLICATION_DATE"


def test_the_delete_log_reaches_back_until_it_is_purged(client, emulator):
    start, end = datetime.now(UTC) - timedelta(days=10), datetime.now(UTC) + timedelta(minutes=2)
    gone = emulator.create("Contact", {"LastName": "Gone"})
    emulator.delete(gone)
    deleted = client.deleted("Contact", start, end)
    assert deleted.earliest_date_available <= start
    assert [record_id for record_id, _when in deleted.records] == [gone]
    emulator.purge_delete_log()
    purged = client.deleted("Contact", start, end)
    assert purged.earliest_date_available > start
    assert purged.records == []


def test_describe_and_limits(client):
    described = client.describe("CM_List_Member__c")
    fields = {field["name"]: field for field in described["fields"]}
    assert fields["CM_Member_Key__c"]["externalId"] and fields["CM_Member_Key__c"]["unique"]
    assert fields["CM_Contact__c"]["referenceTo"] == ["Contact"]
    assert [value["value"] for value in fields["CM_State__c"]["picklistValues"]][:2] == ["Active", "Unconfirmed"]
    limits = client.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    assert limits["DailyApiRequests"]["Remaining"] == 100_000 - client.api_usage.used


ADDRESSES = [
    "josé@example.com",
    "田中@例え.jp",
    "\N{GRINNING FACE}.fan@example.com",
    "o'brien." + "long" * 20 + "@example.com",
]
"""Addresses Campaign Monitor accepts: international (non-ASCII), with an emoji, and over 80 characters."""


def test_email_fields_refuse_what_the_mirror_email_fields_keep(client):
    contacts = client.insert("Contact", [{"LastName": "X", "Email": address} for address in ADDRESSES])
    assert [result.status_codes for result in contacts] == [("INVALID_EMAIL_ADDRESS",)] * 3 + [("STRING_TOO_LONG",)]
    members = [
        {"CM_Member_Key__c": f"list:{address}", "CM_Email__c": address, "CM_State__c": "Active"}
        for address in ADDRESSES
    ]
    assert all(result.success for result in client.upsert("CM_List_Member__c", "CM_Member_Key__c", members))
    activities = [
        {
            "CM_Activity_Key__c": f"event:{n}",
            "CM_Email__c": address,
            "CM_Type__c": "Opened",
            "CM_Activity_Date__c": "2026-05-01T12:00:00.000Z",
        }
        for n, address in enumerate(ADDRESSES)
    ]
    assert all(result.success for result in client.upsert("CM_Email_Activity__c", "CM_Activity_Key__c", activities))
    for sobject in ("CM_List_Member__c", "CM_Email_Activity__c"):
        rows = client.query(f"SELECT CM_Email__c FROM {sobject}")
        assert sorted(row["CM_Email__c"] for row in rows) == sorted(ADDRESSES)
