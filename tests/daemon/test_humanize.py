"""``cmsync status`` tells times in the product's words, for every bucket."""

from datetime import UTC, datetime, timedelta

import pytest

from cmsync.commands.humanize import time_ago

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=0), "seconds ago"),
        (timedelta(seconds=59), "seconds ago"),
        (timedelta(seconds=60), "a minute ago"),
        (timedelta(seconds=119), "a minute ago"),
        (timedelta(minutes=2), "2 minutes ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=1), "an hour ago"),
        (timedelta(hours=1, minutes=59), "an hour ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(hours=23, minutes=59), "23 hours ago"),
        (timedelta(days=1), "a day ago"),
        (timedelta(days=1, hours=23), "a day ago"),
        (timedelta(days=12), "12 days ago"),
    ],
)
def test_past(delta: timedelta, text: str) -> None:
    assert time_ago(NOW - delta, NOW) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=30), "in a few seconds"),
        (timedelta(minutes=1, seconds=5), "in a minute"),
        (timedelta(minutes=12), "in 12 minutes"),
        (timedelta(hours=3), "in 3 hours"),
        (timedelta(days=6), "in 6 days"),
    ],
)
def test_future(delta: timedelta, text: str) -> None:
    assert time_ago(NOW + delta, NOW) == text
