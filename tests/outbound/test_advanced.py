"""The advanced settings over real HTTP: disable triggers, disable bulk triggers on a 200-record bulk
update and on a 300-record Bulk API load, journeys on bulk add, and cmsync's own Salesforce writes never
echoing back to Campaign Monitor."""

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.clients.salesforce.auth import RefreshTokenAuth
from cmsync.clients.salesforce.client import SalesforceClient
from tests.outbound.conftest import WRITES
from tests.sync.world import World

BULK = 200
LOAD = 300
"""A Bulk API load Salesforce saves in two transactions: records 1-200, then 201-300."""


def _as_admin(world: World) -> SalesforceClient:
    """A Salesforce client signed in as a person (a data loader, say), not as cmsync's integration user."""
    world.sf.oauth.refresh_tokens["admin-refresh-token"] = world.sf.admin_user_id
    url = world.sf_server.url
    auth = RefreshTokenAuth(url, "sandbox-client-id", SecretStr("sandbox-client-secret"), "admin-refresh-token")
    return SalesforceClient(url, auth)


def _bulk_edit(world: World, ids: list[str], values: dict[str, str]) -> None:
    """One sObject Collections update of ``ids`` by a person: one transaction."""
    with_admin = _as_admin(world)
    results = with_admin.update("Contact", [{"Id": record_id, **values} for record_id in ids])
    with_admin.close()
    assert all(result.success for result in results)
    stamps = {world.sf.get(record_id)["SystemModstamp"] for record_id in ids}
    assert len(stamps) == 1


def _bulk_of_contacts(world: World) -> tuple[object, list[str]]:
    client_id = world.clients[0]
    mailing_list = world.cm.state.add_list(client_id, "Bulk")
    world.cm.state.add_journey(client_id, mailing_list.list_id, "Welcome", (("Hello", 0),))
    ids = [
        world.sf.create("Contact", {"LastName": f"Bulk {number}", "Email": f"bulk{number}@bulk.example"})
        for number in range(BULK)
    ]
    return mailing_list, ids


def _edited_web_rule(mailing_list) -> dict:
    return {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "edited",
            "criteria": [{"field": "LeadSource", "op": "equals", "value": "Web"}]}  # fmt: skip


def test_disable_triggers_stops_all_outbound_work(world: World, daemon) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Disabled")
    rule = {"list": mailing_list.list_id, "object": "Contact", "action": "add"}
    running = daemon(subscription_rules=[rule], advanced={"disable_triggers": True})
    cm_calls, sf_calls = len(world.cm.calls.calls()), len(world.sf.calls.calls())
    world.sf.create("Contact", {"LastName": "Ignored", "Email": "ignored@disabled.example"})
    report = running.settle()
    assert report["ran"] is False and report["reason"] == "disable_triggers"
    assert len(world.cm.calls.calls()) == cm_calls
    assert len(world.sf.calls.calls()) == sf_calls
    assert mailing_list.members == {}


def test_disable_bulk_triggers_processes_only_the_first_record_of_a_bulk_update(world: World, daemon) -> None:
    mailing_list, ids = _bulk_of_contacts(world)
    running = daemon(subscription_rules=[_edited_web_rule(mailing_list)], advanced={"disable_bulk_triggers": True})
    _bulk_edit(world, ids, {"LeadSource": "Web"})
    report = running.settle()
    assert list(mailing_list.members) == ["bulk0@bulk.example"]
    assert report["skipped"]["bulk"] == BULK - 1
    assert report["changes"]["Contact"] == BULK
    assert [trigger.cause for trigger in world.cm.state.triggers if trigger.list_id == mailing_list.list_id] == ["add"]


LOAD_DOMAIN = "harbour-outfitters-bulk-load.example.com"


def _load_address(number: int) -> str:
    return f"O'Load.{number:03d}.Customer-Relations@{LOAD_DOMAIN}"


def _active(world: World, list_id: str) -> set[str]:
    with world.cm_client() as client:
        return {subscriber.email.lower() for subscriber in client.subscribers(list_id, SubscriberState.ACTIVE)}


@pytest.mark.parametrize("disable_bulk_triggers", [True, False])
def test_disable_bulk_triggers_on_a_bulk_api_load_processes_the_first_record_of_each_transaction(
    world: World, daemon, disable_bulk_triggers: bool
) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Bulk load")
    rule = {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "created"}
    running = daemon(subscription_rules=[rule], advanced={"disable_bulk_triggers": disable_bulk_triggers})
    with_admin = _as_admin(world)
    records = [{"LastName": f"Load {number}", "Email": _load_address(number)} for number in range(LOAD)]
    results = with_admin.writer.bulk.ingest("insert", "Contact", records)
    loaded = list(with_admin.query(f"SELECT SystemModstamp FROM Contact WHERE Email LIKE '%@{LOAD_DOMAIN}'"))
    with_admin.close()
    assert all(result.success for result in results)
    assert len(loaded) == LOAD and len({row["SystemModstamp"] for row in loaded}) == 2
    running.settle()
    expected = [_load_address(0), _load_address(BULK)] if disable_bulk_triggers else map(_load_address, range(LOAD))
    assert _active(world, mailing_list.list_id) == {address.lower() for address in expected}


@pytest.mark.parametrize("start_journeys", [True, False])
def test_a_bulk_add_goes_through_the_import_api_with_the_journeys_flag(
    world: World, daemon, start_journeys: bool
) -> None:
    mailing_list, ids = _bulk_of_contacts(world)
    running = daemon(
        subscription_rules=[_edited_web_rule(mailing_list)],
        advanced={"trigger_journeys_on_bulk_add": start_journeys},
    )
    _bulk_edit(world, ids, {"LeadSource": "Web"})
    report = running.settle()
    assert len(mailing_list.members) == BULK
    assert report["pushes"]["add:ok"] == BULK
    imports = [call for call in world.cm.calls.calls() if call.endpoint == "POST /subscribers/{listid}/import"]
    assert len(imports) == 1
    started = [trigger for trigger in world.cm.state.triggers if trigger.list_id == mailing_list.list_id]
    assert len(started) == (BULK if start_journeys else 0)
    assert {trigger.cause for trigger in started} == ({"import"} if start_journeys else set())


def test_cmsyncs_own_salesforce_writes_cause_no_campaign_monitor_calls(world: World, daemon) -> None:
    client = world.cm.state.clients[world.clients[0]]
    everyone = {"field": "Email", "op": "notequalto", "value": ""}
    rules = [
        {"list": mailing_list.list_id, "object": kind, "action": "add", "evaluation": "created_or_edited",
         "criteria": [everyone]}
        for mailing_list in client.lists for kind in ("Contact", "Lead")
    ]  # fmt: skip
    mappings = [
        {"list": mailing_list.list_id, "cm_field": "[City]", "contact_field": "MailingCity", "lead_field": "City",
         "direction": "cm2sf"}
        for mailing_list in client.lists
    ]  # fmt: skip
    running = daemon(subscription_rules=rules, field_mappings=mappings,
                     email_opt_out={"opt_out_when_unsubscribed_everywhere": True})  # fmt: skip
    world.cm.calls.clear()
    skipped_before = _own_writes_skipped()
    run = running.sync()
    running.settle()
    assert run.counts["Contact"]["updated"] > 0
    assert _own_writes_skipped() - skipped_before >= run.counts["Contact"]["updated"]
    assert [call for call in world.cm.calls.calls() if call.endpoint in WRITES] == []


def _own_writes_skipped() -> float:
    """The poller's count of changes left out as cmsync's own writes (Prometheus)."""
    return REGISTRY.get_sample_value("cmsync_outbound_skipped_total", {"reason": "own_write"}) or 0.0
