"""The main sync end to end on the embedded broker: CM data lands in Salesforce exactly once, linked."""

from collections import Counter
from datetime import timedelta

from cmsync.clients.campaign_monitor.records import SubscriberState
from tests.sync.world import World


def _newest(records: list[dict], email: str) -> str | None:
    matching = [record for record in records if str(record.get("Email") or "").lower() == email.lower()]
    return max(matching, key=lambda record: record["LastModifiedDate"])["Id"] if matching else None


def test_every_member_is_imported_once_and_linked(world: World, embedded) -> None:
    run = embedded().sync()
    assert run.status == "succeeded", run.error
    expected = {f"{list_id}:{subscriber.email.lower()}": subscriber for list_id, subscriber in world.members()}
    members = {record["CM_Member_Key__c"]: record for record in world.records("CM_List_Member__c")}
    assert len(members) == len(world.records("CM_List_Member__c"))
    assert set(members) == set(expected)
    contacts = world.records("Contact")
    leads = [lead for lead in world.records("Lead") if not lead.get("IsConverted")]
    linked_to_both = 0
    for key, subscriber in expected.items():
        record = members[key]
        assert record["CM_State__c"] == subscriber.state.value
        assert record["CM_Email__c"] == subscriber.email
        assert record["CM_Subscriber_Name__c"] == (subscriber.name or None)
        assert record["CM_Contact__c"] == _newest(contacts, subscriber.email), key
        assert record["CM_Lead__c"] == _newest(leads, subscriber.email), key
        linked_to_both += bool(record["CM_Contact__c"] and record["CM_Lead__c"])
    assert linked_to_both > 0
    names = " ".join(str(subscriber.name) for subscriber in expected.values())
    assert any(ord(char) > 127 for char in names)
    assert any("'" in key for key in expected)
    assert sum(len(world.seed_report.duplicate_emails) for _ in [0]) > 0


def test_dates_are_written_in_utc(world: World, embedded) -> None:
    embedded().sync()
    offset = timedelta(minutes=world.cm.state.clients[world.clients[0]].utc_offset_minutes)
    list_id, subscriber = next(
        (list_id, subscriber)
        for list_id, subscriber in world.members()
        if list_id in {mailing_list.list_id for mailing_list in world.cm.state.clients[world.clients[0]].lists}
    )
    record = next(
        r
        for r in world.records("CM_List_Member__c")
        if r["CM_Member_Key__c"] == f"{list_id}:{subscriber.email.lower()}"
    )
    assert record["CM_Date__c"].startswith((subscriber.date - offset).strftime("%Y-%m-%dT%H:%M:%S"))


def test_clients_lists_and_campaigns(world: World, embedded) -> None:
    embedded().sync()
    clients = {record["CM_Client_ID__c"]: record for record in world.records("CM_Client__c")}
    assert set(clients) == set(world.clients)
    assert clients[world.clients[0]]["Name"] == world.cm.state.clients[world.clients[0]].name
    cm_lists = {ml.list_id for cid in world.clients for ml in world.cm.state.clients[cid].lists}
    assert {record["CM_List_ID__c"] for record in world.records("CM_List__c")} == cm_lists
    campaigns = {record["CM_Campaign_ID__c"]: record for record in world.records("CM_Campaign__c")}
    cm_campaigns = {c.campaign_id: c for cid in world.clients for c in world.cm.state.clients[cid].campaigns}
    journey_emails = {
        email.email_id for cid in world.clients for journey in world.cm.state.clients[cid].journeys
        for email in journey.emails
    }  # fmt: skip
    assert set(campaigns) == set(cm_campaigns) | journey_emails
    some = next(iter(cm_campaigns.values()))
    assert campaigns[some.campaign_id]["CM_Kind__c"] == "Campaign"
    assert campaigns[some.campaign_id]["CM_Subject__c"] == some.subject
    assert campaigns[some.campaign_id]["CM_Recipients__c"] == len(some.events["recipients"])


def _activities(world: World) -> Counter:
    campaign_ids = {record["Id"]: record["CM_Campaign_ID__c"] for record in world.records("CM_Campaign__c")}
    return Counter(
        (campaign_ids[record["CM_Campaign__c"]], record["CM_Type__c"], record["CM_Email__c"].lower(),
         record["CM_Activity_Date__c"][:19], record.get("CM_URL__c") or "")
        for record in world.records("CM_Email_Activity__c")
    )  # fmt: skip


def test_selected_tracking_events_are_imported_once(world: World, embedded) -> None:
    embedded(tracking={"types": ["opened", "clicked", "bounced"]}).sync()
    activities = _activities(world)
    assert activities and max(activities.values()) == 1
    types = {kind for _, kind, *_ in activities}
    assert types == {"Opened", "Clicked", "Bounced"}
    opened_in_cm = sum(
        len(c.events["opens"]) for cid in world.clients for c in world.cm.state.clients[cid].campaigns
    ) + sum(
        len(email.events["opens"]) for cid in world.clients for j in world.cm.state.clients[cid].journeys
        for email in j.emails
    )  # fmt: skip
    assert sum(1 for key in activities if key[1] == "Opened") == opened_in_cm


def test_second_run_without_changes_writes_nothing(world: World, embedded) -> None:
    cmsync = embedded()
    first = cmsync.sync()
    writes = world.salesforce_writes()
    second = cmsync.sync()
    assert second.status == "succeeded"
    assert world.salesforce_writes() == writes
    assert all("created" not in counts and "rewritten" not in counts for counts in second.counts.values())
    assert first.counts["CM_List_Member__c"]["created"] == len(world.records("CM_List_Member__c"))


def test_a_full_pass_over_unchanged_data_writes_nothing(world: World, embedded) -> None:
    cmsync = embedded()
    cmsync.sync()
    writes = world.salesforce_writes()
    full = cmsync.sync(full_pass=True)
    assert full.full_pass and full.status == "succeeded"
    assert world.salesforce_writes() == writes
    assert full.counts["CM_List_Member__c"]["unchanged"] >= len(world.records("CM_List_Member__c"))


def test_changes_in_cm_are_imported_exactly(world: World, embedded) -> None:
    cmsync = embedded()
    cmsync.sync()
    state = world.cm.state
    client = state.clients[world.clients[0]]
    mailing_list = client.lists[0]
    active = [m for m in mailing_list.members.values() if m.state == "Active"]
    leaving, renamed = active[0], active[1]
    state.clock.advance(120)
    state.unsubscribe(mailing_list.list_id, leaving.email)
    old_email = renamed.email
    state.update_subscriber(
        mailing_list.list_id, old_email, _input(state, "renamed.person@example.org"), resubscribe=False,
        restart_journeys=False,
    )  # fmt: skip
    new_list = state.add_list(client.client_id, "Autumn offers")
    campaign = client.campaigns[-1]
    opener = campaign.events["recipients"].events[-1].email
    state.record_event(campaign.campaign_id, "opens", opener)
    before = len(world.records("CM_List_Member__c"))
    run = cmsync.sync()
    assert run.status == "succeeded", run.error
    members = {r["CM_Member_Key__c"]: r for r in world.records("CM_List_Member__c")}
    assert members[f"{mailing_list.list_id}:{leaving.email.lower()}"]["CM_State__c"] == "Unsubscribed"
    assert new_list.list_id in {r["CM_List_ID__c"] for r in world.records("CM_List__c")}
    assert len(members) == before
    opens = [r for r in world.records("CM_Email_Activity__c") if r["CM_Type__c"] == "Opened"]
    assert any(
        r["CM_Email__c"].lower() == opener.lower()
        and r["CM_Activity_Date__c"] >= run.started_at.strftime("%Y-%m-%dT%H:%M")
        for r in opens
    ) or any(r["CM_Email__c"].lower() == opener.lower() for r in opens)
    assert max(_activities(world).values()) == 1
    assert world.duplicates("CM_List_Member__c", "CM_Member_Key__c") == []
    # CM keeps a subscriber's Date when only its email changes, so the full pass is what finds it.
    assert f"{mailing_list.list_id}:{old_email.lower()}" in members
    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    members = {r["CM_Member_Key__c"]: r for r in world.records("CM_List_Member__c")}
    assert f"{mailing_list.list_id}:renamed.person@example.org" in members
    assert f"{mailing_list.list_id}:{old_email.lower()}" not in members
    assert len(members) == before
    assert full.counts["CM_List_Member__c"] == {"created": 1, "deleted": 1, "unchanged": before - 1}


def _input(state, email: str):
    from cmsync_sandbox.campaign_monitor.state import SubscriberInput

    return SubscriberInput(email=email, name=None, fields=(), consent="Unchanged")


def test_deselected_tracking_types_are_absent(world: World, embedded) -> None:
    embedded(tracking={"types": ["sent"]}).sync()
    assert {r["CM_Type__c"] for r in world.records("CM_Email_Activity__c")} == {"Sent"}


def test_tracking_disabled_imports_no_events(world: World, embedded) -> None:
    run = embedded(tracking={"enabled": False}).sync()
    assert run.status == "succeeded"
    assert world.records("CM_Email_Activity__c") == []
    assert world.records("CM_List_Member__c")


def test_subscriber_states(world: World, embedded) -> None:
    embedded().sync()
    states = Counter(r["CM_State__c"] for r in world.records("CM_List_Member__c"))
    assert set(states) <= {state.value for state in SubscriberState}
    assert states["Active"] > 0 and len(states) >= 3
