"""A client we did not write: simple-salesforce, pointed at the emulator over HTTPS (it only speaks
https) in its direct mode (``instance_url`` and a session), as the reference notes describe."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest

from cmsync_sandbox.salesforce import SalesforceEmulator


@pytest.fixture(scope="module")
def tls_org(tmp_path_factory):
    ca_file = tmp_path_factory.mktemp("tls") / "sandbox-ca.pem"
    org = SalesforceEmulator(bulk_step_seconds=0.01)
    with org.serve(ca_file=ca_file) as server:
        yield org, server, ca_file
    org.close()


def sign_in(server, ca_file) -> tuple[Salesforce, requests.Session]:
    """A simple-salesforce client on a fresh session of the sandbox's refresh-token credentials."""
    session = requests.Session()
    session.verify = str(ca_file)
    session.trust_env = False
    answer = session.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "sandbox-client-id",
            "refresh_token": "sandbox-refresh-token",
        },
        timeout=10,
    ).json()
    assert answer["instance_url"].startswith("https://")
    sf = Salesforce(
        instance_url=answer["instance_url"], session_id=answer["access_token"], session=session, version="61.0"
    )
    return sf, session


@pytest.fixture
def salesforce(tls_org):
    org, server, ca_file = tls_org
    org.reset()
    sf, session = sign_in(server, ca_file)
    yield sf
    session.close()


def test_rest_calls_through_simple_salesforce(salesforce):
    sf = salesforce
    created = sf.Contact.create({"LastName": "Simple", "Email": "o'simple@example.com"})
    assert created["success"]
    assert sf.Contact.get(created["id"])["Email"] == "o'simple@example.com"
    assert sf.Contact.update(created["id"], {"Title": "Tester"}) == 204
    assert (
        sf.query_all("SELECT Id, Title FROM Contact WHERE Email = 'o\\'simple@example.com'")["records"][0]["Title"]
        == "Tester"
    )
    assert sf.CM_Client__c.upsert(f"CM_Client_ID__c/{'a' * 32}", {"Name": "Acme"}) == 201
    assert sf.CM_Client__c.get_by_custom_id("CM_Client_ID__c", "a" * 32)["Name"] == "Acme"
    collection = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": "Via restful"}]},
    )
    assert collection[0]["success"]
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000
    assert sf.api_usage["api-usage"].total == 100_000
    assert sf.Contact.delete(created["id"]) == 204
    assert sf.query_all("SELECT Id FROM Contact", include_deleted=True)["totalSize"] == 1


def test_bulk2_through_simple_salesforce(salesforce):
    sf = salesforce
    loaded = sf.bulk2.Account.insert(records=[{"Name": f"Bulk {n}"} for n in range(5)] + [{"Name": ""}], wait=0.05)
    assert loaded[0]["numberRecordsProcessed"] == 6 and loaded[0]["numberRecordsFailed"] == 1
    failed = sf.bulk2.Account.get_failed_records(loaded[0]["job_id"])
    assert "REQUIRED_FIELD_MISSING" in failed
    pages = list(sf.bulk2.Account.query("SELECT Id, Name FROM Account ORDER BY Name", wait=0.05))
    assert sum(page.count("Bulk ") for page in pages) == 5


def test_an_expired_session_surfaces_as_simple_salesforces_own_error(salesforce, tls_org):
    tls_org[0].expire_tokens()
    with pytest.raises(SalesforceExpiredSession):
        salesforce.query("SELECT Id FROM Account")


def test_date_literals_and_subqueries_through_simple_salesforce(tls_org):
    org, server, ca_file = tls_org
    org.reset()
    today = org.clock.moment()
    org.clock.advance_to(datetime(today.year, today.month, today.day, 12, tzinfo=UTC) + timedelta(days=1))
    sf, session = sign_in(server, ca_file)
    account = sf.Account.create({"Name": "Ōsaka Trading"})["id"]
    for name in ("O'Hara", "田中"):
        sf.Contact.create({"LastName": name, "AccountId": account, "Birthdate": "1990-02-28"})
    org.clock.advance(2 * 24 * 3600)
    session.close()
    sf, session = sign_in(server, ca_file)
    assert sf.query_all("SELECT Id FROM Contact WHERE CreatedDate = TODAY")["totalSize"] == 0
    assert sf.query_all("SELECT Id FROM Contact WHERE CreatedDate = N_DAYS_AGO:2")["totalSize"] == 2
    assert sf.query_all("SELECT Id FROM Contact WHERE Birthdate < LAST_N_YEARS:30")["totalSize"] == 2
    found = sf.query_all(
        "SELECT Name, (SELECT LastName FROM Contacts WHERE CreatedDate = LAST_N_DAYS:3 ORDER BY LastName) FROM Account"
    )
    assert [contact["LastName"] for contact in found["records"][0]["Contacts"]["records"]] == ["O'Hara", "田中"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query("SELECT Id, (SELECT Id FROM Contact) FROM Account")
    assert refused.value.content[0]["errorCode"] == "INVALID_TYPE"
    session.close()


def test_composite_through_simple_salesforce(salesforce):
    sf = salesforce
    version = "/services/data/v61.0"
    answer = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"{version}/sobjects/Account",
                    "referenceId": "account",
                    "body": {"Name": "Zürich & Söhne"},
                },
                {
                    "method": "POST",
                    "url": f"{version}/sobjects/Contact",
                    "referenceId": "contact",
                    "body": {"LastName": "D'Angelo", "AccountId": "@{account.id}"},
                },
            ],
        },
    )
    created = {result["referenceId"]: result for result in answer["compositeResponse"]}
    assert created["contact"]["httpStatusCode"] == 201
    contact = sf.Contact.get(created["contact"]["body"]["id"])
    assert contact["AccountId"] == created["account"]["body"]["id"]
    assert sf.Account.get(contact["AccountId"])["Name"] == "Zürich & Söhne"
