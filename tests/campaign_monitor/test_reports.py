"""Campaigns, journeys and their tracking reports through the client, against the emulator over HTTP."""

from datetime import timedelta
from typing import get_args

import pytest

from cmsync.clients.campaign_monitor import CampaignMonitorClient, SubscriberDetails, SubscriberState
from cmsync.clients.campaign_monitor.records import CampaignReport, JourneyReport
from cmsync_sandbox.campaign_monitor import SANDBOX_CLIENT_ID, CampaignMonitorEmulator


def test_campaigns_newest_first_with_their_counts(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    campaigns = list(client.campaigns(SANDBOX_CLIENT_ID))
    seeded = cm.state.clients[SANDBOX_CLIENT_ID].campaigns
    assert {campaign.campaign_id for campaign in campaigns} == {campaign.campaign_id for campaign in seeded}
    assert [campaign.sent_date for campaign in campaigns] == sorted((c.sent_date for c in campaigns), reverse=True)
    for campaign in campaigns:
        assert campaign.total_recipients == len(cm.state.campaigns[campaign.campaign_id].events["recipients"])
    oldest = campaigns[-1].sent_date
    later = list(client.campaigns(SANDBOX_CLIENT_ID, sent_from=(oldest + timedelta(days=1)).date()))
    assert all(campaign.sent_date.date() > oldest.date() for campaign in later)
    assert len(later) < len(campaigns)


def test_summary_matches_the_reports(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    campaign = max(cm.state.campaigns.values(), key=lambda each: len(each.events["opens"]))
    summary = client.campaign_summary(campaign.campaign_id)
    opens = list(client.campaign_events(campaign.campaign_id, "opens"))
    assert summary.total_opened == len(opens) > 0
    assert summary.unique_opened == len({event.email for event in opens})
    assert summary.recipients == len(list(client.campaign_events(campaign.campaign_id, "recipients")))
    assert summary.clicks == len(list(client.campaign_events(campaign.campaign_id, "clicks")))
    assert summary.bounced == len(list(client.campaign_events(campaign.campaign_id, "bounces")))
    assert summary.unsubscribed == len(list(client.campaign_events(campaign.campaign_id, "unsubscribes")))
    assert summary.spam_complaints == len(list(client.campaign_events(campaign.campaign_id, "spam")))


@pytest.mark.parametrize("kind", get_args(CampaignReport))
def test_every_campaign_report_reads_whole_and_by_date(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient, kind: CampaignReport
) -> None:
    for campaign in cm.state.campaigns.values():
        events = list(client.campaign_events(campaign.campaign_id, kind))
        assert len(events) == len(campaign.events[kind])
        assert all(event.kind == kind and event.list_id in campaign.list_ids for event in events)
        if kind == "recipients" or not events:
            continue
        dates = [event.date for event in events]
        assert None not in dates and dates == sorted(dates)
        watermark = dates[len(dates) // 2]
        assert list(client.campaign_events(campaign.campaign_id, kind, since=watermark)) == [
            event for event in events if event.date is not None and event.date >= watermark
        ]


def test_seeded_tracking_spans_months_with_every_kind(cm: CampaignMonitorEmulator) -> None:
    cm.seed("demo", seed=3)
    campaigns = list(cm.state.campaigns.values())
    assert all(sum(len(campaign.events[kind]) for campaign in campaigns) > 0 for kind in get_args(CampaignReport))
    sent = [campaign.sent for campaign in campaigns]
    assert max(sent) - min(sent) > 90 * 86400


def test_click_and_open_records_carry_geography(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    campaign = max(cm.state.campaigns.values(), key=lambda each: len(each.events["clicks"]))
    click = next(client.campaign_events(campaign.campaign_id, "clicks"))
    assert click.url.startswith("https://")
    assert click.country_code and click.city and click.ip_address and click.latitude is not None


def test_a_sent_campaign_and_its_recipients_actions(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter = cm.state.clients[SANDBOX_CLIENT_ID].lists[0]
    active = {member.email for member in newsletter.by_state["Active"].values()}
    campaign = cm.state.send_campaign(SANDBOX_CLIENT_ID, [newsletter.list_id], name="Test send", subject="Hello")
    recipients = {event.email for event in client.campaign_events(campaign.campaign_id, "recipients")}
    assert recipients == active
    reader, leaver = sorted(active)[:2]
    cm.clock.advance(600)
    cm.state.record_event(campaign.campaign_id, "opens", reader)
    cm.state.record_event(campaign.campaign_id, "clicks", reader, url="https://www.example.com/offer")
    cm.state.record_event(campaign.campaign_id, "unsubscribes", leaver)
    sent = next(c for c in client.campaigns(SANDBOX_CLIENT_ID) if c.campaign_id == campaign.campaign_id).sent_date
    assert [event.email for event in client.campaign_events(campaign.campaign_id, "opens", since=sent)] == [reader]
    assert [event.url for event in client.campaign_events(campaign.campaign_id, "clicks")] == [
        "https://www.example.com/offer"
    ]
    assert client.subscriber(newsletter.list_id, leaver).state is SubscriberState.UNSUBSCRIBED


def test_journeys_details_and_reports(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    journeys = client.journeys(SANDBOX_CLIENT_ID)
    assert [(journey.name, journey.status) for journey in journeys] == [("Welcome series", "Active")]
    details = client.journey_details(journeys[0].journey_id)
    assert details.trigger_type == "On Subscription"
    assert [email.name for email in details.emails] == ["Welcome", "Getting started", "We'd love your feedback"]
    for email in details.emails:
        for kind in get_args(JourneyReport):
            events = list(client.journey_email_events(email.email_id, kind))
            assert all(event.list_id is None and event.date is not None for event in events)
            counted = {"recipients": email.sent, "opens": email.opened, "clicks": email.clicked}
            counted |= {"unsubscribes": email.unsubscribed, "bounces": email.bounced}
            assert len(events) == counted[kind]
        recipients = list(client.journey_email_events(email.email_id, "recipients", order_direction="desc"))
        dates = [event.date for event in recipients if event.date is not None]
        assert dates == sorted(dates, reverse=True)
        if dates:
            assert list(client.journey_email_events(email.email_id, "recipients", since=dates[0])) == [
                event for event in reversed(recipients) if event.date == dates[0]
            ]


def test_a_new_subscriber_becomes_a_journey_recipient(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    journey = client.journeys(SANDBOX_CLIENT_ID)[0]
    welcome = client.journey_details(journey.journey_id).emails[0]
    client.add_subscriber(journey.list_id, SubscriberDetails("welcome.me@example.com", "Welcome Me"))
    recipients = [event.email for event in client.journey_email_events(welcome.email_id, "recipients")]
    assert recipients[-1] == "welcome.me@example.com"
