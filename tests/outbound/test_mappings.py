"""sf2cm field mappings and email changes over real HTTP: each CM data type, values CM would refuse
rejected per record with their reason, and a new email address carried to every list the record is on."""

from typing import Any

from cmsync_sandbox.campaign_monitor.state import FieldValue, SubscriberInput
from tests.outbound.conftest import member_contact
from tests.sync.world import World


def _field_values(member: Any) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in member.fields:
        values.setdefault(name, []).append(value)
    return values


def test_mapped_fields_reach_every_cm_data_type(world: World, daemon) -> None:
    mailing_list = world.cm.state.clients[world.clients[0]].lists[0]
    state = world.cm.state
    state.create_custom_field(mailing_list.list_id, "Birthday", "Date")
    state.create_custom_field(mailing_list.list_id, "Country", "Country")
    state.create_custom_field(mailing_list.list_id, "State", "USState")
    mapped = {
        "[City]": "MailingCity", "[Plan]": "Title", "[Interests]": "Department",
        "[LoyaltyPoints]": "Account.NumberOfEmployees", "[Birthday]": "Birthdate",
        "[Country]": "MailingCountry", "[State]": "Description",
    }  # fmt: skip
    mappings = [
        {"list": mailing_list.list_id, "cm_field": key, "contact_field": field, "direction": "sf2cm"}
        for key, field in mapped.items()
    ]
    account = world.sf.create("Account", {"Name": "Counted", "NumberOfEmployees": 1234})
    typed = member_contact(world, [mailing_list], "typed@map.example", AccountId=account)
    too_long = member_contact(world, [mailing_list], "long@map.example")
    not_an_option = member_contact(world, [mailing_list], "option@map.example")
    running = daemon(field_mappings=mappings)
    running.sync()
    world.sf.update(typed, {
        "FirstName": "Ada", "MailingCity": "Zürich", "Title": "plus", "Department": "news;Offers",
        "Birthdate": "1980-02-29", "MailingCountry": "Switzerland", "Description": "California",
    })  # fmt: skip
    world.sf.update(too_long, {"MailingCity": "Lima", "Description": "x" * 251})
    world.sf.update(not_an_option, {"Title": "Gold"})
    report = running.settle()
    subscriber = mailing_list.members["typed@map.example"]
    assert subscriber.name == "Ada Person"
    assert _field_values(subscriber) == {
        "City": ["Zürich"], "Plan": ["Plus"], "Interests": ["News", "Offers"], "Loyalty Points": ["1234"],
        "Birthday": ["1980/02/29"], "Country": ["Switzerland"], "State": ["California"],
    }  # fmt: skip
    assert _field_values(mailing_list.members["long@map.example"]) == {}
    assert _field_values(mailing_list.members["option@map.example"]) == {}
    reasons = {rejection.key.split(":")[1]: rejection.reason for rejection in running.store.rejections.list("outbound")}
    assert set(reasons) == {too_long, not_an_option}
    assert "251 characters" in reasons[too_long] and "250" in reasons[too_long]
    assert "'Gold' is not one of the field's options" in reasons[not_an_option]
    assert report["pushes"]["update:rejected"] == 2
    calls = len(world.cm.calls.calls())
    world.sf.update(typed, {"Phone": "+41 44 000 00 00"})
    assert running.settle()["skipped"]["unchanged"] == 1
    assert len(world.cm.calls.calls()) == calls
    world.sf.update(typed, {"Description": None})
    running.settle()
    assert "State" not in _field_values(mailing_list.members["typed@map.example"])


def test_email_change_moves_the_subscriber_on_every_list(world: World, daemon) -> None:
    first, second = world.cm.state.clients[world.clients[0]].lists
    contact = member_contact(world, [first, second], "before@move.example", FirstName="Mo")
    running = daemon()
    running.sync()
    world.sf.update(contact, {"Email": "after@move.example"})
    report = running.settle()
    for mailing_list in (first, second):
        assert "before@move.example" not in mailing_list.members
        assert mailing_list.members["after@move.example"].state == "Active"
        assert mailing_list.members["after@move.example"].name == "Mo Person"
    assert report["pushes"]["email_change:ok"] == 2
    world.sf.update(contact, {"FirstName": "Moe"})
    running.settle()
    assert first.members["after@move.example"].name == "Moe Person"


def test_an_edit_that_changes_nothing_cm_holds_costs_no_call(world: World, daemon) -> None:
    mailing_list = world.cm.state.clients[world.clients[0]].lists[0]
    world.cm.state.add_members(mailing_list.list_id, [("same@map.example", "Ann Person")])
    world.cm.state.update_subscriber(
        mailing_list.list_id, "same@map.example",
        SubscriberInput("same@map.example", None, (FieldValue("City", "Lima"),), "Unchanged"),
        resubscribe=False, restart_journeys=False,
    )  # fmt: skip
    contact = world.sf.create(
        "Contact", {"FirstName": "Ann", "LastName": "Person", "Email": "same@map.example", "MailingCity": "Lima"}
    )
    mapping = {"list": mailing_list.list_id, "cm_field": "[City]", "contact_field": "MailingCity", "direction": "sf2cm"}
    running = daemon(field_mappings=[mapping])
    running.sync()
    world.sf.update(contact, {"Phone": "+51 1 000 0000"})
    assert running.settle()["skipped"] == {"unchanged": 1}
    assert "PUT /subscribers/{listid}" not in world.cm.calls.counts()
    world.sf.update(contact, {"MailingCity": "Cusco"})
    running.settle()
    assert mailing_list.members["same@map.example"].fields == (("City", "Cusco"),)


def test_consent_to_track_comes_from_the_field_mapped_to_it(world: World, daemon) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Consent")
    rule = {"list": mailing_list.list_id, "object": "Lead", "action": "add"}
    mapping = {"list": mailing_list.list_id, "cm_field": "[ReservedConsentToTrack]", "lead_field": "Title",
               "direction": "sf2cm"}  # fmt: skip
    running = daemon(subscription_rules=[rule], field_mappings=[mapping])
    for name, title in (("yes", "yes"), ("no", "No")):
        lead = {"LastName": name, "Company": "Acme", "Email": f"{name}@consent.example", "Title": title}
        world.sf.create("Lead", lead)
    running.settle()
    assert {key: member.consent for key, member in mailing_list.members.items()} == {
        "yes@consent.example": "Yes", "no@consent.example": "No",
    }  # fmt: skip
    assert all(member.fields == () for member in mailing_list.members.values())
