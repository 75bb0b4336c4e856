"""Child relationship subqueries over plain HTTP: each parent carries its children as a nested query result
(or null when it has none), filtered, ordered and limited inside the subquery; Bulk queries refuse them."""

import pytest


@pytest.fixture
def accounts(emulator):
    """An account with four contacts (one of them deleted), and one with none."""
    busy = emulator.create("Account", {"Name": "Ōsaka Trading"})
    empty = emulator.create("Account", {"Name": "Empty & Co"})
    people = (("O'Brien", "o'brien@example.com"), ("田中", "tanaka@example.com"), ("José", "jose@example.com"))
    for last, email in people:
        emulator.create("Contact", {"LastName": last, "Email": email, "AccountId": busy})
    gone = emulator.create("Contact", {"LastName": "Gone", "AccountId": busy})
    emulator.delete(gone)
    emulator.create("Contact", {"LastName": "Loner"})
    return busy, empty


def test_children_are_nested_under_each_parent(api, accounts):
    session, base = api
    busy, empty = accounts
    soql = "SELECT Id, Name, (SELECT LastName, Email FROM Contacts ORDER BY LastName) FROM Account ORDER BY Name"
    answer = session.get(f"{base}/query", params={"q": soql}, timeout=10)
    assert answer.status_code == 200, answer.text
    records = answer.json()["records"]
    assert [record["Id"] for record in records] == [empty, busy]
    assert records[0]["Contacts"] is None
    contacts = records[1]["Contacts"]
    assert contacts["totalSize"] == 3 and contacts["done"] is True
    assert [contact["LastName"] for contact in contacts["records"]] == ["José", "O'Brien", "田中"]
    assert contacts["records"][1]["Email"] == "o'brien@example.com"
    assert contacts["records"][0]["attributes"]["type"] == "Contact"


def test_where_order_and_limit_apply_inside_the_subquery(api, accounts):
    session, base = api
    soql = (
        "SELECT Name, (SELECT LastName FROM Contacts WHERE Email LIKE '%example.com' AND LastName != 'José' "
        "ORDER BY LastName DESC LIMIT 1) FROM Account WHERE Name LIKE 'Ō%'"
    )
    records = session.get(f"{base}/query", params={"q": soql}, timeout=10).json()["records"]
    assert [contact["LastName"] for contact in records[0]["Contacts"]["records"]] == ["田中"]
    assert records[0]["Contacts"]["totalSize"] == 1


def test_custom_child_relationships_come_from_the_org_metadata(api, emulator):
    session, base = api
    client = emulator.create("CM_Client__c", {"Name": "Acme", "CM_Client_ID__c": "c1" * 16})
    mailing_list = emulator.create(
        "CM_List__c", {"Name": "Newsletter", "CM_List_ID__c": "a1" * 16, "CM_Client__c": client}
    )
    soql = "SELECT Name, (SELECT Name FROM CM_Lists__r) FROM CM_Client__c"
    answer = session.get(f"{base}/query", params={"q": soql}, timeout=10)
    assert answer.status_code == 200, answer.text
    children = answer.json()["records"][0]["CM_Lists__r"]["records"]
    assert [child["attributes"]["url"].rsplit("/", 1)[1] for child in children] == [mailing_list]


@pytest.mark.parametrize("relationship", ["Contact", "Cases", "Contacts__r"])
def test_an_unknown_relationship_is_invalid_type(api, relationship):
    session, base = api
    soql = f"SELECT Id, (SELECT Id FROM {relationship}) FROM Account"
    answer = session.get(f"{base}/query", params={"q": soql}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "message": f"Didn't understand relationship '{relationship}' in FROM part of query call. If you are "
            "attempting to use a custom relationship, be sure to append the '__r' after the custom relationship "
            "name. Please reference your WSDL or the describe call for the appropriate names.",
            "errorCode": "INVALID_TYPE",
        }
    ]


def test_a_bulk_query_refuses_a_subquery(api, accounts):
    session, base = api
    answer = session.post(
        f"{base}/jobs/query",
        json={"operation": "query", "query": "SELECT Id, (SELECT Id FROM Contacts) FROM Account"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "API_ERROR"
    assert "Contacts" in answer.json()[0]["message"]
