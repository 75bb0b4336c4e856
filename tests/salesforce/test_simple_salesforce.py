"""A client we did not write: simple-salesforce, pointed at the emulator over HTTPS (it only speaks
https) in its direct mode (``instance_url`` and a session), as the reference notes describe."""

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from cmsync.sandbox.salesforce import SalesforceEmulator


@pytest.fixture(scope="module")
def tls_org(tmp_path_factory):
    ca_file = tmp_path_factory.mktemp("tls") / "sandbox-ca.pem"
    org = SalesforceEmulator(bulk_step_seconds=0.01)
    with org.serve(ca_file=ca_file) as server:
        yield org, server, ca_file
    org.close()


@pytest.fixture
def salesforce(tls_org):
    org, server, ca_file = tls_org
    org.reset()
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
    yield Salesforce(
        instance_url=answer["instance_url"], session_id=answer["access_token"], session=session, version="61.0"
    )
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
