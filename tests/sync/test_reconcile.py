"""Salesforce converges to Campaign Monitor's list members: after same-minute state flips, after edits and
deletions made in Salesforce (the full pass), and refused members are retried only while CM has them."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.clients.salesforce import SalesforceClient
from cmsync.clients.salesforce.soql import literal, select
from cmsync.commands.status import status_report
from cmsync.mapping.records import member_key
from cmsync_sandbox.campaign_monitor.model import Subscriber
from cmsync_sandbox.campaign_monitor.state import SubscriberInput
from tests.sync.world import World

MEMBER = "CM_List_Member__c"
FIELDS = ["Id", "CM_Member_Key__c", "Name", "CM_Email__c", "CM_Subscriber_Name__c", "CM_State__c", "CM_Date__c",
          "CM_Joined_Date__c", "CM_Custom_Fields__c", "CM_Contact__c", "CM_Lead__c"]  # fmt: skip


@pytest.fixture
def salesforce(world: World) -> Iterator[SalesforceClient]:
    """A REST client of the Salesforce emulator, for reading rows and for edits "made in Salesforce"."""
    client = SalesforceClient.from_settings(world.settings().salesforce)
    yield client
    client.close()


def _list_of(world: World, index: int = 0) -> Any:
    return world.cm.state.clients[world.clients[0]].lists[index]


def _rows(salesforce: SalesforceClient, list_id: str) -> dict[str, dict[str, Any]]:
    soql = select(MEMBER, FIELDS, where=f"CM_List__r.CM_List_ID__c = {literal(list_id)}")
    return {row["CM_Member_Key__c"]: row for row in salesforce.query(soql)}


def _cm_members(world: World, list_id: str) -> dict[str, Any]:
    with world.cm_client() as client:
        return {
            f"{list_id}:{subscriber.email.lower()}": subscriber
            for state in SubscriberState
            for subscriber in client.subscribers(list_id, state)
        }


def _assert_salesforce_matches_cm(world: World, salesforce: SalesforceClient, list_id: str) -> None:
    """Every member of the list in Salesforce, field by field as CM has it, and nothing else."""
    client_id = world.cm.state.mailing_list(list_id).client_id
    offset = timedelta(minutes=world.cm.state.clients[client_id].utc_offset_minutes)
    members = _cm_members(world, list_id)
    rows = _rows(salesforce, list_id)
    assert set(rows) == set(members)
    for key, subscriber in members.items():
        row = rows[key]
        assert row["CM_Email__c"] == subscriber.email, key
        assert row["Name"] == subscriber.email[:80] or row["Name"].endswith("…"), key
        assert row["CM_Subscriber_Name__c"] == (subscriber.name or None), key
        assert row["CM_State__c"] == subscriber.state.value, key
        assert row["CM_Date__c"][:19] == (subscriber.date - offset).strftime("%Y-%m-%dT%H:%M:%S"), key
        joined = subscriber.joined and (subscriber.joined - offset).strftime("%Y-%m-%dT%H:%M:%S")
        assert (row["CM_Joined_Date__c"] or "")[:19] == (joined or ""), key
        custom = sorted(field.value for field in subscriber.custom_fields)
        assert bool(row["CM_Custom_Fields__c"]) == bool(custom), key


def _start_of_a_minute(world: World) -> None:
    """Move CM's clock to the start of a minute, so changes made now share that minute."""
    seconds = world.cm.state.clock.seconds()
    requests.post(f"{world.cm_server.url}/_sandbox/clock", json={"advance": 60 - int(seconds) % 60}, timeout=10)


def _set_state(world: World, list_id: str, email: str, state: str) -> str:
    """A change of state made in CM's UI (the emulator's control API); returns the member's Date."""
    answer = requests.post(
        f"{world.cm_server.url}/_sandbox/lists/{list_id}/state", json={"email": email, "state": state}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    with world.cm_client() as client:
        subscriber = client.subscriber(list_id, email)
    assert subscriber.state.value == state
    return subscriber.date.isoformat()


def test_a_state_flipped_back_within_one_minute_converges(world: World, embedded, salesforce: SalesforceClient) -> None:
    mailing_list = _list_of(world)
    list_id = mailing_list.list_id
    member = next(m for m in mailing_list.members.values() if m.state == "Active" and "'" not in m.email)
    cmsync = embedded()
    cmsync.sync()
    _start_of_a_minute(world)
    dates = {
        _set_state(world, list_id, member.email, "Unsubscribed"),
        _set_state(world, list_id, member.email, "Active"),
    }
    assert cmsync.sync().status == "succeeded"
    assert _rows(salesforce, list_id)[f"{list_id}:{member.key}"]["CM_State__c"] == "Active"
    dates.add(_set_state(world, list_id, member.email, "Unsubscribed"))
    assert cmsync.sync().status == "succeeded"
    assert _rows(salesforce, list_id)[f"{list_id}:{member.key}"]["CM_State__c"] == "Unsubscribed"
    dates.add(_set_state(world, list_id, member.email, "Active"))
    assert len(dates) == 1, f"the changes were meant to share one CM minute: {dates}"

    incremental = cmsync.sync()
    assert incremental.status == "succeeded", incremental.error
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert incremental.counts[MEMBER]["rewritten"] == 1

    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert set(full.counts[MEMBER]) == {"unchanged"}


def test_a_full_pass_repairs_what_was_changed_in_salesforce(
    world: World, embedded, salesforce: SalesforceClient
) -> None:
    cmsync = embedded()
    cmsync.sync()
    mailing_list = _list_of(world)
    list_id = mailing_list.list_id
    rows = _rows(salesforce, list_id)
    linked = [row for row in rows.values() if row["CM_Contact__c"]]
    plain = [row for row in rows.values() if not row["CM_Contact__c"] and row["CM_State__c"] == "Active"]
    removed, edited, dated, unlinked = plain[0], plain[1], plain[2], linked[0]
    list_row = next(iter(salesforce.query(select("CM_List__c", ["Id"], where=f"CM_List_ID__c = {literal(list_id)}"))))
    drift = [
        salesforce.delete(MEMBER, [removed["Id"]]),
        salesforce.update(MEMBER, [
            {"Id": edited["Id"], "CM_State__c": "Bounced", "CM_Subscriber_Name__c": "Zoë O'Hara, edited in Salesforce"},
            {"Id": dated["Id"], "CM_Date__c": "2001-01-01T00:00:00.000Z", "CM_Custom_Fields__c": None},
            {"Id": unlinked["Id"], "CM_Contact__c": None},
        ]),
        salesforce.insert(MEMBER, [{
            "CM_Member_Key__c": f"{list_id}:ghost.田中@example.jp", "Name": "ghost.田中@example.jp",
            "CM_Email__c": "ghost@example.jp", "CM_State__c": "Active", "CM_List__c": list_row["Id"],
        }]),
    ]  # fmt: skip
    assert all(result.success for results in drift for result in results), drift
    total = sum(len(ml.members) for cid in world.clients for ml in world.cm.state.clients[cid].lists)

    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert full.counts[MEMBER] == {"created": 1, "rewritten": 3, "deleted": 1, "unchanged": total - 4}
    repaired = _rows(salesforce, list_id)
    assert repaired[unlinked["CM_Member_Key__c"]]["CM_Contact__c"] == unlinked["CM_Contact__c"]
    assert repaired[dated["CM_Member_Key__c"]]["CM_Custom_Fields__c"] == dated["CM_Custom_Fields__c"]
    shown = status_report(cmsync.systems.settings, cmsync.store)["last_run"]
    assert shown["counts"][MEMBER]["deleted"] == 1 and shown["counts"][MEMBER]["created"] == 1

    writes = world.salesforce_writes()
    again = cmsync.sync(full_pass=True)
    assert again.status == "succeeded", again.error
    assert world.salesforce_writes() == writes
    assert again.counts[MEMBER] == {"unchanged": total}


def _long_address(local: str, domain: str) -> str:
    """An address longer than the 255 characters ``CM_Email__c`` holds, so Salesforce refuses its member."""
    return f"{local}.{'x' * (262 - len(local) - len(domain))}@{domain}"


def test_a_refused_member_is_retried_only_while_cm_has_it(world: World, embedded, salesforce: SalesforceClient) -> None:
    state = world.cm.state
    with_journeys = {journey.list_id for cid in world.clients for journey in state.clients[cid].journeys}
    list_id = next(
        ml.list_id for cid in world.clients for ml in state.clients[cid].lists if ml.list_id not in with_journeys
    )
    corrected, kept = _long_address("josé.o'brien", "example.org"), _long_address("田中", "example.jp")
    mailing_list = next(ml for cid in world.clients for ml in state.clients[cid].lists if ml.list_id == list_id)
    now = state.clock.now()
    with state.lock:
        for email in (corrected, kept):
            mailing_list.insert(Subscriber(email, email, "Long One", "Active", now, now))
    cmsync = embedded()
    first = cmsync.sync()
    assert first.status == "partial" and first.counts[MEMBER]["rejected"] == 2
    assert {rejection.key for rejection in cmsync.store.rejections.list()} == {
        member_key(list_id, corrected),
        member_key(list_id, kept),
    }

    state.update_subscriber(list_id, corrected, SubscriberInput("jose.o'brien@example.org", None, (), "Unchanged"),
                            resubscribe=False, restart_journeys=False)  # fmt: skip
    second = cmsync.sync()
    assert second.counts[MEMBER].get("rejected") == 1
    (rejection,) = cmsync.store.rejections.list()
    assert rejection.key == member_key(list_id, kept) and rejection.attempts == 2
    assert status_report(cmsync.systems.settings, cmsync.store)["rejected_records"] == 1

    state.update_subscriber(list_id, kept, SubscriberInput("tanaka@example.jp", None, (), "Unchanged"),
                            resubscribe=False, restart_journeys=False)  # fmt: skip
    third = cmsync.sync()
    assert third.status == "succeeded", third.counts
    assert "rejected" not in third.counts[MEMBER]
    assert status_report(cmsync.systems.settings, cmsync.store)["rejected_records"] == 0
    writes = world.salesforce_writes()
    assert cmsync.sync().status == "succeeded"
    assert world.salesforce_writes() == writes

    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    _assert_salesforce_matches_cm(world, salesforce, list_id)


def _bulk_queries(world: World) -> int:
    """Bulk API query jobs Salesforce was asked for."""
    return sum(1 for call in world.sf.calls.calls() if call.method == "POST" and call.path.endswith("/jobs/query"))


def _whole_reads(world: World) -> int:
    """Times a list's rows were read whole from Salesforce: each such read starts by counting them."""
    counts = f"SELECT COUNT() FROM {MEMBER} "
    return sum(
        1
        for call in world.sf.calls.calls()
        if call.path.endswith("/query") and any(q.startswith(counts) for q in parse_qs(call.query).get("q", []))
    )


def test_a_full_pass_reads_only_the_rows_changed_since_the_last_one(
    world: World, embedded, salesforce: SalesforceClient
) -> None:
    cmsync = embedded()
    assert cmsync.sync().status == "succeeded"
    assert _bulk_queries(world) == 2, "a first sync into an empty org reads the Contact and Lead directory alone"
    mailing_list = _list_of(world)
    list_id = mailing_list.list_id
    rows = _rows(salesforce, list_id)
    plain = [row for row in rows.values() if row["CM_State__c"] == "Active" and "'" not in row["CM_Email__c"]]
    edited, removed, moved = plain[0], plain[1], plain[2]
    world.sf.update(edited["Id"], {"CM_Subscriber_Name__c": "Edited by a person"})
    world.sf.delete(removed["Id"])
    _set_state(world, list_id, moved["CM_Email__c"], "Unsubscribed")
    assert cmsync.sync().counts[MEMBER].get("rewritten"), "cmsync's own write of the member CM changed"
    list_row = next(iter(salesforce.query(select("CM_List__c", ["Id"], where=f"CM_List_ID__c = {literal(list_id)}"))))
    ghost = world.sf.create(MEMBER, {
        "CM_Member_Key__c": f"{list_id}:ghost@example.org", "Name": "ghost@example.org",
        "CM_Email__c": "ghost@example.org", "CM_State__c": "Active", "CM_List__c": list_row["Id"],
    })  # fmt: skip

    reads = _whole_reads(world)
    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    assert _whole_reads(world) == reads, "the rows were read whole"
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert {outcome: n for outcome, n in full.counts[MEMBER].items() if outcome != "unchanged"} == {
        "created": 1, "rewritten": 1, "deleted": 1
    }  # fmt: skip

    world.sf.undelete(ghost)
    writes = world.salesforce_writes()
    undeleted = cmsync.sync(full_pass=True)
    assert _whole_reads(world) == reads
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert set(undeleted.counts[MEMBER]) == {"unchanged", "deleted"} and undeleted.counts[MEMBER]["deleted"] == 1
    assert world.salesforce_writes() == writes + 1

    writes = world.salesforce_writes()
    again = cmsync.sync(full_pass=True)
    assert set(again.counts[MEMBER]) == {"unchanged"}
    assert world.salesforce_writes() == writes and _whole_reads(world) == reads


def test_a_full_pass_reads_the_rows_whole_when_a_delete_is_no_longer_known(
    world: World, embedded, salesforce: SalesforceClient
) -> None:
    cmsync = embedded()
    assert cmsync.sync().status == "succeeded"
    list_id = _list_of(world).list_id
    first, second = list(_rows(salesforce, list_id).values())[:2]
    assert all(result.success for result in salesforce.delete(MEMBER, [first["Id"]], hard=True))
    reads = _whole_reads(world)
    hard = cmsync.sync(full_pass=True)
    assert hard.status == "succeeded", hard.error
    assert _whole_reads(world) > reads, "a row deleted past the recycle bin has no key to forget"
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert hard.counts[MEMBER].get("created") == 1

    world.sf.delete(second["Id"])
    world.sf.purge_delete_log()
    reads = _whole_reads(world)
    purged = cmsync.sync(full_pass=True)
    assert _whole_reads(world) > reads, "getDeleted no longer reaches back to the last pass"
    _assert_salesforce_matches_cm(world, salesforce, list_id)
    assert purged.counts[MEMBER].get("created") == 1
