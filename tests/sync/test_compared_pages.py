"""A full pass leaves alone the CM pages that are as at the last one, and still repairs everything that
changed: in CM, in Salesforce's member rows, in the Contact/Lead directory, and members gone from CM."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from cmsync.clients.campaign_monitor import records as cm_records
from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.clients.campaign_monitor.subscriber_pages import fingerprint
from cmsync.clients.salesforce import SalesforceClient
from cmsync.clients.salesforce.soql import literal, select
from cmsync.mapping.records import custom_field_values, held_digest, member_key, member_record
from cmsync.state.runs import Run
from cmsync.sync.compared_pages import MEMBER_SHAPE
from cmsync_sandbox.campaign_monitor.state import SubscriberInput
from tests.sync.world import World

MEMBER = "CM_List_Member__c"
PAGE = 10
"""CM's page size in these tests: the 60 members of a list make several pages per state."""


@pytest.fixture
def salesforce(world: World) -> Iterator[SalesforceClient]:
    client = SalesforceClient.from_settings(world.settings().salesforce)
    yield client
    client.close()


def _full_pass(cmsync: Any) -> tuple[Run, dict[str, int]]:
    """A full pass, with how many pages of the first list it compared and left alone."""
    with capture_logs() as logs:
        run = cmsync.sync(full_pass=True)
    assert run.status == "succeeded", run.error
    imported = [log for log in logs if log["event"] == "list imported" and log["list"] == cmsync.first_list]
    assert len(imported) == 1, imported
    return run, {"compared": imported[0]["pages_compared"], "left_alone": imported[0]["pages_left_alone"]}


def _active(world: World, list_id: str) -> list[Any]:
    """The list's active members in CM's page order (by date)."""
    with world.cm_client() as client:
        return list(client.subscribers(list_id, SubscriberState.ACTIVE))


def _rows(salesforce: SalesforceClient, list_id: str) -> dict[str, dict[str, Any]]:
    fields = ["Id", "CM_Member_Key__c", "CM_Email__c", "CM_Subscriber_Name__c", "CM_State__c", "CM_Contact__c"]
    soql = select(MEMBER, fields, where=f"CM_List__r.CM_List_ID__c = {literal(list_id)}")
    return {row["CM_Member_Key__c"]: row for row in salesforce.query(soql)}


def _cm_keys(world: World, list_id: str) -> dict[str, Any]:
    with world.cm_client() as client:
        return {
            member_key(list_id, subscriber.email): subscriber
            for state in SubscriberState
            for subscriber in client.subscribers(list_id, state)
        }


def _assert_matches_cm(world: World, salesforce: SalesforceClient, list_id: str) -> None:
    """The list's rows in Salesforce, one per CM member, with CM's name and state."""
    members, rows = _cm_keys(world, list_id), _rows(salesforce, list_id)
    assert set(rows) == set(members)
    for key, subscriber in members.items():
        assert rows[key]["CM_Subscriber_Name__c"] == (subscriber.name or None), key
        assert rows[key]["CM_State__c"] == subscriber.state.value, key


@pytest.fixture
def cmsync(world: World, embedded: Any) -> Any:
    """cmsync after its first sync, reading CM ``PAGE`` members a page."""
    running = embedded()
    running.systems.campaign_monitor.page_size = PAGE
    running.first_list = world.cm.state.clients[world.clients[0]].lists[0].list_id
    assert running.sync().status == "succeeded"
    return running


def test_a_full_pass_with_nothing_changed_compares_no_page_and_writes_nothing(world: World, cmsync: Any) -> None:
    pages = len(world.cm.state.mailing_list(cmsync.first_list).members) // PAGE
    writes = world.salesforce_writes()
    run, seen = _full_pass(cmsync)
    assert seen["compared"] == 0 and seen["left_alone"] >= pages
    total = sum(len(ml.members) for cid in world.clients for ml in world.cm.state.clients[cid].lists)
    assert run.counts[MEMBER] == {"unchanged": total}
    assert world.salesforce_writes() == writes


def test_an_edit_in_salesforce_is_repaired_and_only_its_page_compared(
    world: World, cmsync: Any, salesforce: SalesforceClient
) -> None:
    list_id = cmsync.first_list
    edited = _active(world, list_id)[PAGE * 2 + 3]
    row = _rows(salesforce, list_id)[member_key(list_id, edited.email)]
    world.sf.update(row["Id"], {"CM_Subscriber_Name__c": "Changed by hand in Salesforce"})
    run, seen = _full_pass(cmsync)
    assert seen["compared"] == 1
    assert run.counts[MEMBER].get("rewritten") == 1
    _assert_matches_cm(world, salesforce, list_id)


def test_a_name_edited_in_cm_is_written_though_its_date_did_not_move(
    world: World, cmsync: Any, salesforce: SalesforceClient
) -> None:
    list_id = cmsync.first_list
    member = _active(world, list_id)[PAGE + 1]
    world.cm.state.update_subscriber(
        list_id, member.email, SubscriberInput(member.email, "Zoë O'Brien-Łukasiewicz", (), "Yes"),
        resubscribe=False, restart_journeys=False,
    )  # fmt: skip
    assert _active(world, list_id)[PAGE + 1].date == member.date
    run, seen = _full_pass(cmsync)
    assert seen["compared"] == 1
    assert run.counts[MEMBER].get("rewritten") == 1
    _assert_matches_cm(world, salesforce, list_id)
    assert _rows(salesforce, list_id)[member_key(list_id, member.email)]["CM_Subscriber_Name__c"] == (
        "Zoë O'Brien-Łukasiewicz"
    )


def test_a_contact_created_in_salesforce_is_linked_on_a_page_cm_did_not_change(
    world: World, cmsync: Any, salesforce: SalesforceClient
) -> None:
    list_id = cmsync.first_list
    rows = _rows(salesforce, list_id)
    unlinked = next(
        member
        for member in _active(world, list_id)[PAGE:]
        if not rows[member_key(list_id, member.email)]["CM_Contact__c"]
        and not any((row.get("Email") or "").lower() == member.email.lower() for row in world.records("Lead"))
    )
    contact = world.sf.create("Contact", {"LastName": "Nowak", "Email": unlinked.email.upper()})
    run, seen = _full_pass(cmsync)
    assert seen["compared"] == 1
    linked = _rows(salesforce, list_id)[member_key(list_id, unlinked.email)]["CM_Contact__c"]
    assert linked is not None and linked[:15] == contact[:15]
    lists = [ml for cid in world.clients for ml in world.cm.state.clients[cid].lists]
    assert run.counts[MEMBER].get("rewritten") == sum(unlinked.email.lower() in ml.members for ml in lists)
    again, seen = _full_pass(cmsync)
    assert seen["compared"] == 0 and set(again.counts[MEMBER]) == {"unchanged"}


def test_a_member_whose_email_changed_in_cm_leaves_and_the_pages_after_it_are_compared(
    world: World, cmsync: Any, salesforce: SalesforceClient
) -> None:
    list_id = cmsync.first_list
    active = _active(world, list_id)
    moved = active[PAGE * 3 + 5]
    world.cm.state.update_subscriber(
        list_id, moved.email, SubscriberInput(f"renamed.d'arcy.{moved.email}", None, (), "Yes"),
        resubscribe=False, restart_journeys=False,
    )  # fmt: skip
    run, seen = _full_pass(cmsync)
    assert run.counts[MEMBER].get("deleted") == 1 and run.counts[MEMBER].get("created") == 1
    assert seen["left_alone"] >= 3, "the pages before the change"
    _assert_matches_cm(world, salesforce, list_id)
    writes = world.salesforce_writes()
    _run, seen = _full_pass(cmsync)
    assert seen["compared"] == 0 and world.salesforce_writes() == writes


def test_the_fingerprint_of_a_page_ignores_the_lists_running_totals_only() -> None:
    page = (
        b'{"Results": [{"EmailAddress": "a@example.com", "Name": "\\"NumberOfPages\\": 7"}], '
        b'"ResultsOrderedBy": "date", "PageNumber": 2, "TotalNumberOfRecords": 1201, "NumberOfPages": 13}'
    )
    assert fingerprint(page) == fingerprint(page.replace(b"1201", b"1187").replace(b": 13}", b": 12}"))
    assert fingerprint(page) != fingerprint(page.replace(b'\\": 7', b'\\": 8'))
    assert fingerprint(page) != fingerprint(page.replace(b"a@example.com", b"b@example.com"))
    assert fingerprint(page) != fingerprint(page.replace(b'"PageNumber": 2', b'"PageNumber": 3'))


def test_the_member_shape_is_raised_when_the_record_built_from_a_member_changes() -> None:
    """If this fails, the records built from CM members changed: raise ``MEMBER_SHAPE`` (so full passes
    compare every page again) and pin the new digest here."""
    member = cm_records.subscriber({
        "EmailAddress": "Zoë.O'Brien@example.org", "Name": "Zoë O'Brien", "Date": "2026-11-02 10:15:00",
        "ListJoinedDate": "2026-10-01 08:00:00", "State": "Active", "ConsentToTrack": "Yes",
        "CustomFields": [{"Key": "Plan", "Value": "Gold"}, {"Key": "Interests", "Value": "News"}],
        "ReadsEmailWith": "Gmail",
    })  # fmt: skip
    record = member_record(member, "list-1", timedelta(hours=-5), custom_field_values(member))
    record["CM_Contact__c"] = "003000000000001AAA"
    record["CM_Lead__c"] = None
    assert (MEMBER_SHAPE, held_digest(record).hex()) == (1, PINNED)


PINNED = "da05fb601e34842447af45e86a63b0ac"
"""The digest of that member's record under ``MEMBER_SHAPE`` 1."""
