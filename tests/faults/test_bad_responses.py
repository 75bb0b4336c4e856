"""Bad records and bad responses during real syncs, injected over HTTP through the Campaign Monitor
emulator's ``/_sandbox/faults``: a bad record is rejected alone with its reason and the rest of its list
arrives in Salesforce; a bad answer, a burst of 500s or a read timeout, while planning or importing a
list, is retried and the run converges."""

from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from prometheus_client import REGISTRY

from cmsync.commands.status import status_report, status_text
from tests.sync.conftest import EmbeddedCmsync
from tests.sync.world import World

CLIENT_PLANNING = "GET /clients/{clientid}"
ACTIVE_MEMBERS = "GET /lists/{listid}/active"


def set_faults(world: World, faults: dict[str, Any]) -> None:
    answer = requests.post(f"{world.cm_server.url}/_sandbox/faults", json=faults, timeout=10)
    assert answer.status_code == 200, answer.text


def clear_faults(world: World) -> None:
    assert requests.delete(f"{world.cm_server.url}/_sandbox/faults", timeout=10).status_code == 200


def cm_members(world: World, leaving_out: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """``{member key: state}`` of every member of the selected clients that Campaign Monitor holds (but
    the emails ``leaving_out``)."""
    return {
        f"{mailing_list.list_id}:{member.key}": member.state
        for client_id in world.clients
        for mailing_list in world.cm.state.clients[client_id].lists
        for member in mailing_list.members.values()
        if member.key not in leaving_out
    }


def salesforce_members(cmsync: EmbeddedCmsync) -> dict[str, str]:
    """``{member key: state}`` of every ``CM_List_Member__c``, read through Salesforce's query API."""
    rows = cmsync.systems.salesforce.query("SELECT CM_Member_Key__c, CM_State__c FROM CM_List_Member__c")
    return {row["CM_Member_Key__c"]: row["CM_State__c"] for row in rows}


def rejected_metric(object_name: str) -> float:
    value = REGISTRY.get_sample_value("cmsync_records_total", {"object": object_name, "outcome": "rejected"})
    return value or 0.0


def retried_metric(reason: str) -> float:
    value = REGISTRY.get_sample_value("cmsync_api_retries_total", {"system": "campaign_monitor", "reason": reason})
    return value or 0.0


BAD_SUBSCRIBERS = {
    "impossible date": ({"set": {"Date": "2024-02-30 10:00:00"}}, "Date is not a valid date: '2024-02-30 10:00:00'"),
    "name not text": ({"set": {"Name": ["José", "O'Brien"]}}, "Name is not text: ['José', \"O'Brien\"]"),
    "custom fields not a list": ({"set": {"CustomFields": {"Key": "Colour"}}}, "CustomFields is not a list"),
    "no email": ({"remove": ["EmailAddress"]}, "EmailAddress is missing or not text"),
}


def test_bad_subscribers_are_rejected_alone_and_the_rest_of_the_list_arrives(world: World, embedded) -> None:
    mailing_list = world.cm.state.clients[world.clients[0]].lists[0]
    active = sorted((m for m in mailing_list.members.values() if m.state == "Active"), key=lambda m: m.key)
    victims = dict(zip(BAD_SUBSCRIBERS, active[:: len(active) // len(BAD_SUBSCRIBERS)], strict=False))
    set_faults(world, {"corrupt_records": {victims[name].email: BAD_SUBSCRIBERS[name][0] for name in victims}})
    rejected_before = rejected_metric("CM_List_Member__c")
    cmsync = embedded()

    run = cmsync.sync()

    bad_emails = {victim.key for victim in victims.values()}
    bad_members = {key for key in cm_members(world) if key.split(":", 1)[1] in bad_emails}
    assert salesforce_members(cmsync) == cm_members(world, leaving_out=bad_emails)
    assert run.status == "partial", run.error
    assert run.counts["CM_List_Member__c"]["rejected"] == len(bad_members) >= len(BAD_SUBSCRIBERS)
    assert rejected_metric("CM_List_Member__c") - rejected_before == len(bad_members)
    rejections = cmsync.store.rejections.list(f"members:{mailing_list.list_id}:active")
    by_reason = {name: [r for r in rejections if BAD_SUBSCRIBERS[name][1] in r.reason] for name in BAD_SUBSCRIBERS}
    assert all(len(found) == 1 for found in by_reason.values()), [r.reason for r in rejections]
    for name, (found,) in by_reason.items():
        if name != "no email":
            assert found.key == f"{mailing_list.list_id}:{victims[name].key}"
            assert victims[name].email in found.reason
    shown = status_text(status_report(cmsync.systems.settings, cmsync.store), datetime.now(UTC))
    assert f"run {run.id} partial" in shown
    assert f"rejected:      {cmsync.store.rejections.count()} records kept to retry" in shown

    clear_faults(world)
    again = cmsync.sync(full_pass=True)
    assert again.status == "succeeded", (again.error, [r.reason for r in cmsync.store.rejections.list()])
    assert salesforce_members(cmsync) == cm_members(world)
    assert cmsync.store.rejections.list() == []


def test_a_bad_tracking_event_is_rejected_alone(world: World, embedded) -> None:
    state = world.cm.state
    client = state.clients[world.clients[0]]
    cmsync = embedded()
    assert cmsync.sync().status == "succeeded"
    campaign = state.send_campaign(client.client_id, [client.lists[0].list_id], name="Autumn", subject="Hello")
    readers = [event.email for event in campaign.events["recipients"].events[:6]]
    spoilt, fine = readers[0], readers[1:]
    state.clock.advance(120)
    for email in readers:
        state.record_event(campaign.campaign_id, "opens", email)
    set_faults(world, {"corrupt_records": {spoilt: {"set": {"Latitude": "north"}}}})

    run = cmsync.sync()

    opens = list(
        cmsync.systems.salesforce.query(
            "SELECT CM_Email__c FROM CM_Email_Activity__c "
            f"WHERE CM_Campaign__r.CM_Campaign_ID__c = '{campaign.campaign_id}' AND CM_Type__c = 'Opened'"
        )
    )
    assert sorted(row["CM_Email__c"].lower() for row in opens) == sorted(email.lower() for email in fine)
    assert run.status == "partial", run.error
    (rejection,) = cmsync.store.rejections.list(f"tracking:{campaign.campaign_id}:opened")
    assert spoilt in rejection.reason and "Latitude is not a number: 'north'" in rejection.reason


PLANNING_FAULTS = {
    "500 burst": {"kind": "server_error", "calls": 5},
    "read timeouts": {"kind": "slow_body", "calls": 5, "stall": 1.5},  # past the 1 s timeout below
    "html page": {"kind": "html", "calls": 5},
    "broken json": {"kind": "truncated_json", "calls": 5},
}


@pytest.mark.parametrize("fault", PLANNING_FAULTS.values(), ids=PLANNING_FAULTS.keys())
def test_transient_errors_while_planning_are_retried_and_the_run_converges(
    world: World, embedded, fault: dict[str, Any]
) -> None:
    set_faults(world, {"bad_responses": {**fault, "endpoint": CLIENT_PLANNING}})
    cmsync = embedded(campaign_monitor={"timeout": 1})

    run = cmsync.sync()

    assert run.status == "succeeded", run.error
    assert salesforce_members(cmsync) == cm_members(world)
    assert int(cmsync.store.facts.plan_attempts(run.id).get() or 0) == 2


@pytest.mark.parametrize("kind", ["html", "truncated_json", "wrong_content_type"])
def test_a_bad_answer_during_a_list_import_is_retried_like_a_5xx(world: World, embedded, kind: str) -> None:
    set_faults(world, {"bad_responses": {"kind": kind, "calls": 3, "endpoint": ACTIVE_MEMBERS}})
    retried_before = retried_metric("bad_response")
    cmsync = embedded()

    run = cmsync.sync()

    assert run.status == "succeeded", run.error
    assert salesforce_members(cmsync) == cm_members(world)
    assert retried_metric("bad_response") - retried_before == 3
