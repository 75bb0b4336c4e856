"""Adds and updates a poll makes on one list go to Campaign Monitor in one import call, over real HTTP:
CM ends up as the single calls would leave it (fields, names, address case, journeys started, subscribers
CM holds but not as active), and a subscriber CM refuses is rejected alone with its reason."""

from datetime import UTC, datetime
from typing import Any

import pytest

from cmsync.clients.campaign_monitor.records import Subscriber, SubscriberState
from tests.outbound.conftest import WRITES
from tests.outbound.test_advanced import _as_admin
from tests.sync.world import World

MEMBERS = 40
NEW = 60
DOMAIN = "batch-import.example"


def _address(number: int) -> str:
    """Long, apostrophe-laden addresses that only differ at the end."""
    return f"o'brien-ferreira.customer-relations.{number:03d}@{DOMAIN}"


def _city(number: int) -> str:
    return f"São Paulo 🌆 d'Oeste {number}"


def _batch_list(world: World, name: str) -> Any:
    """A new list with a [City] field and a journey that starts when someone joins it."""
    mailing_list = world.cm.state.add_list(world.clients[0], name)
    world.cm.state.create_custom_field(mailing_list.list_id, "City", "Text")
    world.cm.state.add_journey(world.clients[0], mailing_list.list_id, "Welcome", (("Hello", 0),))
    return mailing_list


def _settings(mailing_list: Any, **advanced: Any) -> dict[str, Any]:
    rule = {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "edited",
            "criteria": [{"field": "LeadSource", "op": "equals", "value": "Web"}]}  # fmt: skip
    mapping = {"list": mailing_list.list_id, "cm_field": "[City]", "contact_field": "MailingCity",
               "direction": "sf2cm"}  # fmt: skip
    return {"subscription_rules": [rule], "field_mappings": [mapping], "advanced": advanced}


def _contacts(world: World, mailing_list: Any, members: range, new: range) -> list[str]:
    """Contacts ``members`` already on the list in CM (as "Before") and ``new`` not on it."""
    world.cm.state.add_members(mailing_list.list_id, [(_address(number), "Before") for number in members])
    return [
        world.sf.create("Contact", {"FirstName": "Siobhán", "LastName": f"O'Brien {number}", "Email": _address(number)})
        for number in [*members, *new]
    ]


def _edit_in_one_transaction(world: World, ids: list[str], **also: Any) -> None:
    """One person's sObject Collections update of every Contact (``also`` on the first): one transaction."""
    with_admin = _as_admin(world)
    edits = [{"Id": record_id, "LeadSource": "Web", "MailingCity": _city(n)} for n, record_id in enumerate(ids)]
    edits[0].update(also)
    results = with_admin.update("Contact", edits)
    with_admin.close()
    assert all(result.success for result in results)


def _subscribers(world: World, list_id: str, state: SubscriberState) -> dict[str, Subscriber]:
    with world.cm_client() as client:
        return {subscriber.email: subscriber for subscriber in client.subscribers(list_id, state)}


def _writes(world: World) -> list[str]:
    return [call.endpoint for call in world.cm.calls.calls() if call.endpoint in WRITES]


def _started(world: World, mailing_list: Any) -> list[str]:
    return [trigger.cause for trigger in world.cm.state.triggers if trigger.list_id == mailing_list.list_id]


@pytest.mark.parametrize("start_journeys", [False, True])
def test_a_polls_adds_and_updates_on_one_list_take_one_import(world: World, daemon, start_journeys: bool) -> None:
    mailing_list = _batch_list(world, "Batched")
    ids = _contacts(world, mailing_list, range(MEMBERS), range(MEMBERS, MEMBERS + NEW))
    running = daemon(**_settings(mailing_list, trigger_journeys_on_bulk_add=start_journeys))
    running.sync()
    world.cm.calls.clear()
    edited = datetime.now(UTC)
    _edit_in_one_transaction(world, ids)
    report = running.pushed_since(edited)
    assert report["pushes"] == {"add:ok": NEW, "update:ok": MEMBERS}
    assert len(_writes(world)) <= 5
    active = _subscribers(world, mailing_list.list_id, SubscriberState.ACTIVE)
    assert set(active) == {_address(number) for number in range(MEMBERS + NEW)}
    for number in range(MEMBERS + NEW):
        subscriber = active[_address(number)]
        assert subscriber.name == f"Siobhán O'Brien {number}"
        assert [(field.key, field.value) for field in subscriber.custom_fields] == [("City", _city(number))]
    assert _started(world, mailing_list) == (["import"] * NEW if start_journeys else [])


def test_a_lone_add_among_updates_still_starts_journeys_as_a_single_add(world: World, daemon) -> None:
    mailing_list = _batch_list(world, "Lone add")
    ids = _contacts(world, mailing_list, range(MEMBERS), range(MEMBERS, MEMBERS + 1))
    running = daemon(**_settings(mailing_list, trigger_journeys_on_bulk_add=False))
    running.sync()
    world.cm.calls.clear()
    edited = datetime.now(UTC)
    _edit_in_one_transaction(world, ids)
    report = running.pushed_since(edited)
    assert report["pushes"] == {"add:ok": 1, "update:ok": MEMBERS}
    assert sorted(_writes(world)) == ["POST /subscribers/{listid}", "POST /subscribers/{listid}/import"]
    assert _started(world, mailing_list) == ["add"]
    active = _subscribers(world, mailing_list.list_id, SubscriberState.ACTIVE)
    assert len(active) == MEMBERS + 1
    assert all(subscriber.custom_fields for subscriber in active.values())


def test_a_subscriber_cm_refuses_in_an_import_is_rejected_alone(world: World, daemon) -> None:
    mailing_list = _batch_list(world, "One refused")
    refused = _address(MEMBERS + NEW - 1)
    ids = _contacts(world, mailing_list, range(MEMBERS), range(MEMBERS, MEMBERS + NEW))
    running = daemon(**_settings(mailing_list))
    running.sync()
    world.cm.state.add_members(mailing_list.list_id, [(refused, "Bounced once")], state="Bounced")
    world.cm.calls.clear()
    edited = datetime.now(UTC)
    _edit_in_one_transaction(world, ids)
    report = running.pushed_since(edited)
    assert report["pushes"] == {"update:ok": MEMBERS, "add:ok": NEW - 1, "add:rejected": 1}
    assert len(_writes(world)) <= 5
    (rejection,) = running.store.rejections.list("outbound")
    assert rejection.reason == "code 207: Is Bounced"
    assert rejection.payload["email"] == refused
    active = _subscribers(world, mailing_list.list_id, SubscriberState.ACTIVE)
    assert set(active) == {_address(number) for number in range(MEMBERS + NEW - 1)}
    assert all(subscriber.custom_fields for subscriber in active.values())
    assert set(_subscribers(world, mailing_list.list_id, SubscriberState.BOUNCED)) == {refused}


def test_updates_of_subscribers_not_active_in_cm_update_them_where_they_are(world: World, daemon) -> None:
    mailing_list = _batch_list(world, "Not active")
    ids = _contacts(world, mailing_list, range(MEMBERS), range(0))
    running = daemon(**_settings(mailing_list))
    running.sync()
    for number, state in ((0, "Unsubscribed"), (1, "Deleted")):
        world.cm.state.change_state(mailing_list.list_id, _address(number), state)
    world.cm.calls.clear()
    edited = datetime.now(UTC)
    _edit_in_one_transaction(world, ids)
    report = running.pushed_since(edited)
    assert report["pushes"] == {"update:ok": MEMBERS}
    assert len(_writes(world)) <= 3
    assert running.store.rejections.list("outbound") == []
    unsubscribed = _subscribers(world, mailing_list.list_id, SubscriberState.UNSUBSCRIBED)
    deleted = _subscribers(world, mailing_list.list_id, SubscriberState.DELETED)
    assert [(field.key, field.value) for field in unsubscribed[_address(0)].custom_fields] == [("City", _city(0))]
    assert [(field.key, field.value) for field in deleted[_address(1)].custom_fields] == [("City", _city(1))]
    assert len(_subscribers(world, mailing_list.list_id, SubscriberState.ACTIVE)) == MEMBERS - 2


def test_an_address_that_only_changes_case_is_renamed_by_its_own_update(world: World, daemon) -> None:
    mailing_list = _batch_list(world, "Case")
    ids = _contacts(world, mailing_list, range(MEMBERS), range(0))
    running = daemon(**_settings(mailing_list))
    running.sync()
    world.cm.calls.clear()
    shouting = _address(0).upper()
    edited = datetime.now(UTC)
    _edit_in_one_transaction(world, ids, Email=shouting)
    running.pushed_since(edited)
    active = _subscribers(world, mailing_list.list_id, SubscriberState.ACTIVE)
    assert shouting in active and _address(0) not in active
    assert [(field.key, field.value) for field in active[shouting].custom_fields] == [("City", _city(0))]
    assert len(active) == MEMBERS
    assert len(_writes(world)) <= 3
