"""A ``[SalesforceId]`` naming a Contact or Lead links it whether or not the record has an email, in its
15- or 18-character form (the 18-character one in any case); one naming no such record is ignored and the
subscriber is linked by email, as if the field were empty."""

from cmsync_sandbox.campaign_monitor.state import FieldValue, SubscriberInput
from tests.sync.world import World


def _name(world: World, list_id: str, email: str, salesforce_id: str) -> None:
    world.cm.state.update_subscriber(
        list_id,
        email,
        SubscriberInput(email, None, (FieldValue("Salesforce ID", salesforce_id),), "Unchanged"),
        resubscribe=False,
        restart_journeys=False,
    )


def _links(world: World, list_id: str) -> dict[str, tuple[str | None, str | None]]:
    rows = world.query(
        "SELECT CM_Email__c, CM_Contact__c, CM_Lead__c FROM CM_List_Member__c "
        f"WHERE CM_List__r.CM_List_ID__c = '{list_id}'"
    )
    return {row["CM_Email__c"]: (row["CM_Contact__c"], row["CM_Lead__c"]) for row in rows}


def test_an_explicit_id_links_records_without_email_and_a_missing_one_falls_back_to_email(
    world: World, embedded
) -> None:
    mailing_list = world.cm.state.clients[world.clients[0]].lists[0]
    list_id = mailing_list.list_id
    world.cm.state.create_custom_field(list_id, "Salesforce ID", "Text")
    first, second, third, fourth, fifth = (member.email for member in list(mailing_list.members.values())[:5])
    no_email_contact = world.sf.create("Contact", {"LastName": "Without Email"})
    no_email_lead = world.sf.create("Lead", {"LastName": "Without Email", "Company": "Quiet Ltd"})
    gone = world.sf.create("Contact", {"LastName": "Gone", "Email": "gone@example.com"})
    world.sf.delete(gone)
    by_email = {
        email: world.sf.create("Contact", {"LastName": "By Email", "Email": email.upper()}) for email in (third, fourth)
    }
    _name(world, list_id, first, no_email_contact.lower())
    _name(world, list_id, second, no_email_lead[:15])
    _name(world, list_id, third, "not a record id")
    _name(world, list_id, fourth, gone)
    cmsync = embedded(campaign_monitor={"clients": world.clients[:1]})
    assert cmsync.sync().status == "succeeded"
    links = _links(world, list_id)
    assert links[first][0] == no_email_contact
    assert links[second][1] == no_email_lead
    assert links[third][0] == by_email[third]
    assert links[fourth][0] == by_email[fourth]

    later = world.sf.create("Contact", {"LastName": "Added Later"})
    _name(world, list_id, fifth, later)
    assert cmsync.sync(full_pass=True).status == "succeeded"
    assert _links(world, list_id)[fifth][0] == later
