"""Adding, updating, unsubscribing, deleting and importing subscribers through the client, and the journeys
those subscriptions start."""

import pytest

from cmsync.clients.campaign_monitor import (
    IMPORT_BATCH,
    BadRequestError,
    CampaignMonitorClient,
    CustomFieldValue,
    ErrorCode,
    SubscriberDetails,
    SubscriberState,
)
from cmsync_sandbox.campaign_monitor import SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from tests.campaign_monitor.conftest import new_list


def _lists(cm: CampaignMonitorEmulator) -> tuple[str, str]:
    newsletter, customers = cm.state.clients[SANDBOX_CLIENT_ID].lists
    return newsletter.list_id, customers.list_id


def _journey_triggers(cm: CampaignMonitorEmulator, email: str) -> list[str]:
    return [trigger.cause for trigger in cm.state.triggers if trigger.email == email]


def test_add_creates_an_active_subscriber_and_starts_the_lists_journeys(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    newsletter, _ = _lists(cm)
    details = SubscriberDetails(
        "zoë.new@example.com",
        "Zoë New",
        (
            CustomFieldValue("[City]", "Zürich"),
            CustomFieldValue("Interests", "News"),
            CustomFieldValue("[Interests]", "Events"),
        ),
        "Yes",
    )
    client.add_subscriber(newsletter, details)
    added = client.subscriber(newsletter, "zoë.new@example.com")
    assert (added.name, added.state, added.consent_to_track) == ("Zoë New", SubscriberState.ACTIVE, "Yes")
    assert [(field.key, field.value) for field in added.custom_fields] == [
        ("City", "Zürich"),
        ("Interests", "News"),
        ("Interests", "Events"),
    ]
    assert added.joined == added.date
    assert _journey_triggers(cm, "zoë.new@example.com") == ["add"]


def test_add_to_a_confirmed_opt_in_list_waits_for_confirmation(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    _, customers = _lists(cm)
    client.add_subscriber(customers, SubscriberDetails("pending@example.com", "Pending", consent_to_track="No"))
    assert client.subscriber(customers, "pending@example.com").state is SubscriberState.UNCONFIRMED
    assert _journey_triggers(cm, "pending@example.com") == []


def test_add_leaves_an_unsubscribed_subscriber_alone_unless_resubscribing(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    newsletter, _ = _lists(cm)
    gone = next(iter(cm.state.lists[newsletter].by_state["Unsubscribed"].values()))
    before = client.subscriber(newsletter, gone.email)
    client.add_subscriber(newsletter, SubscriberDetails(gone.email, "Renamed"))
    after = client.subscriber(newsletter, gone.email)
    assert (after.state, after.date, after.name) == (SubscriberState.UNSUBSCRIBED, before.date, "Renamed")
    cm.clock.advance(300)
    client.add_subscriber(newsletter, SubscriberDetails(gone.email), resubscribe=True)
    back = client.subscriber(newsletter, gone.email)
    assert back.state is SubscriberState.ACTIVE and back.date > before.date
    assert _journey_triggers(cm, gone.email) == []
    client.unsubscribe(newsletter, gone.email)
    client.add_subscriber(newsletter, SubscriberDetails(gone.email), resubscribe=True, restart_journeys=True)
    assert _journey_triggers(cm, gone.email) == ["add (resubscribed)"]


def test_update_changes_the_email_and_keeps_the_date(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    newsletter, _ = _lists(cm)
    old_email = next(iter(cm.state.lists[newsletter].by_state["Active"].values())).email
    before = client.subscriber(newsletter, old_email)
    cm.clock.advance(600)
    cleared = (CustomFieldValue("[City]", "", clear=True),)
    client.update_subscriber(
        newsletter, old_email, SubscriberDetails("changed.address@example.com", custom_fields=cleared)
    )
    after = client.subscriber(newsletter, "changed.address@example.com")
    assert (after.name, after.state, after.date) == (before.name, before.state, before.date)
    assert "City" not in {field.key for field in after.custom_fields}
    with pytest.raises(BadRequestError) as raised:
        client.subscriber(newsletter, old_email)
    assert raised.value.code == ErrorCode.SUBSCRIBER_NOT_IN_LIST


def test_update_errors(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter, _ = _lists(cm)
    first, second = list(cm.state.lists[newsletter].by_state["Active"].values())[:2]
    cases = [
        ("nobody@example.com", SubscriberDetails("nobody@example.com"), ErrorCode.SUBSCRIBER_NOT_IN_LIST),
        (first.email, SubscriberDetails("broken@"), ErrorCode.INVALID_NEW_EMAIL),
        (first.email, SubscriberDetails(second.email.upper()), ErrorCode.ALREADY_SUBSCRIBED),
    ]
    for email, details, code in cases:
        with pytest.raises(BadRequestError) as raised:
            client.update_subscriber(newsletter, email, details)
        assert raised.value.code == code


def test_unsubscribe_follows_the_lists_setting(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter, customers = _lists(cm)
    both = next(
        member
        for member in cm.state.lists[newsletter].by_state["Active"].values()
        if cm.state.lists[customers].by_state["Active"].get(member.key)
    )
    cm.state.lists[newsletter].unsubscribe_setting = "OnlyThisList"
    client.unsubscribe(newsletter, both.email)
    assert client.subscriber(newsletter, both.email).state is SubscriberState.UNSUBSCRIBED
    assert client.subscriber(customers, both.email).state is SubscriberState.ACTIVE
    client.unsubscribe(customers, both.email)
    assert client.subscriber(customers, both.email).state is SubscriberState.UNSUBSCRIBED


def test_unsubscribe_from_all_client_lists(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter, customers = _lists(cm)
    both = next(
        member
        for member in cm.state.lists[customers].by_state["Active"].values()
        if cm.state.lists[newsletter].by_state["Active"].get(member.key)
    )
    client.unsubscribe(customers, both.email)
    assert client.subscriber(newsletter, both.email).state is SubscriberState.UNSUBSCRIBED


def test_delete_moves_to_deleted(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter, _ = _lists(cm)
    member = next(iter(cm.state.lists[newsletter].by_state["Active"].values()))
    client.delete_subscriber(newsletter, member.email)
    assert client.subscriber(newsletter, member.email).state is SubscriberState.DELETED
    assert member.email in {s.email for s in client.subscribers(newsletter, SubscriberState.DELETED)}
    with pytest.raises(BadRequestError) as raised:
        client.delete_subscriber(newsletter, "never.there@example.com")
    assert raised.value.code == ErrorCode.SUBSCRIBER_NOT_IN_LIST


def test_import_adds_and_updates(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter, _ = _lists(cm)
    existing = next(iter(cm.state.lists[newsletter].by_state["Active"].values()))
    batch = [
        SubscriberDetails("first.import@example.com", "First Import", consent_to_track="Yes"),
        SubscriberDetails("second.import@example.com", "Second Import"),
        SubscriberDetails("FIRST.import@example.com", "Duplicate"),
        SubscriberDetails(existing.email, "Existing Renamed"),
    ]
    result = client.import_subscribers(newsletter, batch)
    assert (result.unique_emails_submitted, result.new_subscribers, result.existing_subscribers) == (3, 2, 1)
    assert result.duplicate_emails == ("FIRST.import@example.com",)
    assert result.failures == ()
    assert client.subscriber(newsletter, "first.import@example.com").name == "First Import"
    assert client.subscriber(newsletter, existing.email).name == "Existing Renamed"


def test_import_starts_journeys_only_when_asked(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    newsletter, _ = _lists(cm)
    client.import_subscribers(newsletter, [SubscriberDetails("quiet@example.com")])
    assert _journey_triggers(cm, "quiet@example.com") == []
    client.import_subscribers(newsletter, [SubscriberDetails("loud@example.com")], start_journeys=True)
    assert _journey_triggers(cm, "loud@example.com") == ["import"]


def test_import_partial_failure_reports_each_refused_email(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    customers = new_list(cm, 4).list_id
    states = ("Deleted", "Unsubscribed", "Bounced", "Unconfirmed")
    inactive = dict(zip(states, (member.email for member in cm.state.lists[customers].members.values()), strict=True))
    for state, email in inactive.items():
        cm.state.change_state(customers, email, state)
    batch = [SubscriberDetails("example+1@example"), SubscriberDetails("fine@example.com")]
    batch += [SubscriberDetails(email) for email in inactive.values()]
    result = client.import_subscribers(customers, batch)
    codes = {failure.email: failure.code for failure in result.failures}
    assert codes == {
        "example+1@example": ErrorCode.INVALID_EMAIL,
        inactive["Deleted"]: ErrorCode.IS_DELETED,
        inactive["Unsubscribed"]: ErrorCode.IS_UNSUBSCRIBED,
        inactive["Bounced"]: ErrorCode.IS_BOUNCED,
        inactive["Unconfirmed"]: ErrorCode.IS_UNCONFIRMED,
    }
    assert result.new_subscribers == 1
    assert client.subscriber(customers, inactive["Deleted"]).state is SubscriberState.DELETED
    resubscribed = client.import_subscribers(customers, batch[2:], resubscribe=True)
    assert resubscribed.failures == ()
    assert {client.subscriber(customers, email).state for email in inactive.values()} == {SubscriberState.ACTIVE}


def test_import_limits(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    list_id = new_list(cm, 0).list_id
    with pytest.raises(BadRequestError) as empty:
        client.import_subscribers(list_id, [])
    assert empty.value.code == ErrorCode.NOTHING_TO_IMPORT
    too_many = [SubscriberDetails(f"person{number}@example.com") for number in range(IMPORT_BATCH + 1)]
    with pytest.raises(BadRequestError) as raised:
        client.import_subscribers(list_id, too_many)
    assert raised.value.code == ErrorCode.TOO_MANY_IN_IMPORT
    assert client.import_subscribers(list_id, too_many[:IMPORT_BATCH]).new_subscribers == IMPORT_BATCH == 1000
