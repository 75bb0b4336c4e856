"""Every address CM holds reaches Salesforce as CM holds it (international, with emoji, over 80
characters, up to 254): its members and their tracking events, through Collections and through Bulk jobs,
keyed once whatever the case, and linked to Contacts by email whatever the case."""

import pytest

from tests.sync.world import World

LONGEST = "a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 55 + ".example.com"
ADDRESSES = [
    "José.Núñez@example.com",
    "田中@例え.jp",
    "\N{GRINNING FACE}.fan@example.com",
    "\N{GRINNING FACE}" * 45 + "@example.com",
    "o'brien." + "long" * 20 + "@example.com",
    LONGEST,
    "Mixed.Case@Example.COM",
]


@pytest.mark.parametrize("bulk_threshold", [2000, 3], ids=["collections", "bulk"])
def test_international_and_long_addresses_reach_salesforce(world: World, embedded, bulk_threshold: int) -> None:
    assert len(LONGEST) == 254
    state = world.cm.state
    client = state.clients[world.clients[0]]
    list_id = client.lists[0].list_id
    state.add_members(list_id, [(address, "Zoë d'Arc") for address in ADDRESSES])
    campaign = state.send_campaign(client.client_id, [list_id], name="Welcome", subject="Hello")
    for address in ADDRESSES:
        state.record_event(campaign.campaign_id, "opens", address)
    contact = world.sf.create("Contact", {"LastName": "Case", "Email": "mixed.case@example.com"})
    cmsync = embedded(campaign_monitor={"clients": world.clients[:1]}, salesforce={"bulk_threshold": bulk_threshold})
    run = cmsync.sync()
    assert run.status == "succeeded", run.error
    assert ("POST /jobs/ingest" in world.sf.calls.counts()) == (bulk_threshold < 100)

    members = world.query(
        "SELECT CM_Member_Key__c, CM_Email__c, CM_State__c, CM_Contact__c FROM CM_List_Member__c "
        f"WHERE CM_List__r.CM_List_ID__c = '{list_id}'"
    )
    in_cm = {subscriber.email: subscriber.state.value for cm_list, subscriber in world.members() if cm_list == list_id}
    assert {row["CM_Email__c"]: row["CM_State__c"] for row in members} == in_cm
    assert set(ADDRESSES) <= set(in_cm)
    keys = [row["CM_Member_Key__c"] for row in members]
    assert len({key.lower() for key in keys}) == len(keys)
    assert max(len(key.encode("utf-16-le")) // 2 for key in keys) == 255
    linked = next(row for row in members if row["CM_Email__c"] == "Mixed.Case@Example.COM")
    assert linked["CM_Contact__c"] == contact

    opens = world.query(
        "SELECT CM_Email__c FROM CM_Email_Activity__c "
        f"WHERE CM_Type__c = 'Opened' AND CM_Campaign__r.CM_Campaign_ID__c = '{campaign.campaign_id}'"
    )
    assert sorted(row["CM_Email__c"] for row in opens) == sorted(ADDRESSES)

    writes = world.salesforce_writes()
    again = cmsync.sync()
    assert again.status == "succeeded", again.error
    assert world.salesforce_writes() == writes
