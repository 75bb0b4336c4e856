"""Tracking follows the event's date, not the campaign's: an open or click today on a campaign sent long
before ``days_to_keep`` is imported, and a run with nothing new reads no tracking report at all."""

from datetime import UTC, datetime

from cmsync_sandbox.calls import CallLog
from tests.sync.world import World

DAY = 86_400


def _tracking_reads(calls: CallLog) -> int:
    """CM calls that read a tracking report (campaign or journey email), not a summary."""
    return sum(
        1
        for call in calls.calls()
        if call.endpoint.startswith(("GET /campaigns/{campaignid}/", "GET /journeys/email/"))
        and not call.endpoint.endswith("/summary")
    )


def _activities(world: World, campaign_id: str) -> set[tuple[str, str, str]]:
    rows = world.query(
        "SELECT CM_Type__c, CM_Email__c, CM_Activity_Date__c FROM CM_Email_Activity__c "
        f"WHERE CM_Campaign__r.CM_Campaign_ID__c = '{campaign_id}'"
    )
    return {(row["CM_Type__c"], row["CM_Email__c"], row["CM_Activity_Date__c"][:16]) for row in rows}


def test_events_today_on_a_campaign_sent_long_ago_are_imported(world: World, embedded) -> None:
    state = world.cm.state
    client = state.clients[world.clients[0]]
    mailing_list = client.lists[0]
    now = state.clock.now()
    old = state.send_campaign(
        client.client_id, [mailing_list.list_id], name="Spring", subject="Hi", sent=now - 120 * DAY
    )
    reader, clicker = (event.email for event in old.events["recipients"].events[:2])
    state.record_event(old.campaign_id, "opens", reader, at=now - 119 * DAY)
    cmsync = embedded(tracking={"days_to_keep": 90})
    assert cmsync.sync().status == "succeeded"
    assert _activities(world, old.campaign_id) == set()

    state.clock.advance(120)
    state.record_event(old.campaign_id, "opens", reader)
    state.record_event(old.campaign_id, "clicks", clicker, url="https://example.com/offer")
    run = cmsync.sync()
    assert run.status == "succeeded", run.error
    today = datetime.fromtimestamp(state.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M")
    expected = {("Opened", reader, today), ("Clicked", clicker, today)}
    assert _activities(world, old.campaign_id) == expected

    world.cm.calls.clear()
    writes = world.salesforce_writes()
    quiet = cmsync.sync()
    assert quiet.status == "succeeded", quiet.error
    assert _tracking_reads(world.cm.calls) == 0
    assert world.salesforce_writes() == writes
