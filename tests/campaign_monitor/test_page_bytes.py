"""Subscriber pages are written straight to JSON text, kept on each record; over HTTP their bytes are exactly
``json.dumps`` (with ``ensure_ascii=False``) of the shapes built record by record, whatever changed before.

Each check asks for whole pages the same way first and last, so every record written before a change is read
again after it, the same way: a value missing from what a kept text is checked against shows as a stale page.
Each change changes one value of a record where it can.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, SANDBOX_CLIENT_ID, CampaignMonitorEmulator, shapes
from cmsync_sandbox.campaign_monitor.dates import DAY, format_date, parse_date
from cmsync_sandbox.campaign_monitor.model import STATES
from cmsync_sandbox.campaign_monitor.views import page_of
from cmsync_sandbox.server import SandboxServer

AUTH = (DEFAULT_API_KEY, "x")
ODD_NAME = 'Zoë "Q" O\'Brien \\ Ōsaka\ttab\u2028line\x01 😀'


@dataclass(frozen=True)
class Account:
    """The emulator and the server it answers on."""

    cm: CampaignMonitorEmulator
    server: SandboxServer

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = requests.request(
            method, f"{self.cm.api_url(self.server)}{path}", params=params, json=body, auth=AUTH, timeout=10
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json() if answer.content else None

    def control(self, method: str, path: str, body: Any = None) -> Any:
        answer = requests.request(method, f"{self.server.url}/_sandbox/{path}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    @property
    def newsletter(self) -> str:
        return self.cm.state.clients[SANDBOX_CLIENT_ID].lists[0].list_id

    def active_emails(self) -> list[str]:
        return [member.email for member in self.cm.state.lists[self.newsletter].by_state["Active"].values()]


@pytest.fixture
def account(cm: CampaignMonitorEmulator, server: SandboxServer) -> Account:
    return Account(cm, server)


def _asked(cm: CampaignMonitorEmulator, consent: str) -> list[dict[str, Any]]:
    """Whole pages (``consent`` as asked), then pages in each order and direction, with and without consent,
    from a date and past the end, then whole pages again."""
    month_ago = format_date(cm.clock.now() - 30 * DAY, 0)[:16]
    whole = {"orderfield": "date", "includetrackingpreference": consent}
    return [
        whole,
        {"orderfield": "email", "orderdirection": "desc"},
        {"orderfield": "name", "pagesize": 10, "page": 2, "includetrackingpreference": "True"},
        {"orderfield": "date", "orderdirection": "desc", "pagesize": 10, "page": 3},
        {"orderfield": "date", "date": month_ago, "includetrackingpreference": "true", "pagesize": 50},
        {"page": 99},
        whole,
    ]


def _expected(cm: CampaignMonitorEmulator, list_id: str, state: str, asked: dict[str, Any]) -> bytes:
    """The page as the shapes describe it, one dict per record, then ``json.dumps`` as CM's other answers are."""
    mailing_list = cm.state.lists[list_id]
    offset = cm.state.offset_of(mailing_list.client_id)
    field, number, size = asked.get("orderfield", "email"), asked.get("page", 1), asked.get("pagesize", 1000)
    descending = asked.get("orderdirection") == "desc"
    records, start = mailing_list.views[state].select(field, parse_date(asked.get("date", ""), offset))
    with_consent = str(asked.get("includetrackingpreference", "")).lower() == "true"
    chosen = page_of(records, start, number, size, descending)
    body = shapes.paged(
        [shapes.subscriber(record, offset, with_consent) for record in chosen],
        ordered_by=field,
        direction="desc" if descending else "asc",
        number=number,
        size=size,
        total=len(records) - start,
    )
    return json.dumps(cm.faults.patched(body), ensure_ascii=False).encode("utf-8")


def _assert_pages_match(account: Account, consent: str) -> None:
    cm = account.cm
    for asked in _asked(cm, consent):
        for list_id in cm.state.lists:
            for state in STATES:
                answer = requests.get(
                    f"{cm.api_url(account.server)}/lists/{list_id}/{state.lower()}.json",
                    params=asked,
                    auth=AUTH,
                    timeout=10,
                )
                assert answer.status_code == 200
                assert answer.content == _expected(cm, list_id, state, asked), (state, asked)


def _add(account: Account) -> None:
    for number, consent in enumerate(("Yes", "No", "Unchanged")):
        body = {
            "EmailAddress": f"Odd.Person{number}@Example.com",
            "Name": f"{ODD_NAME} {number}",
            "ConsentToTrack": consent,
            "CustomFields": [
                {"Key": "City", "Value": "Zürich\n"},
                {"Key": "[Interests]", "Value": "News"},
                {"Key": "interests", "Value": "Events"},
                {"Key": "Loyalty Points", "Value": 1250},
            ],
        }
        account.call("POST", f"/subscribers/{account.newsletter}.json", body)


def _update(account: Account) -> None:
    renamed = {
        "EmailAddress": "renamed.person@example.com",
        "Name": "Ærø 🚲",
        "ConsentToTrack": "No",
        "CustomFields": [{"Key": "City", "Value": "", "Clear": True}, {"Key": "Plan", "Value": "Pro"}],
    }
    account.call("PUT", f"/subscribers/{account.newsletter}.json", renamed, email="odd.person0@example.com")
    recased = {"EmailAddress": "ODD.PERSON1@example.com", "ConsentToTrack": "Unchanged"}
    account.call("PUT", f"/subscribers/{account.newsletter}.json", recased, email="odd.person1@example.com")
    members = account.cm.state.lists[account.newsletter].members
    first, second, third = account.active_emails()[:3]
    flipped = {"EmailAddress": first, "ConsentToTrack": "No" if members[first.lower()].consent == "Yes" else "Yes"}
    account.call("PUT", f"/subscribers/{account.newsletter}.json", flipped, email=first)
    renamed_only = {"EmailAddress": second, "Name": "Only The Name", "ConsentToTrack": "Unchanged"}
    account.call("PUT", f"/subscribers/{account.newsletter}.json", renamed_only, email=second)
    fields_only = {
        "EmailAddress": third,
        "ConsentToTrack": "Unchanged",
        "CustomFields": [{"Key": "City", "Value": "Cusco"}],
    }
    account.call("PUT", f"/subscribers/{account.newsletter}.json", fields_only, email=third)


def _leave(account: Account) -> None:
    gone = {"EmailAddress": "renamed.person@example.com"}
    account.call("POST", f"/subscribers/{account.newsletter}/unsubscribe.json", gone)
    account.call("DELETE", f"/subscribers/{account.newsletter}.json", email="odd.person2@example.com")


def _import(account: Account) -> None:
    new = {"EmailAddress": "imported@example.com", "Name": "Ĳssel", "CustomFields": [{"Key": "Plan", "Value": "Free"}]}
    body = {
        "Subscribers": [
            new,
            {"EmailAddress": account.active_emails()[3], "Name": "Imported Over"},
            {"EmailAddress": "renamed.person@example.com", "Name": "Back Again"},
        ],
        "Resubscribe": True,
    }
    account.call("POST", f"/subscribers/{account.newsletter}/import.json", body)


def _recipients_act(account: Account) -> None:
    sent = account.control("POST", "campaigns", {"client_id": SANDBOX_CLIENT_ID, "list_ids": [account.newsletter]})
    first, second, third = account.active_emails()[:3]
    account.control("POST", "events", {"source_id": sent["CampaignID"], "kind": "bounces", "email": first})
    account.control("POST", "events", {"source_id": sent["CampaignID"], "kind": "unsubscribes", "email": second})
    account.control("POST", f"lists/{account.newsletter}/state", {"email": third, "state": "Deleted"})
    account.control("POST", f"lists/{account.newsletter}/state", {"email": "imported@example.com", "state": "Active"})


def _change_custom_fields(account: Account) -> None:
    account.call("POST", f"/lists/{account.newsletter}/customfields.json", {"FieldName": "Größe", "DataType": "Text"})
    body = {
        "EmailAddress": "imported@example.com",
        "ConsentToTrack": "Unchanged",
        "CustomFields": [{"Key": "[Größe]", "Value": "XL"}],
    }
    account.call("PUT", f"/subscribers/{account.newsletter}.json", body, email="imported@example.com")
    account.call("DELETE", f"/lists/{account.newsletter}/customfields/[Plan].json")


def _move_the_time_zone(account: Account) -> None:
    account.cm.state.clients[SANDBOX_CLIENT_ID].utc_offset_minutes = -570
    account.control("POST", "clock", {"advance": DAY + 17})
    account.call(
        "POST",
        f"/subscribers/{account.newsletter}.json",
        {"EmailAddress": "later@example.com", "ConsentToTrack": "Yes"},
    )


def _change_records_directly(account: Account) -> None:
    """Values the API changes only together (a state and its date), or never (the join date), one by one."""
    mailing_list = account.cm.state.lists[account.newsletter]
    first, second, third, fourth, fifth = (mailing_list.members[email.lower()] for email in account.active_emails()[:5])
    first.reads_with = "Thunderbird «beta»"
    second.fields = (("City", 'a "quoted" \\ value'),)
    third.joined -= 3600
    fourth.date -= 60
    mailing_list.views["Active"].changed()
    account.cm.state.change_state(account.newsletter, fifth.email, "Bounced", at=fifth.date)
    account.cm.state.add_members(account.newsletter, [("direct@example.com", "Dïrect")], state="Bounced")


def _corrupt_a_record(account: Account) -> None:
    patch = {"set": {"Date": "not a date", "Extra": [1, None]}, "remove": ["Name"]}
    account.control("POST", "faults", {"corrupt_records": {account.active_emails()[0]: patch}})


def _reseed(account: Account) -> None:
    account.control("DELETE", "faults")
    account.control("POST", "seed", {"clients": 2, "lists_per_client": 1, "subscribers_per_list": 1100, "seed": 3})


CHANGES: tuple[Callable[[Account], None], ...] = (
    _add,
    _update,
    _leave,
    _import,
    _recipients_act,
    _change_custom_fields,
    _move_the_time_zone,
    _change_records_directly,
    _corrupt_a_record,
    _reseed,
)


@pytest.mark.parametrize("consent", ["true", ""], ids=["with consent", "without consent"])
def test_pages_are_the_json_of_their_shapes_after_every_kind_of_change(account: Account, consent: str) -> None:
    _assert_pages_match(account, consent)
    for change in CHANGES:
        change(account)
        _assert_pages_match(account, consent)


def test_dates_are_written_in_the_clients_time_zone_to_the_second() -> None:
    assert format_date(1_790_000_000, 600) == "2026-09-22 00:13:20"
    assert format_date(0, -1) == "1969-12-31 23:59:00"
    assert format_date(86399, 0) == "1970-01-01 23:59:59"
    assert format_date(1_709_164_800, 330) == "2024-02-29 05:30:00"
    assert format_date(1_709_251_199, -300) == "2024-02-29 18:59:59"
