"""The email opt-out toggles over real HTTP: no adds for opted-out records, unsubscribing when Email Opt
Out is checked (as far as each list's unsubscribe setting reaches), and deleting subscribers whose record
is deleted."""

from typing import Any

from tests.outbound.conftest import WRITES, member_contact
from tests.sync.world import World


def _web_rule(mailing_list: Any) -> dict[str, Any]:
    return {"list": mailing_list.list_id, "object": "Contact", "action": "add",
            "criteria": [{"field": "LeadSource", "op": "equals", "value": "Web"}]}  # fmt: skip


def test_opted_out_records_are_not_added(world: World, daemon) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Opt-out adds")
    running = daemon(subscription_rules=[_web_rule(mailing_list)])
    world.sf.create("Contact", {"LastName": "Quiet", "Email": "quiet@optout.example", "LeadSource": "Web",
                                "HasOptedOutOfEmail": True})  # fmt: skip
    world.sf.create("Contact", {"LastName": "Loud", "Email": "loud@optout.example", "LeadSource": "Web"})
    report = running.settle()
    assert set(mailing_list.members) == {"loud@optout.example"}
    assert report["skipped"]["opted_out"] == 1


def test_opting_out_unsubscribes_as_far_as_each_lists_setting_reaches(world: World, daemon) -> None:
    one, two = (world.cm.state.clients[client_id] for client_id in world.clients)
    for mailing_list in one.lists:
        mailing_list.unsubscribe_setting = "OnlyThisList"
    for mailing_list in two.lists:
        mailing_list.unsubscribe_setting = "AllClientLists"
    each_list = member_contact(world, one.lists, "each@optout.example")
    whole_client = member_contact(world, two.lists, "whole@optout.example")
    untouched = member_contact(world, one.lists, "stays@optout.example")
    running = daemon(email_opt_out={"unsubscribe_when_opted_out": True})
    running.sync()
    world.cm.calls.clear()
    for contact in (each_list, whole_client):
        world.sf.update(contact, {"HasOptedOutOfEmail": True})
    world.sf.update(untouched, {"Title": "Still here"})
    running.settle()
    for mailing_list in one.lists:
        assert mailing_list.members["each@optout.example"].state == "Unsubscribed"
        assert mailing_list.members["stays@optout.example"].state == "Active"
    for mailing_list in two.lists:
        assert mailing_list.members["whole@optout.example"].state == "Unsubscribed"
    assert world.cm.calls.counts()["POST /subscribers/{listid}/unsubscribe"] == len(one.lists) + 1
    world.sf.update(each_list, {"Title": "Edited after opting out"})
    running.settle()
    assert world.cm.calls.counts()["POST /subscribers/{listid}/unsubscribe"] == len(one.lists) + 1


def test_deleting_a_record_deletes_its_subscribers(world: World, daemon) -> None:
    lists = world.cm.state.clients[world.clients[0]].lists
    gone = member_contact(world, lists, "gone@optout.example")
    member_contact(world, lists, "kept@optout.example")
    running = daemon(email_opt_out={"delete_subscriber_when_record_deleted": True})
    running.sync()
    world.cm.calls.clear()
    world.sf.delete(gone)
    running.settle()
    for mailing_list in lists:
        assert mailing_list.members["gone@optout.example"].state == "Deleted"
        assert mailing_list.members["kept@optout.example"].state == "Active"
    assert world.cm.calls.counts()["DELETE /subscribers/{listid}"] == len(lists)


def test_without_the_toggles_opting_out_and_deleting_change_nothing(world: World, daemon) -> None:
    lists = world.cm.state.clients[world.clients[0]].lists
    opted = member_contact(world, lists, "opted@optout.example")
    deleted = member_contact(world, lists, "deleted@optout.example")
    running = daemon(email_opt_out={"prevent_add_when_opted_out": False})
    running.sync()
    world.cm.calls.clear()
    world.sf.update(opted, {"HasOptedOutOfEmail": True})
    world.sf.delete(deleted)
    running.settle()
    for mailing_list in lists:
        assert mailing_list.members["opted@optout.example"].state == "Active"
        assert mailing_list.members["deleted@optout.example"].state == "Active"
    assert not [call for call in world.cm.calls.calls() if call.endpoint in WRITES and call.method != "PUT"]
