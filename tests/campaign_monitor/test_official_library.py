"""The official ``createsend`` library (which cmsync does not use) against the emulator over HTTPS: a client
written by someone else against the real API works unchanged.

The library only trusts its bundled certificate authorities; the one change made here is the connection
class, so that it trusts the sandbox CA instead. Its requests and its parsing are its own.
"""

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import createsend
import createsend.createsend as library
import pytest
from createsend.utils import VerifiedHTTPSConnection

from cmsync_sandbox.campaign_monitor import (
    DEFAULT_API_KEY,
    OAUTH_REFRESH_TOKEN,
    SANDBOX_CLIENT_ID,
    CampaignMonitorEmulator,
)
from cmsync_sandbox.server import SandboxServer

AUTH = {"api_key": DEFAULT_API_KEY}


@pytest.fixture
def official(cm: CampaignMonitorEmulator, tls_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the library at the HTTPS emulator (by host name, which its own hostname check requires)."""
    origin = tls_server.url.replace("127.0.0.1", "localhost")
    ca_file = str(tls_server.ca_file)

    class SandboxTrustingConnection(VerifiedHTTPSConnection):
        """The library's connection, trusting the sandbox CA file instead of its bundled ones."""

        def connect(self) -> None:
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self.sock = ssl.create_default_context(cafile=ca_file).wrap_socket(raw, server_hostname=self.host)

    monkeypatch.setattr(library, "VerifiedHTTPSConnection", SandboxTrustingConnection)
    monkeypatch.setattr(createsend.CreateSend, "base_uri", f"{origin}/api/v3.3")
    monkeypatch.setattr(createsend.CreateSend, "oauth_token_uri", f"{origin}/oauth/token")
    yield


def _list_id(cm: CampaignMonitorEmulator) -> str:
    return cm.state.clients[SANDBOX_CLIENT_ID].lists[0].list_id


def test_account_clients_and_lists(official: None, cm: CampaignMonitorEmulator) -> None:
    clients = createsend.CreateSend(AUTH).clients()
    assert (clients[0].ClientID, clients[0].Name) == (SANDBOX_CLIENT_ID, "Harbour Outfitters")
    details = createsend.Client(AUTH, SANDBOX_CLIENT_ID).details()
    assert details.BasicDetails.TimeZone == "(GMT+10:00) Brisbane"
    lists = createsend.Client(AUTH, SANDBOX_CLIENT_ID).lists()
    assert lists[0].ListID == _list_id(cm)
    fields = createsend.List(AUTH, _list_id(cm)).custom_fields()
    assert "[City]" in {field.Key for field in fields}


def test_paging_through_active_subscribers(official: None, cm: CampaignMonitorEmulator) -> None:
    subscribers_list = createsend.List(AUTH, _list_id(cm))
    first = subscribers_list.active(page=1, page_size=10, order_field="date", include_tracking_preference=True)
    total = first.TotalNumberOfRecords
    assert (first.PageSize, first.RecordsOnThisPage, first.NumberOfPages) == (10, 10, -(-total // 10))
    emails: list[str] = []
    for page in range(1, first.NumberOfPages + 1):
        emails += [item.EmailAddress for item in subscribers_list.active(page=page, page_size=10).Results]
    assert len(set(emails)) == total == len(cm.state.lists[_list_id(cm)].by_state["Active"])
    assert first.Results[0].ConsentToTrack in ("Yes", "No")


def test_subscriber_life_cycle(official: None, cm: CampaignMonitorEmulator) -> None:
    list_id = _list_id(cm)
    added = createsend.Subscriber(AUTH).add(
        list_id, "library@example.com", "Library User", [{"Key": "City", "Value": "Lima"}], False, "Yes"
    )
    assert added == "library@example.com"
    subscriber = createsend.Subscriber(AUTH, list_id, "library@example.com")
    assert subscriber.get().State == "Active"
    subscriber.update("library.new@example.com", "Library User", [], False, "Unchanged")
    assert subscriber.get().CustomFields[0].Value == "Lima"
    subscriber.unsubscribe()
    assert subscriber.get().State == "Unsubscribed"
    subscriber.delete()
    assert subscriber.get().State == "Deleted"


def test_import_with_the_librarys_spelling_starts_journeys(official: None, cm: CampaignMonitorEmulator) -> None:
    batch = [{"EmailAddress": "imported@example.com", "Name": "Imported"}, {"EmailAddress": "broken@example"}]
    result: Any = createsend.Subscriber(AUTH).import_subscribers(_list_id(cm), batch, False, True)
    assert (result.TotalNewSubscribers, result.FailureDetails[0].Code) == (1, 1)
    assert [trigger.email for trigger in cm.state.triggers] == ["imported@example.com"]


def test_campaign_and_journey_reports(official: None, cm: CampaignMonitorEmulator) -> None:
    campaigns = createsend.Client(AUTH, SANDBOX_CLIENT_ID).campaigns()
    assert (campaigns.ResultsOrderedBy, campaigns.OrderDirection) == ("SentDate", "desc")
    campaign = createsend.Campaign(AUTH, campaigns.Results[0].CampaignID)
    assert campaign.summary().Recipients == campaigns.Results[0].TotalRecipients
    assert campaign.opens().TotalNumberOfRecords == campaign.summary().TotalOpened
    journey = createsend.Client(AUTH, SANDBOX_CLIENT_ID).journeys()[0]
    email = createsend.Journey(AUTH, journey.JourneyID).summary().Emails[0]
    recipients = createsend.JourneyEmail(AUTH, email.EmailID).recipients(order_direction="desc")
    assert (recipients.ResultsOrderedBy, recipients.OrderDirection, recipients.TotalNumberOfRecords) == (
        "SentDate",
        "DESC",
        email.Sent,
    )


def test_errors_and_oauth(official: None, cm: CampaignMonitorEmulator) -> None:
    with pytest.raises(createsend.BadRequest) as bad:
        createsend.List(AUTH, "0123456789abcdef0123456789abcdef").details()
    assert (bad.value.data.Code, bad.value.data.Message) == (101, "Invalid ListID")
    with pytest.raises(createsend.Unauthorized):
        createsend.CreateSend({"api_key": "wrong"}).clients()
    access_token, expires_in, _ = createsend.CreateSend(
        {"access_token": "", "refresh_token": OAUTH_REFRESH_TOKEN}
    ).refresh_token()
    assert expires_in > 0
    oauth = {"access_token": access_token, "refresh_token": OAUTH_REFRESH_TOKEN}
    assert createsend.CreateSend(oauth).clients()[0].ClientID == SANDBOX_CLIENT_ID
    cm.tokens.expire_all()
    with pytest.raises(createsend.ExpiredOAuthToken):
        createsend.CreateSend(oauth).clients()
