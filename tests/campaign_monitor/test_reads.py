"""Reading clients, lists, custom fields and subscribers through the client, against the emulator over HTTP."""

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from cmsync.clients.campaign_monitor import (
    BadRequestError,
    CampaignMonitorClient,
    ErrorCode,
    SubscriberDetails,
    SubscriberState,
)
from cmsync_sandbox.campaign_monitor import SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from tests.campaign_monitor.conftest import list_with_states, new_list


def test_clients_include_the_sandbox_client_with_its_name(client: CampaignMonitorClient) -> None:
    clients = {summary.client_id: summary.name for summary in client.clients()}
    assert clients[SANDBOX_CLIENT_ID] == "Harbour Outfitters"
    assert len(clients) == 2
    assert all(len(client_id) == 32 and client_id == client_id.lower() for client_id in clients)


def test_client_details_give_the_time_zone_and_its_offset(client: CampaignMonitorClient) -> None:
    details = client.client_details(SANDBOX_CLIENT_ID)
    assert details.company_name == "Harbour Outfitters"
    assert details.timezone == "(GMT+10:00) Brisbane"
    assert details.utc_offset == timedelta(hours=10)


def test_lists_details_and_custom_fields(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    lists = client.lists(SANDBOX_CLIENT_ID)
    assert [summary.name for summary in lists] == ["Newsletter", "Customers"]
    details = client.list_details(lists[1].list_id)
    assert (details.title, details.confirmed_opt_in, details.unsubscribe_setting) == (
        "Customers",
        True,
        "AllClientLists",
    )
    fields = {field.key: field for field in client.custom_fields(lists[0].list_id)}
    assert set(fields) == {"[City]", "[Plan]", "[Interests]", "[LoyaltyPoints]"}
    assert fields["[LoyaltyPoints]"].field_name == "Loyalty Points"
    assert fields["[Interests]"].data_type == "MultiSelectMany"
    assert fields["[Plan]"].options == ("Free", "Plus", "Pro")


def test_create_and_delete_a_custom_field(client: CampaignMonitorClient) -> None:
    list_id = client.lists(SANDBOX_CLIENT_ID)[0].list_id
    key = client.create_custom_field(list_id, "Salesforce ID", "Text", visible_in_preference_center=False)
    assert key == "[SalesforceID]"
    created = next(field for field in client.custom_fields(list_id) if field.key == key)
    assert (created.field_name, created.visible_in_preference_center) == ("Salesforce ID", False)
    client.delete_custom_field(list_id, key)
    assert key not in {field.key for field in client.custom_fields(list_id)}


@pytest.mark.parametrize("state", list(SubscriberState))
def test_subscribers_by_state_match_the_account(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient, state: SubscriberState
) -> None:
    for mailing_list in cm.state.clients[SANDBOX_CLIENT_ID].lists:
        read = list(client.subscribers(mailing_list.list_id, state))
        assert {subscriber.email for subscriber in read} == {
            member.email for member in mailing_list.by_state[state.value].values()
        }
        assert all(subscriber.state is state for subscriber in read)


def test_every_state_occurs_in_the_seed(cm: CampaignMonitorEmulator) -> None:
    states = {member.state for each in cm.state.lists.values() for member in each.members.values()}
    assert states == {"Active", "Unconfirmed", "Unsubscribed", "Bounced", "Deleted"}


def test_subscriber_records_carry_fields_dates_and_consent(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    mailing_list = list_with_states(cm)
    member = next(member for member in mailing_list.by_state["Active"].values() if len(member.fields) >= 3)
    read = client.subscriber(mailing_list.list_id, member.email.upper())
    assert read.email == member.email
    assert read.name == member.name
    assert [(field.key, field.value) for field in read.custom_fields] == list(member.fields)
    assert read.consent_to_track in ("Yes", "No")
    assert read.joined is not None and read.joined <= read.date


@pytest.mark.parametrize(("members", "pages"), [(0, 1), (1, 1), (1000, 1), (1001, 2)])
def test_paging_edges(cm: CampaignMonitorEmulator, client: CampaignMonitorClient, members: int, pages: int) -> None:
    mailing_list = new_list(cm, members)
    emails = [subscriber.email for subscriber in client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE)]
    assert len(emails) == len(set(emails)) == members
    assert client.counts.snapshot()["list_subscribers"] == {"ok": pages}


def test_subscriber_pages_are_fetched_once_each_and_not_before_reading(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    """Member pages are read ahead (test_read_ahead.py), but none before the read starts, none twice and
    none past the last."""
    mailing_list = new_list(cm, 2500)
    reading = client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE)
    assert client.counts.calls("list_subscribers") == 0
    assert len(list(islice(reading, 1000))) == 1000
    assert len(list(reading)) == 1500
    assert client.counts.calls("list_subscribers") == 3


def test_small_pages(cm: CampaignMonitorEmulator, api_url: str, client: CampaignMonitorClient) -> None:
    mailing_list = new_list(cm, 25)
    client.page_size = 10
    read = list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE, order_field="email"))
    assert [subscriber.email for subscriber in read] == sorted(subscriber.email for subscriber in read)
    assert client.counts.calls("list_subscribers") == 3


def test_ordering_by_email_name_and_date(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    list_id = cm.state.clients[SANDBOX_CLIENT_ID].lists[0].list_id
    by_email = list(client.subscribers(list_id, SubscriberState.ACTIVE, order_field="email"))
    assert [s.email.lower() for s in by_email] == sorted(s.email.lower() for s in by_email)
    by_name = list(client.subscribers(list_id, SubscriberState.ACTIVE, order_field="name", order_direction="desc"))
    assert [s.name.casefold() for s in by_name] == sorted((s.name.casefold() for s in by_name), reverse=True)
    by_date = list(client.subscribers(list_id, SubscriberState.ACTIVE))
    assert [s.date for s in by_date] == sorted(s.date for s in by_date)


def test_date_filter_returns_changes_on_or_after_the_watermark(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    mailing_list = list_with_states(cm)
    everyone = list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE))
    watermark = everyone[len(everyone) // 2].date
    since = list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE, since=watermark))
    assert since == [subscriber for subscriber in everyone if subscriber.date >= watermark]
    newest = max(subscriber.date for subscriber in everyone)
    assert (
        list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE, since=newest + timedelta(minutes=1)))
        == []
    )


def test_a_change_of_state_moves_the_date_and_a_change_of_name_does_not(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    mailing_list = cm.state.clients[SANDBOX_CLIENT_ID].lists[0]
    active = list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE))
    watermark = max(subscriber.date for subscriber in active) + timedelta(minutes=1)
    renamed, leaving = active[0], active[1]
    client.update_subscriber(mailing_list.list_id, renamed.email, SubscriberDetails(renamed.email, name="New Name"))
    cm.clock.advance(120)
    client.unsubscribe(mailing_list.list_id, leaving.email)
    assert list(client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE, since=watermark)) == []
    assert client.subscriber(mailing_list.list_id, renamed.email).date == renamed.date
    changed = list(client.subscribers(mailing_list.list_id, SubscriberState.UNSUBSCRIBED, since=watermark))
    assert [subscriber.email for subscriber in changed] == [leaving.email]


def test_dates_are_in_the_clients_time_zone(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    list_id = cm.state.clients[SANDBOX_CLIENT_ID].lists[0].list_id
    client.add_subscriber(list_id, SubscriberDetails("new.person@example.com", "New Person", consent_to_track="Yes"))
    added = client.subscriber(list_id, "new.person@example.com")
    brisbane_now = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=10)
    assert abs(added.date - brisbane_now) < timedelta(minutes=5)


def test_invalid_email_on_read_is_code_1(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    list_id = cm.state.clients[SANDBOX_CLIENT_ID].lists[0].list_id
    with pytest.raises(BadRequestError) as raised:
        client.subscriber(list_id, "not-an-email")
    assert raised.value.code == ErrorCode.INVALID_EMAIL
