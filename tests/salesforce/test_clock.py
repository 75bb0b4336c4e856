"""The org's clock moves forward when a test says so, through Python or the control API, and everything
that reads time follows it: record stamps, getUpdated's window and the wall clock again after a reset."""

from datetime import UTC, datetime, timedelta

import requests

from cmsync_sandbox.salesforce.values import parse_datetime

DAY = 24 * 3600


def moment(text: str) -> datetime:
    return datetime.fromtimestamp(parse_datetime(text) / 1000, UTC)


def test_the_control_api_moves_the_clock_and_record_stamps_follow(server, emulator):
    before = moment(requests.get(f"{server.url}/_sandbox/clock", timeout=10).json()["now"])
    moved = requests.post(f"{server.url}/_sandbox/clock", json={"advance": 3 * DAY}, timeout=10)
    assert moved.status_code == 200
    assert moment(moved.json()["now"]) - before >= timedelta(days=3)
    created = emulator.get(emulator.create("Contact", {"LastName": "Ōkubo", "Email": "o'kubo@example.com"}))
    assert created is not None
    assert moment(created["CreatedDate"]) - datetime.now(UTC) > timedelta(days=2, hours=23)
    refused = requests.post(f"{server.url}/_sandbox/clock", json={"advance": -60}, timeout=10)
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "INVALID_CLOCK"
    past = requests.post(f"{server.url}/_sandbox/clock", json={"to": "2020-01-01T00:00:00Z"}, timeout=10)
    assert past.status_code == 400
    requests.post(f"{server.url}/_sandbox/reset", timeout=10)
    after_reset = moment(requests.get(f"{server.url}/_sandbox/clock", timeout=10).json()["now"])
    assert abs(after_reset - datetime.now(UTC)) < timedelta(minutes=1)


def test_get_updated_reads_its_window_from_the_moved_clock(client, emulator):
    record_id = emulator.create("Contact", {"LastName": "Later"})
    emulator.clock.advance(10 * DAY)
    emulator.update(record_id, {"Title": "Ten days on"})
    now = emulator.clock.moment()
    changed = client.updated("Contact", now - timedelta(hours=1), now + timedelta(minutes=2))
    assert changed.ids == [record_id]
