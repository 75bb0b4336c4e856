"""SOQL date literals over plain HTTP: ranges of GMT days counted from the org clock's today, as Salesforce
documents them, with each comparison operator meaning within, outside, before or after the range."""

from datetime import UTC, datetime

import pytest
import requests

from .conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

NOW = datetime(2031, 1, 15, 12, 0, tzinfo=UTC)
"""A Wednesday: this week began on Sunday the 12th, last week on Sunday the 5th."""
CREATED = {
    "October first": datetime(2030, 10, 1, 8, 0, tzinfo=UTC),
    "New Year's Eve": datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC),
    "Last Saturday": datetime(2031, 1, 11, 10, 0, tzinfo=UTC),
    "Sunday midnight": datetime(2031, 1, 12, 0, 0, tzinfo=UTC),
    "Yesterday late": datetime(2031, 1, 14, 23, 59, 59, tzinfo=UTC),  # a second before: the clock moves on as it writes
    "Today midnight": datetime(2031, 1, 15, 0, 0, tzinfo=UTC),
}
BIRTHDATES = {"Tomorrow": "2031-01-16", "April 15": "2031-04-15", "April 16": "2031-04-16", "Long ago": "1970-01-01"}
"""Contacts created at NOW, with these birthdates."""


def query(session: requests.Session, base: str, soql: str) -> requests.Response:
    return session.get(f"{base}/query", params={"q": soql}, timeout=10)


@pytest.fixture
def org_on_a_known_day(server, emulator):
    """Contacts created at known moments as the org's clock moves forward to NOW, then a session signed in."""
    for name, moment in CREATED.items():
        emulator.clock.advance_to(moment)
        emulator.create("Contact", {"LastName": name})
    emulator.clock.advance_to(NOW)
    for name, birthdate in BIRTHDATES.items():
        emulator.create("Contact", {"LastName": name, "Birthdate": birthdate})
    answer = requests.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        },
        timeout=10,
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    yield session, f"{server.url}/services/data/v61.0"
    session.close()


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("CreatedDate = TODAY", {"Today midnight", *BIRTHDATES}),
        ("CreatedDate = YESTERDAY", {"Yesterday late"}),
        ("CreatedDate = THIS_WEEK", {"Sunday midnight", "Yesterday late", "Today midnight", *BIRTHDATES}),
        ("CreatedDate = LAST_WEEK", {"Last Saturday"}),
        ("CreatedDate < THIS_WEEK", {"October first", "New Year's Eve", "Last Saturday"}),
        ("CreatedDate = LAST_MONTH", {"New Year's Eve"}),
        ("CreatedDate = LAST_QUARTER", {"October first", "New Year's Eve"}),
        (
            "CreatedDate = THIS_YEAR",
            {"Last Saturday", "Sunday midnight", "Yesterday late", "Today midnight", *BIRTHDATES},
        ),
        ("CreatedDate = LAST_N_DAYS:1", {"Yesterday late", "Today midnight", *BIRTHDATES}),
        ("CreatedDate = N_DAYS_AGO:4", {"Last Saturday"}),
        ("CreatedDate = LAST_N_WEEKS:1", {"Last Saturday"}),
        ("CreatedDate = N_MONTHS_AGO:3", {"October first"}),
        ("CreatedDate = LAST_N_MONTHS:3", {"October first", "New Year's Eve"}),
        ("CreatedDate > YESTERDAY", {"Today midnight", *BIRTHDATES}),
        ("CreatedDate >= YESTERDAY", {"Yesterday late", "Today midnight", *BIRTHDATES}),
        ("CreatedDate <= LAST_YEAR", {"October first", "New Year's Eve"}),
        ("CreatedDate = NEXT_N_YEARS:3", set()),
        ("Birthdate = TOMORROW", {"Tomorrow"}),
        ("Birthdate = NEXT_90_DAYS", {"Tomorrow", "April 15"}),
        ("Birthdate = NEXT_N_DAYS:90", {"Tomorrow", "April 15"}),
        ("Birthdate > NEXT_90_DAYS", {"April 16"}),
        ("Birthdate = NEXT_QUARTER", {"April 15", "April 16"}),
        ("Birthdate = N_YEARS_AGO:61", {"Long ago"}),
        ("Birthdate != THIS_QUARTER", {"April 15", "April 16", "Long ago", *CREATED}),
    ],
)
def test_date_literals_select_the_documented_ranges(org_on_a_known_day, condition, expected):
    session, base = org_on_a_known_day
    answer = query(session, base, f"SELECT LastName FROM Contact WHERE {condition}")
    assert answer.status_code == 200, answer.text
    assert {record["LastName"] for record in answer.json()["records"]} == expected


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ("CreatedDate = LAST_N_DAYS", "MALFORMED_QUERY"),
        ("CreatedDate = LAST_N_DAYS:many", "MALFORMED_QUERY"),
        ("CreatedDate = TODAY:3", "MALFORMED_QUERY"),
        ("CreatedDate = LAST_FORTNIGHT", "MALFORMED_QUERY"),
        ("LastName = TODAY", "INVALID_QUERY_FILTER_OPERATOR"),
        ("CreatedDate IN (TODAY, YESTERDAY)", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_a_bad_date_literal_is_refused(org_on_a_known_day, condition, code):
    session, base = org_on_a_known_day
    answer = query(session, base, f"SELECT Id FROM Contact WHERE {condition}")
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == code
