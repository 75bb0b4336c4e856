"""Bulk API 2.0: the client switches to ingest jobs above its threshold and returns the same per-record
results as Collections; the job state machine, result CSVs, line endings, one PUT per job, aborts,
query jobs with Sforce-Locator, and sessions that expire while a job runs."""

import csv
import io

import pytest
import requests

from cmsync.clients.salesforce import NOT_PROCESSED
from cmsync.clients.salesforce.bulk import IngestSpool
from cmsync_sandbox.salesforce import SalesforceEmulator
from tests.salesforce.conftest import make_client
from tests.waiting import wait_until

CLIENT = "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"


@pytest.fixture(scope="module")
def slow_org():
    """An org whose Bulk jobs take a while: 0.3 s per step, two rows per step."""
    org = SalesforceEmulator(bulk_step_seconds=0.3, bulk_chunk_size=2)
    with org.serve() as server:
        yield org, server
    org.close()


def _headers(server) -> dict:
    token = requests.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "sandbox-client-id",
            "refresh_token": "sandbox-refresh-token",
        },
        timeout=10,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _member(key: str | None, email: str | None, state: str = "Active", **values) -> dict:
    member = {"CM_Member_Key__c": key, "CM_Email__c": email, "CM_State__c": state, **values}
    return {name: value for name, value in member.items() if value is not None}


def _mixed_members() -> list[dict]:
    good = [_member(f"list:{n}@example.com", f"{n}@example.com") for n in range(6)]
    bad = [
        _member("list:long", "long@example.com", CM_Subscriber_Name__c="x" * 256),
        _member("list:pick", "pick@example.com", "Gone"),
        _member("list:emoji", "\N{GRINNING FACE}" * 125 + "@example.com"),
        _member("list:missing", None),
        _member("list:twice", "t@example.com"),
        _member("LIST:TWICE", "t@example.com"),
        _member("list:parent", "p@example.com", CM_List__r={"CM_List_ID__c": "0" * 32}),
        _member(None, "nokey@example.com"),
    ]
    return good[:3] + bad + good[3:]


def test_bulk_results_have_the_same_shape_as_collections_results(server, emulator):
    collections = make_client(server.url, bulk_threshold=2000)
    bulk = make_client(server.url, bulk_threshold=5)
    records = _mixed_members()
    by_collections = collections.upsert("CM_List_Member__c", "CM_Member_Key__c", records)
    emulator.reset()
    emulator.calls.clear()
    by_bulk = bulk.upsert("CM_List_Member__c", "CM_Member_Key__c", records)
    assert "POST /jobs/ingest" in emulator.calls.counts()
    assert "PATCH /composite/sobjects/{object}/{field}" not in emulator.calls.counts()

    def shape(results):
        return [(result.index, result.success, result.created, result.status_codes) for result in results]

    assert shape(by_bulk) == shape(by_collections)
    assert [result.status_codes for result in by_bulk if not result.success] == [
        ("STRING_TOO_LONG",),
        ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",),
        ("STRING_TOO_LONG",),
        ("REQUIRED_FIELD_MISSING",),
        ("DUPLICATE_EXTERNAL_ID",),
        ("DUPLICATE_EXTERNAL_ID",),
        ("INVALID_FIELD",),
        ("MISSING_ARGUMENT",),
    ]
    assert by_bulk[3].errors[0].fields == ("CM_Subscriber_Name__c",)
    assert "max length=255" in by_bulk[3].errors[0].message
    assert all(
        result.id and result.id.startswith(emulator.schema.get("CM_List_Member__c").key_prefix)
        for result in by_bulk
        if result.success
    )
    again = bulk.upsert("CM_List_Member__c", "CM_Member_Key__c", records)
    assert [result.created for result in again if result.success] == [False] * 6


def test_bulk_cells_are_stored_as_sent_up_to_their_length_in_utf16_units(server, emulator):
    """Text at the edge of a field's length (an emoji counts 2), null lookups and a parent by its key."""
    list_id = emulator.create("CM_List__c", {"Name": "News", "CM_List_ID__c": "c" * 32})
    contact = emulator.create("Contact", {"LastName": "Ana", "Email": "ana@example.com"})
    bulk = make_client(server.url, bulk_threshold=1)
    members = [
        _member("list:fits", "fits@example.com", CM_Subscriber_Name__c="é" * 255, CM_Contact__c=contact),
        _member("list:emoji", "emoji@example.com", CM_Subscriber_Name__c="\N{GRINNING FACE}" * 127 + "x"),
        _member("list:over", "over@example.com", CM_Subscriber_Name__c="\N{GRINNING FACE}" * 128),
        _member("list:none", "none@example.com", CM_Contact__c=None, CM_List__r={"CM_List_ID__c": "C" * 32}),
    ]
    results = bulk.upsert("CM_List_Member__c", "CM_Member_Key__c", members)
    assert [result.status_codes for result in results] == [(), (), ("STRING_TOO_LONG",), ()]
    fits, emoji, _, none = (emulator.get(result.id) if result.success else None for result in results)
    assert fits["CM_Subscriber_Name__c"] == "é" * 255 and fits["CM_Contact__c"] == contact
    assert emoji["CM_Subscriber_Name__c"] == "\N{GRINNING FACE}" * 127 + "x"
    assert none["CM_Contact__c"] is None and none["CM_List__c"] == list_id


def test_a_job_that_fails_leaves_every_record_unprocessed(server):
    bulk = make_client(server.url, bulk_threshold=1)
    results = bulk.upsert(
        "CM_Client__c", "CM_Client_ID__c", [{"CM_Client_ID__c": CLIENT, "Nope__c": 1}, {"CM_Client_ID__c": "b" * 32}]
    )
    assert [result.status_codes for result in results] == [(NOT_PROCESSED,), (NOT_PROCESSED,)]
    assert "Field name not found : Nope__c" in results[0].errors[0].message


def test_insert_update_and_hard_delete_through_bulk(server, emulator):
    bulk = make_client(server.url, bulk_threshold=3)
    inserted = bulk.insert(
        "Lead", [{"LastName": f"L{n}", "Company": "Co", "Email": f"l{n}@example.com"} for n in range(8)]
    )
    assert all(result.success and result.created for result in inserted)
    ids = [result.id for result in inserted]
    updated = bulk.update(
        "Lead", [{"Id": record_id, "Company": None if n == 0 else "New Co"} for n, record_id in enumerate(ids)]
    )
    assert updated[0].status_codes == ("REQUIRED_FIELD_MISSING",) and all(result.success for result in updated[1:])
    assert emulator.get(ids[5])["Company"] == "New Co"
    removed = bulk.delete("Lead", ids[:4], hard=True)
    assert all(result.success for result in removed)
    assert bulk.count("SELECT COUNT() FROM Lead") == 4
    assert len(list(bulk.query("SELECT Id FROM Lead", include_deleted=True))) == 4
    soft = bulk.delete("Lead", ids[4:])
    assert all(result.success for result in soft)
    assert len(list(bulk.query("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True))) == 4


def test_a_session_that_expires_while_a_job_runs_is_renewed(slow_org):
    org, server = slow_org
    org.reset()
    org.faults.update({"token_ttl": 0.15})
    bulk = make_client(server.url, bulk_threshold=2)
    results = bulk.upsert("CM_Client__c", "CM_Client_ID__c", [{"CM_Client_ID__c": f"{n:032x}"} for n in range(4)])
    assert all(result.success for result in results)
    polls = [call.status for call in org.calls.calls() if call.endpoint == "GET /jobs/ingest/{id}"]
    assert 401 in polls and polls[-1] == 200
    assert org.calls.counts()["POST /services/oauth2/token"] >= 2


def test_the_ingest_state_machine_over_plain_http(slow_org):
    org, server = slow_org
    org.reset()
    headers = _headers(server)
    base = f"{server.url}/services/data/v61.0/jobs/ingest"
    job = requests.post(
        base, json={"object": "Account", "operation": "insert", "lineEnding": "CRLF"}, headers=headers, timeout=10
    ).json()
    assert job["state"] == "Open" and job["contentUrl"] == f"services/data/v61.0/jobs/ingest/{job['id']}/batches"
    data = b"Name,Industry\r\nOne,Banking\r\nTwo,Energy\r\n,Retail\r\nFour,Media\r\nFive,Other\r\n"
    upload = {**headers, "Content-Type": "text/csv"}
    assert requests.put(f"{base}/{job['id']}/batches", data=data, headers=upload, timeout=10).status_code == 201
    second = requests.put(f"{base}/{job['id']}/batches", data=data, headers=upload, timeout=10)
    assert second.status_code == 400 and second.json()[0]["errorCode"] == "BULK_API_ERROR"
    closed = requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, timeout=10).json()
    assert closed["state"] == "UploadComplete"
    states, processed = [], []

    def finished() -> bool:
        seen = requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()
        states.append(seen["state"])
        processed.append(seen["numberRecordsProcessed"])
        return seen["state"] in ("JobComplete", "Failed", "Aborted")

    wait_until(finished, "the ingest job finished")
    info = requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()
    assert states[-1] == "JobComplete" and "InProgress" in states
    assert processed == sorted(processed) and processed[-1] == 5
    assert info["numberRecordsFailed"] == 1
    successes = list(
        csv.reader(
            io.StringIO(requests.get(f"{base}/{job['id']}/successfulResults/", headers=headers, timeout=10).text)
        )
    )
    assert successes[0] == ["sf__Id", "sf__Created", "Name", "Industry"]
    assert sorted(row[2] for row in successes[1:]) == ["Five", "Four", "One", "Two"]
    failures = list(
        csv.reader(io.StringIO(requests.get(f"{base}/{job['id']}/failedResults/", headers=headers, timeout=10).text))
    )
    assert failures[0] == ["sf__Id", "sf__Error", "Name", "Industry"]
    assert failures[1][1].startswith("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")


def test_aborting_a_running_job_leaves_the_rest_unprocessed(slow_org):
    org, server = slow_org
    org.reset()
    headers = _headers(server)
    base = f"{server.url}/services/data/v61.0/jobs/ingest"
    job = requests.post(base, json={"object": "Account", "operation": "insert"}, headers=headers, timeout=10).json()
    rows = "".join(f"Account {n}\n" for n in range(10))
    requests.put(
        f"{base}/{job['id']}/batches",
        data=f"Name\n{rows}".encode(),
        headers={**headers, "Content-Type": "text/csv"},
        timeout=10,
    )
    requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, timeout=10)
    wait_until(
        lambda: requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()["state"] == "InProgress",
        "the job in progress",
    )
    aborted = requests.patch(f"{base}/{job['id']}", json={"state": "Aborted"}, headers=headers, timeout=10).json()
    assert aborted["state"] == "Aborted"

    def unprocessed_rows() -> list[str]:
        return requests.get(f"{base}/{job['id']}/unprocessedrecords/", headers=headers, timeout=10).text.splitlines()

    wait_until(lambda: len(unprocessed_rows()) > 1, "the abort reached by the job's worker")
    info = requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()
    unprocessed = unprocessed_rows()
    assert unprocessed[0] == "Name"
    assert info["numberRecordsProcessed"] + len(unprocessed) - 1 == 10
    assert 0 < len(unprocessed) - 1 < 10


def test_a_wrong_line_ending_fails_the_job(server, token):
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{server.url}/services/data/v61.0/jobs/ingest"
    job = requests.post(
        base, json={"object": "Account", "operation": "insert", "lineEnding": "LF"}, headers=headers, timeout=10
    ).json()
    requests.put(
        f"{base}/{job['id']}/batches",
        data=b"Name\r\nOne\r\n",
        headers={**headers, "Content-Type": "text/csv"},
        timeout=10,
    )
    requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, timeout=10)
    wait_until(
        lambda: (
            requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()["state"]
            in ("Failed", "JobComplete")
        ),
        "the job finished",
    )
    info = requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : LineEnding is invalid on user data. Current LineEnding setting is LF"


def test_an_upsert_key_named_in_another_case_still_finds_duplicates_in_the_job(server, token, emulator):
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{server.url}/services/data/v61.0/jobs/ingest"
    spec = {"object": "CM_List_Member__c", "operation": "upsert", "externalIdFieldName": "CM_Member_Key__c"}
    job = requests.post(base, json=spec, headers=headers, timeout=10).json()
    rows = ["cm_member_key__c,CM_Email__c,CM_State__c", "l:a,a@example.com,Active", "l:b,b@example.com,Active"]
    data = "\n".join([*rows, "L:A,a@example.com,Active", ""])
    requests.put(
        f"{base}/{job['id']}/batches", data=data.encode(), headers={**headers, "Content-Type": "text/csv"}, timeout=10
    )
    requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, timeout=10)
    wait_until(
        lambda: requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()["state"] == "JobComplete",
        "the job complete",
    )
    failures = list(
        csv.reader(io.StringIO(requests.get(f"{base}/{job['id']}/failedResults/", headers=headers, timeout=10).text))
    )
    assert sorted((row[1], row[2]) for row in failures[1:]) == [
        ("DUPLICATE_EXTERNAL_ID:Duplicate external id specified: L:A:CM_Member_Key__c --", "L:A"),
        ("DUPLICATE_EXTERNAL_ID:Duplicate external id specified: l:a:CM_Member_Key__c --", "l:a"),
    ]
    assert [record["CM_Member_Key__c"] for record in emulator.records("CM_List_Member__c")] == ["l:b"]


def test_query_jobs_page_with_sforce_locator_until_null(slow_org):
    org, server = slow_org
    org.reset()
    for number in range(5):
        org.create("Account", {"Name": f"Account {number}", "Industry": "Banking"})
    headers = _headers(server)
    base = f"{server.url}/services/data/v61.0/jobs/query"
    job = requests.post(
        base,
        json={"operation": "query", "query": "SELECT Id, Name, Industry FROM Account ORDER BY Name"},
        headers=headers,
        timeout=10,
    ).json()
    early = requests.get(f"{base}/{job['id']}/results", headers=headers, timeout=10)
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    wait_until(
        lambda: requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()["state"] == "JobComplete",
        "the query job complete",
    )
    names, locator, pages = [], None, 0
    while locator != "null":
        params = {"maxRecords": "2", **({"locator": locator} if locator else {})}
        page = requests.get(f"{base}/{job['id']}/results", params=params, headers=headers, timeout=10)
        rows = list(csv.DictReader(io.StringIO(page.text)))
        assert page.headers["Sforce-NumberOfRecords"] == str(len(rows))
        names += [row["Name"] for row in rows]
        locator = page.headers["Sforce-Locator"]
        pages += 1
    assert names == [f"Account {n}" for n in range(5)] and pages == 3


def test_the_client_reads_a_bulk_query(client, emulator):
    account = emulator.create("Account", {"Name": "Parent", "Industry": "Media"})
    for number in range(3):
        emulator.create("Contact", {"LastName": f"C{number}", "AccountId": account, "Email": f"c{number}@example.com"})
    rows = list(client.bulk_query("SELECT LastName, Email, Account.Industry FROM Contact ORDER BY LastName"))
    assert rows[0] == {"LastName": "C0", "Email": "c0@example.com", "Account.Industry": "Media"}
    assert len(rows) == 3


def test_bulk_results_without_a_charset_are_read_as_utf8(server, emulator):
    bulk = make_client(server.url, bulk_threshold=1)
    addresses = ["josé@example.com", "田中@例え.jp", "\N{GRINNING FACE}@example.com", "plain@example.com"]
    results = bulk.upsert("CM_List_Member__c", "CM_Member_Key__c", [_member(f"list:{a}", a) for a in addresses])
    assert [(result.success, result.created) for result in results] == [(True, True)] * len(addresses)
    result_path = next(call.path for call in emulator.calls.calls() if call.path.endswith("/successfulResults/"))
    answered = requests.get(f"{server.url}{result_path}", headers=_headers(server), timeout=10)
    assert answered.headers["Content-Type"] == "text/csv"
    rows = list(bulk.bulk_query("SELECT CM_Member_Key__c, CM_Email__c FROM CM_List_Member__c"))
    assert sorted((row["CM_Member_Key__c"], row["CM_Email__c"]) for row in rows) == sorted(
        (f"list:{a}", a) for a in addresses
    )


def test_query_jobs_run_side_by_side():
    """Salesforce runs query jobs in parallel: a second query does not wait for the first one to end."""
    org = SalesforceEmulator(bulk_step_seconds=1.0)
    with org.serve() as server:
        headers = _headers(server)
        base = f"{server.url}/services/data/v61.0/jobs/query"
        jobs = [
            requests.post(base, json={"operation": "query", "query": soql}, headers=headers, timeout=10).json()["id"]
            for soql in ("SELECT Id FROM Contact", "SELECT Id FROM Lead")
        ]

        def states() -> set[str]:
            return {requests.get(f"{base}/{job}", headers=headers, timeout=10).json()["state"] for job in jobs}

        wait_until(lambda: states() == {"InProgress"}, "both query jobs in progress at once")
    org.close()


def test_a_spooled_row_reads_back_as_written_whatever_its_cells_hold():
    rows = [
        ["l1:a@example.com", "plain", "#N/A", ""],
        ["l1:b@example.com", 'O\'Neil, "Ana"', "first\nsecond", "carriage\rreturn"],
        ["l1:c@example.com", "zoë🎉 田中", '{"city": "Dublin", "plan": "Plus"}', ","],
        ["", "", "", ""],
    ]
    spool = IngestSpool(["CM_Member_Key__c", "Name", "CM_Custom_Fields__c", "CM_State__c"])
    for cells in rows:
        row = spool.row(cells)
        assert spool.fits(row)
        spool.add(row)
    assert list(spool.read()) == rows
    uploaded = spool.upload().read().decode()
    assert list(csv.reader(io.StringIO(uploaded, newline="")))[1:] == rows
    spool.close()
