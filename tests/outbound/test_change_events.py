"""Outbound from Change Data Capture over real gRPC against the sandbox's Pub/Sub API: saves reach Campaign
Monitor as they do with polling, a person's edit between two of cmsync's own writes is pushed, gap and
overflow events are read, a dropped stream resumes from the stored replay ID with nothing lost or pushed
twice, and an expired replay ID or an object without CDC falls back to polling, saying so."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.commands.connection import connect
from cmsync.commands.status import status_report, status_text
from cmsync_sandbox.salesforce.pubsub import PubSubServer
from tests.outbound.change_events import following, pushed, start_pubsub, subscribers, until
from tests.outbound.test_advanced import _as_admin, _bulk_of_contacts, _edited_web_rule
from tests.sync.world import World

LONG_DOMAIN = "customer-relations.harbour-outfitters-intl.example.com"
PEOPLE = {"José García": "jose.garcia@cdc.example", "田中 太郎": "Tanaka.Taro@cdc.example",
          "O'Brien": f"o'brien+promo@{LONG_DOMAIN}", "Smile 🙂": "smile@cdc.example"}  # fmt: skip
"""International names and emoji (Salesforce's Email field takes only ASCII, up to 80), apostrophes, capitals, a
plus tag and a long address."""


@pytest.fixture
def pubsub(world: World) -> Iterator[PubSubServer]:
    server = start_pubsub(world)
    yield server
    server.stop()


def _add_rule(list_id: str, object_name: str, **extra: Any) -> dict[str, Any]:
    return {"list": list_id, "object": object_name, "action": "add", "evaluation": "created_or_edited", **extra}


def _source(running: Any) -> dict[str, Any]:
    return running.store.facts.outbound_source.get() or {}


@pytest.mark.parametrize("source", ["cdc", "poll"])
def test_creates_updates_deletes_and_undeletes_reach_cm_as_with_polling(
    world: World, daemon, pubsub: PubSubServer, source: str
) -> None:
    contacts = world.cm.state.add_list(world.clients[0], "CDC contacts")
    leads = world.cm.state.add_list(world.clients[0], "CDC leads")
    web = [{"field": "LeadSource", "op": "equals", "value": "Web"}]
    running = daemon(
        subscription_rules=[_add_rule(contacts.list_id, "Contact", criteria=web), _add_rule(leads.list_id, "Lead")],
        email_opt_out={"delete_subscriber_when_record_deleted": True},
        outbound=following(pubsub) if source == "cdc" else {"source": "poll"},
    )
    assert _source(running)["active"] == source
    sf = world.sf
    ids = [sf.create("Contact", {"LastName": name, "Email": email}) for name, email in PEOPLE.items()]
    lead = sf.create("Lead", {"LastName": "D'Arcy 田中", "Company": "Ünïcode GmbH", "Email": "lead@cdc.example"})
    until(lambda: subscribers(world, leads.list_id) == {"lead@cdc.example"}, "the created Lead in CM")
    assert subscribers(world, contacts.list_id) == set()
    for record_id in ids:
        sf.update(record_id, {"LeadSource": "Web"})
    expected = {email.lower() for email in PEOPLE.values()}
    until(lambda: subscribers(world, contacts.list_id) == expected, "the updated Contacts in CM")
    sf.delete(ids[0])
    sf.delete(lead)
    until(
        lambda: (
            subscribers(world, contacts.list_id, SubscriberState.DELETED) == {"jose.garcia@cdc.example"}
            and subscribers(world, leads.list_id, SubscriberState.DELETED) == {"lead@cdc.example"}
        ),
        "the deleted Contact and Lead set Deleted in CM",
    )
    adds = pushed()
    sf.undelete(ids[0])
    until(lambda: pushed() == adds + 1, "the undeleted Contact pushed again")
    # CM keeps a Deleted subscriber Deleted when it is added without Resubscribe, whichever source pushed it.
    assert subscribers(world, contacts.list_id, SubscriberState.DELETED) == {"jose.garcia@cdc.example"}
    assert _source(running)["active"] == source


def test_account_changes_re_evaluate_their_contacts(world: World, daemon, pubsub: PubSubServer) -> None:
    banking = world.cm.state.add_list(world.clients[0], "CDC banking")
    rule = _add_rule(banking.list_id, "Contact", evaluation="edited",
                     criteria=[{"field": "Account.Industry", "op": "equals", "value": "Banking"}])  # fmt: skip
    account = world.sf.create("Account", {"Name": "Lender's", "Industry": "Retail"})
    for name in ("teller", "clerk"):
        world.sf.create("Contact", {"LastName": name, "Email": f"{name}@bank.example", "AccountId": account})
    daemon(subscription_rules=[rule], advanced={"account_trigger": True}, outbound=following(pubsub))
    world.sf.update(account, {"Industry": "Banking"})
    until(lambda: subscribers(world, banking.list_id) == {"teller@bank.example", "clerk@bank.example"}, "contacts")


def test_a_persons_edit_between_two_of_cmsyncs_own_writes_is_pushed(world: World, daemon, pubsub: PubSubServer) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC own writes")
    web = [{"field": "LeadSource", "op": "equals", "value": "Web"}]
    rule = _add_rule(mailing_list.list_id, "Contact", criteria=web)
    contact = world.sf.create("Contact", {"LastName": "Ng", "Email": "ng@between.example"})
    running = daemon(subscription_rules=[rule], outbound=following(pubsub))
    salesforce = running.cmsync.systems.salesforce
    path = salesforce.transport.data_path(f"sobjects/Contact/{contact}")
    salesforce.transport.call("update", "PATCH", path, json={"LeadSource": "Web"})
    until(lambda: _source(running).get("lag_seconds") is not None, "cmsync's own write acted on as a change event")
    assert running.store.facts.outbound_last_poll.get()["skipped"] == {"own_write": 1}
    assert [call for call in world.cm.calls.calls() if call.method != "GET"] == []
    assert subscribers(world, mailing_list.list_id) == set()
    world.sf.update(contact, {"Department": "Sales"})
    salesforce.transport.call("update", "PATCH", path, json={"Title": "Own write again"})
    until(lambda: subscribers(world, mailing_list.list_id) == {"ng@between.example"}, "the person's edit in CM")


def test_gap_and_overflow_events_are_read_from_salesforce(world: World, daemon, pubsub: PubSubServer) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC gaps")
    daemon(subscription_rules=[_add_rule(mailing_list.list_id, "Contact")], outbound=following(pubsub))
    world.sf.events.controls.gap_transactions = 1
    world.sf.create("Contact", {"LastName": "Gap", "Email": "gap@cdc.example"})
    until(lambda: subscribers(world, mailing_list.list_id) == {"gap@cdc.example"}, "the gap event's Contact in CM")
    world.sf.events.controls.overflow_transactions = 1
    world.sf.create("Contact", {"LastName": "Overflow", "Email": "overflow@cdc.example"})
    until(
        lambda: subscribers(world, mailing_list.list_id) == {"gap@cdc.example", "overflow@cdc.example"},
        "the overflowed Contact in CM",
    )


def test_a_dropped_stream_resumes_from_the_stored_replay_id(world: World, daemon, pubsub: PubSubServer) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC drops")
    running = daemon(subscription_rules=[_add_rule(mailing_list.list_id, "Contact")], outbound=following(pubsub))
    before = pushed("add") + pushed("update")
    first = [f"before.{n}@drop.example" for n in range(5)]
    for email in first:
        world.sf.create("Contact", {"LastName": "Before", "Email": email})
    until(lambda: subscribers(world, mailing_list.list_id) == set(first), "the first Contacts in CM")
    world.sf.events.controls.delay_seconds = 0.5
    later = [f"after.{n}@drop.example" for n in range(5)]
    for email in later:
        world.sf.create("Contact", {"LastName": "After", "Email": email})
    with world.sf.events.condition:
        world.sf.events.controls.drops += 1
        world.sf.events.controls.delay_seconds = 0.0
        world.sf.events.condition.notify_all()
    until(lambda: subscribers(world, mailing_list.list_id) == set(first + later), "every Contact in CM")
    until(lambda: running.store.facts.cdc_progress("Contact").get(), "a stored replay ID")
    # Each Contact pushed once: as an add, or as an update when a resumed stream met it after a catch-up.
    assert pushed("add") + pushed("update") - before == len(first + later)


def test_an_object_without_cdc_polls_instead_and_says_why(
    world: World, daemon, pubsub: PubSubServer, capfd: pytest.CaptureFixture[str]
) -> None:
    leads = world.cm.state.add_list(world.clients[0], "CDC off leads")
    world.sf.events.controls.disabled = {"Lead"}
    running = daemon(subscription_rules=[_add_rule(leads.list_id, "Lead")], outbound=following(pubsub))
    source = until(lambda: _source(running).get("active") == "poll" and _source(running), "the poll source noted")
    assert source["reason"] == "Change Data Capture is not enabled for Lead (Setup → Change Data Capture)"
    assert "outbound polls instead of following change events" in capfd.readouterr().out
    assert REGISTRY.get_sample_value("cmsync_outbound_fallbacks_total", {"reason": "cdc_unavailable"}) >= 1
    world.sf.create("Lead", {"LastName": "Polled", "Company": "Acme", "Email": "polled@lead.example"})
    until(lambda: subscribers(world, leads.list_id) == {"polled@lead.example"}, "the polled Lead in CM")


def test_an_expired_replay_id_catches_up_with_a_poll(
    world: World, daemon, pubsub: PubSubServer, capfd: pytest.CaptureFixture[str]
) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC expired")
    rules = [_add_rule(mailing_list.list_id, "Contact")]
    running = daemon(subscription_rules=rules, outbound=following(pubsub))
    world.sf.create("Contact", {"LastName": "Early", "Email": "early@expired.example"})
    until(lambda: subscribers(world, mailing_list.list_id) == {"early@expired.example"}, "the first Contact in CM")
    running.stop()
    world.sf.create("Contact", {"LastName": "Down", "Email": "while.down@expired.example"})
    world.sf.clock.advance(73 * 3600)
    fallbacks = REGISTRY.get_sample_value("cmsync_outbound_fallbacks_total", {"reason": "replay_expired"}) or 0
    daemon(subscription_rules=rules, outbound=following(pubsub))
    until(
        lambda: subscribers(world, mailing_list.list_id) == {"early@expired.example", "while.down@expired.example"},
        "the Contact saved while down in CM",
    )
    warned = [line for line in capfd.readouterr().out.splitlines() if "no longer reach back" in line]
    expired = {line.rsplit("object=", 1)[1].split()[0] for line in warned}
    assert "Contact" in expired and expired <= {"Contact", "Lead"}  # Lead too if a keepalive stored its replay ID
    assert "catching up with a poll, then following change events again" in warned[0]
    assert REGISTRY.get_sample_value(
        "cmsync_outbound_fallbacks_total", {"reason": "replay_expired"}
    ) == fallbacks + len(expired)
    world.sf.create("Contact", {"LastName": "Later", "Email": "later@expired.example"})
    until(lambda: "later@expired.example" in subscribers(world, mailing_list.list_id), "a change event after it")


def test_disable_bulk_triggers_pushes_the_first_record_of_one_persons_transaction(
    world: World, daemon, pubsub: PubSubServer
) -> None:
    mailing_list, ids = _bulk_of_contacts(world)
    daemon(
        subscription_rules=[_edited_web_rule(mailing_list)],
        advanced={"disable_bulk_triggers": True},
        outbound=following(pubsub),
    )
    person = _as_admin(world)
    person.transport.session.headers.pop("Sforce-Call-Options")  # a data loader, not cmsync
    results = person.update("Contact", [{"Id": record_id, "LeadSource": "Web"} for record_id in ids])
    person.close()
    assert all(result.success for result in results)
    world.sf.update(ids[5], {"LeadSource": "Web", "Title": "Edited alone"})
    until(lambda: subscribers(world, mailing_list.list_id) == {"bulk0@bulk.example", "bulk5@bulk.example"}, "firsts")
    assert set(mailing_list.members) == {"bulk0@bulk.example", "bulk5@bulk.example"}


def test_a_save_made_while_disconnected_is_never_pushed(world: World, daemon, pubsub: PubSubServer) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC disconnected")
    running = daemon(subscription_rules=[_add_rule(mailing_list.list_id, "Contact")], outbound=following(pubsub))
    world.sf.create("Contact", {"LastName": "Before", "Email": "before@off.example"})
    until(lambda: subscribers(world, mailing_list.list_id) == {"before@off.example"}, "the first Contact in CM")
    running.store.connection.set(False)
    until(lambda: (running.store.facts.outbound_last_poll.get() or {}).get("reason") == "disconnected", "outbound off")
    saved_off = world.sf.create("Contact", {"LastName": "D'Off", "Email": "while.off@off.example"})
    stamp = world.sf.store.find(saved_off)[1][world.sf.store.table("Contact").slot["SystemModstamp"]]
    until(lambda: world.sf.clock.milliseconds() > stamp, "the org's clock past the save")  # as a person is slower
    connect(running.store)
    world.sf.create("Contact", {"LastName": "After", "Email": "after@off.example"})
    until(lambda: "after@off.example" in subscribers(world, mailing_list.list_id), "the Contact saved after connect")
    assert subscribers(world, mailing_list.list_id) == {"before@off.example", "after@off.example"}
    assert _source(running)["active"] == "cdc"


def test_an_expired_token_resubscribes_from_the_stored_replay_id(world: World, daemon, pubsub: PubSubServer) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC tokens")
    daemon(subscription_rules=[_add_rule(mailing_list.list_id, "Contact")], outbound=following(pubsub))
    world.sf.create("Contact", {"LastName": "First", "Email": "first@token.example"})
    until(lambda: subscribers(world, mailing_list.list_id) == {"first@token.example"}, "the first Contact in CM")
    world.sf.expire_tokens()
    world.sf.create("Contact", {"LastName": "Second", "Email": "second@token.example"})
    until(
        lambda: subscribers(world, mailing_list.list_id) == {"first@token.example", "second@token.example"},
        "the Contact saved after the token expired",
    )


def test_status_and_check_config_name_the_source_and_its_lag(world: World, daemon, pubsub: PubSubServer) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "CDC status")
    running = daemon(subscription_rules=[_add_rule(mailing_list.list_id, "Contact")], outbound=following(pubsub))
    assert "outbound cdc" in running.cmsync.systems.settings.summary()
    world.sf.create("Contact", {"LastName": "Shown", "Email": "shown@status.example"})
    until(lambda: _source(running).get("lag_seconds") is not None, "a change acted on")
    text = status_text(status_report(running.cmsync.systems.settings, running.store), datetime.now(UTC))
    line = next(line for line in text.splitlines() if line.startswith("outbound:"))
    assert re.fullmatch(r"outbound: +active, following change events \(CDC\), lag \d+\.\ds, last poll .+", line)
    assert REGISTRY.get_sample_value("cmsync_outbound_source", {"source": "cdc"}) == 1
    assert REGISTRY.get_sample_value("cmsync_outbound_source", {"source": "poll"}) == 0
