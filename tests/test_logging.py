"""Log lines: JSON with timestamp, level, event and context; console on a terminal; secrets never shown."""

import io
import json
import logging
from datetime import datetime

import pytest
import requests
import structlog

from cmsync.clients.campaign_monitor.records import Subscriber, SubscriberState
from cmsync.logs import configure_from, configure_logging, get_logger
from tests.config.builders import load, with_settings

CM_KEY = "cm-live-4c1d9e2f7a8b3c6d"
SF_SECRET = "sf-consumer-secret-51ab"
SF_REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJxX"
AMQP_PASSWORD = "r4bb1t-P4ss"


@pytest.fixture
def lines() -> io.StringIO:
    settings = load(
        with_settings(
            campaign_monitor={"auth": {"api_key": CM_KEY}},
            salesforce={"auth": {"client_id": "consumer", "client_secret": SF_SECRET, "refresh_token": SF_REFRESH}},
            broker={"url": f"amqp://cmsync:{AMQP_PASSWORD}@mq.internal:5672/"},
            logging={"format": "json", "level": "debug"},
        )
    )
    stream = io.StringIO()
    configure_from(settings, stream)
    yield stream
    configure_logging("json", "info")


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _assert_no_secret(text: str) -> None:
    for secret in (CM_KEY, SF_SECRET, SF_REFRESH, AMQP_PASSWORD):
        assert secret not in text


def test_json_lines_carry_timestamp_level_event_and_context(lines: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(run_id=17, client="Acme", list="Newsletter"):
        get_logger("cmsync.workers.import").info("page imported", records=1000)
    (record,) = _records(lines)
    assert record["event"] == "page imported" and record["level"] == "info" and record["records"] == 1000
    assert (record["run_id"], record["client"], record["list"]) == (17, "Acme", "Newsletter")
    assert str(record["timestamp"]).endswith("Z")


def test_known_secret_values_are_masked_anywhere(lines: io.StringIO) -> None:
    log = get_logger("test")
    log.info("calling", url=f"https://api.example.com/?key={CM_KEY}", body={"nested": [f"x{SF_SECRET}y"]})
    log.warning(f"refresh with {SF_REFRESH} failed")
    text = lines.getvalue()
    _assert_no_secret(text)
    assert text.count("***") == 3


def test_a_record_logged_as_a_named_tuple_is_masked_in_its_fields(lines: io.StringIO) -> None:
    member = Subscriber(
        email=f"{CM_KEY}@example.org", name="Zoë O'Brien", state=SubscriberState.ACTIVE,
        date=datetime(2026, 11, 30, 9, 15), joined=None, custom_fields=(), reads_email_with="", consent_to_track=None,
    )  # fmt: skip
    get_logger("test").warning("member refused", member=member)
    (record,) = _records(lines)
    _assert_no_secret(lines.getvalue())
    assert record["member"][0] == "***@example.org" and record["member"][1] == "Zoë O'Brien"


def test_secret_shaped_values_are_masked_without_being_known(lines: io.StringIO) -> None:
    log = get_logger("test")
    log.info(
        "request",
        headers={"Authorization": "Bearer 00Dxx0000001gPL!AQ0AQH0dMHZfz972", "Accept": "application/json"},
        response={"access_token": "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA", "instance_url": "https://na1.example.com"},
        dsn="postgresql://cmsync:db-Pa55word@db.internal/cmsync",
    )
    log.info("raw header Authorization: Basic Y20tbGl2ZTp4 sent")
    text = lines.getvalue()
    for secret in ("00Dxx0000001gPL", "db-Pa55word", "Y20tbGl2ZTp4"):
        assert secret not in text
    first = _records(lines)[0]
    assert first["headers"] == {"Authorization": "***", "Accept": "application/json"}
    assert first["response"] == {"access_token": "***", "instance_url": "https://na1.example.com"}
    assert first["dsn"] == "postgresql://cmsync:***@db.internal/cmsync"


def test_library_loggers_are_structured_and_masked(lines: io.StringIO) -> None:
    logging.getLogger("urllib3.connectionpool").error("connect to amqp://cmsync:%s@mq.internal failed", AMQP_PASSWORD)
    (record,) = _records(lines)
    assert record["logger"] == "urllib3.connectionpool" and record["level"] == "error"
    assert record["event"] == "connect to amqp://cmsync:***@mq.internal failed"


def test_tracebacks_are_masked(lines: io.StringIO) -> None:
    try:
        requests.Request("GET", "https://api.example.com", auth=(CM_KEY, "x")).prepare()
        raise RuntimeError(f"Campaign Monitor refused key {CM_KEY}")
    except RuntimeError:
        get_logger("test").exception("import failed")
    (record,) = _records(lines)
    assert "RuntimeError: Campaign Monitor refused key ***" in str(record["exception"])
    _assert_no_secret(lines.getvalue())


def test_level_filters(lines: io.StringIO) -> None:
    configure_logging("json", "warning", lines)
    get_logger("test").info("hidden")
    get_logger("test").warning("shown")
    assert [record["event"] for record in _records(lines)] == ["shown"]


def test_console_format_is_readable() -> None:
    stream = io.StringIO()
    configure_logging("console", "info", stream)
    get_logger("test").info("sync finished", run_id=3)
    output = stream.getvalue()
    assert "sync finished" in output and "run_id" in output and not output.lstrip().startswith("{")
    configure_logging("json", "info")


def test_auto_format_is_json_off_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("auto", "info", stream)
    get_logger("test").info("hello")
    assert json.loads(stream.getvalue())["event"] == "hello"
