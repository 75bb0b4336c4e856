"""The Composite resource over plain HTTP: subrequests through the REST routes in order, references to
earlier results, all-or-none rollback (nested Collections included), and one API call for the lot."""

import pytest
import requests

V = "/services/data/v61.0"
SOQL = "SELECT+Id+FROM+Account"
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]


def composite(api, subrequests: list[dict], *, all_or_none: bool) -> requests.Response:
    session, base = api
    body = {"allOrNone": all_or_none, "collateSubrequests": False, "compositeRequest": subrequests}
    return session.post(f"{base}/composite", json=body, timeout=10)


def test_subrequests_chain_through_references_in_one_api_call(api, emulator):
    emulator.calls.clear()
    answer = composite(
        api,
        [
            {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "refAccount", "body": {"Name": "Ōsaka"}},
            {
                "method": "POST",
                "url": f"{V}/sobjects/Contact",
                "referenceId": "refContact",
                "body": {"LastName": "O'Brien", "Email": "o'brien@example.com", "AccountId": "@{refAccount.id}"},
            },
            {
                "method": "GET",
                "url": f"{V}/query?q=SELECT+Id,LastName+FROM+Contact+WHERE+AccountId='@{{refAccount.id}}'",
                "referenceId": "refQuery",
            },
            {
                "method": "PATCH",
                "url": f"{V}/sobjects/Contact/@{{refQuery.records[0].Id}}",
                "referenceId": "refTitle",
                "body": {"Title": "Buyer for @{refContact.id}"},
            },
            {"method": "GET", "url": f"{V}/sobjects/Contact/@{{refContact.id}}?fields=Title", "referenceId": "ref_2"},
        ],
        all_or_none=False,
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["compositeResponse"]
    assert [result["referenceId"] for result in results] == [
        "refAccount",
        "refContact",
        "refQuery",
        "refTitle",
        "ref_2",
    ]
    assert [result["httpStatusCode"] for result in results] == [201, 201, 200, 204, 200]
    account_id, contact_id = results[0]["body"]["id"], results[1]["body"]["id"]
    assert results[0]["body"] == {"id": account_id, "success": True, "errors": []}
    assert results[0]["httpHeaders"] == {"Location": f"{V}/sobjects/Account/{account_id}"}
    assert results[1]["httpHeaders"] == {"Location": f"{V}/sobjects/Contact/{contact_id}"}
    assert results[3] == {"body": None, "httpHeaders": {}, "httpStatusCode": 204, "referenceId": "refTitle"}
    assert results[4]["body"]["Title"] == f"Buyer for {contact_id}"
    stored = emulator.get(contact_id)
    assert stored is not None and stored["AccountId"] == account_id and stored["Email"] == "o'brien@example.com"
    assert emulator.calls.counts() == {"POST /composite": 1}
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=1/100000"


def test_all_or_none_rolls_back_every_write_including_nested_collections(api, emulator):
    kept = emulator.create("Account", {"Name": "Kept as it was"})
    doomed = emulator.create("Contact", {"LastName": "Still here"})
    answer = composite(
        api,
        [
            {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "newAccount", "body": {"Name": "New"}},
            {"method": "PATCH", "url": f"{V}/sobjects/Account/{kept}", "referenceId": "rename", "body": {"Name": "X"}},
            {"method": "DELETE", "url": f"{V}/sobjects/Contact/{doomed}", "referenceId": "remove"},
            {
                "method": "POST",
                "url": f"{V}/composite/sobjects",
                "referenceId": "collection",
                "body": {
                    "allOrNone": True,
                    "records": [{"attributes": {"type": "Contact"}, "LastName": name} for name in ("田中", "José")],
                },
            },
            {
                "method": "POST",
                "url": f"{V}/sobjects/Contact",
                "referenceId": "badContact",
                "body": {"LastName": "Bad", "Email": "not an address"},
            },
            {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "never", "body": {"Name": "Never"}},
        ],
        all_or_none=True,
    )
    assert answer.status_code == 200
    results = {result["referenceId"]: result for result in answer.json()["compositeResponse"]}
    assert results["badContact"]["httpStatusCode"] == 400
    assert results["badContact"]["body"][0]["errorCode"] == "INVALID_EMAIL_ADDRESS"
    for name in ("newAccount", "rename", "remove", "collection", "never"):
        assert results[name] == {"body": HALTED, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": name}
    assert [record["Name"] for record in emulator.records("Account")] == ["Kept as it was"]
    assert [record["LastName"] for record in emulator.records("Contact")] == ["Still here"]


def test_without_all_or_none_a_reference_to_a_failed_subrequest_is_halted(api, emulator):
    answer = composite(
        api,
        [
            {
                "method": "POST",
                "url": f"{V}/sobjects/Contact",
                "referenceId": "badEmail",
                "body": {"LastName": "Bad", "Email": "josé@@example.com"},
            },
            {
                "method": "PATCH",
                "url": f"{V}/sobjects/Contact/@{{badEmail.id}}",
                "referenceId": "fixEmail",
                "body": {"Email": "jose@example.com"},
            },
            {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "fine", "body": {"LastName": "Fine"}},
            {"method": "GET", "url": f"{V}/sobjects/Contact/@{{fine.nothing}}", "referenceId": "missingField"},
        ],
        all_or_none=False,
    )
    results = answer.json()["compositeResponse"]
    assert [result["httpStatusCode"] for result in results] == [400, 400, 201, 400]
    assert results[0]["body"][0]["errorCode"] == "INVALID_EMAIL_ADDRESS"
    assert results[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "badEmail.id" in results[1]["body"][0]["message"]
    assert "fine.nothing" in results[3]["body"][0]["message"]
    assert [record["LastName"] for record in emulator.records("Contact")] == ["Fine"]


@pytest.mark.parametrize(
    ("subrequests", "fragment"),
    [
        ([{"method": "GET", "url": f"{V}/sobjects/Account", "referenceId": f"r{n}"} for n in range(26)], "at most 25"),
        ([{"method": "GET", "url": f"{V}/query?q={SOQL}", "referenceId": f"q{n}"} for n in range(6)], "at most 5"),
        ([{"method": "GET", "url": f"{V}/sobjects/Account", "referenceId": "ref-1"}], "'ref-1'"),
        ([{"method": "GET", "url": f"{V}/sobjects/Account", "referenceId": "twice"}] * 2, "'twice' is used twice"),
        ([{"method": "GET", "url": "/sobjects/Account", "referenceId": "short"}], "url"),
        ([], "at least one"),
    ],
)
def test_a_malformed_composite_is_refused_whole(api, emulator, subrequests, fragment):
    answer = composite(api, subrequests, all_or_none=False)
    assert answer.status_code == 400
    assert fragment in answer.json()[0]["message"]
    assert emulator.records("Account") == []


def test_only_sobject_query_and_collections_resources_are_subrequests(api):
    answer = composite(
        api,
        [
            {"method": "GET", "url": f"{V}/jobs/query", "referenceId": "bulk"},
            {"method": "GET", "url": f"{V}/limits", "referenceId": "limits"},
            {"method": "POST", "url": f"{V}/composite", "referenceId": "nested", "body": {"compositeRequest": []}},
            {"method": "GET", "url": f"{V}/nowhere", "referenceId": "lost"},
        ],
        all_or_none=False,
    )
    codes = [
        (result["httpStatusCode"], result["body"][0]["errorCode"]) for result in answer.json()["compositeResponse"]
    ]
    assert codes == [(400, "INVALID_API_INPUT")] * 3 + [(404, "NOT_FOUND")]
