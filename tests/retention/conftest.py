"""Fixtures of the retention tests: a world whose tracking events spread over a year, cmsync on the
embedded broker, reloads as the supervisor does them, and Salesforce activity records written directly."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmsync.clients.salesforce.client import parse_datetime
from cmsync.retention.purge import PurgeRecord, last_purge
from cmsync.state import StateStore
from cmsync.systems import Systems, install
from cmsync.workers.retention_requests import request_purge_after_reload
from cmsync_sandbox.campaign_monitor.dates import DAY, MINUTE
from cmsync_sandbox.campaign_monitor.seeding import SeedSpec
from tests.sync.conftest import EmbeddedCmsync, embedded
from tests.sync.world import World, start_world, stop_world
from tests.workers.conftest import postgres_schema_url, state_url

__all__ = ["embedded", "postgres_schema_url", "state_url"]
YEAR = SeedSpec(clients=2, lists_per_client=2, subscribers_per_list=40, campaigns_per_client=6, months=12)
SPREAD_EVERY_DAYS = 12


def spread_campaigns(world: World) -> None:
    """A campaign every 12 days over the last year for the first client, each opened within days of sending."""
    state = world.cm.state
    client = state.clients[world.clients[0]]
    now = state.clock.now()
    for number, days_ago in enumerate(range(365, 0, -SPREAD_EVERY_DAYS)):
        sent = now - days_ago * DAY
        campaign = state.send_campaign(
            client.client_id, [client.lists[number % 2].list_id], name=f"Spread #{number}", subject="Spread", sent=sent
        )
        for position, recipient in enumerate(campaign.events["recipients"].events[:12]):
            at = min(now - MINUTE, sent + (position * 7 + 1) * 60 * MINUTE)
            state.record_event(campaign.campaign_id, "opens", recipient.email, at=at)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, YEAR)
    spread_campaigns(started)
    yield started
    stop_world(started)


def activity(world: World) -> dict[str, datetime]:
    """Every ``CM_Email_Activity__c`` in Salesforce: its key and its activity date."""
    return {
        record["CM_Activity_Key__c"]: parse_datetime(record["CM_Activity_Date__c"])
        for record in world.records("CM_Email_Activity__c")
    }


def activity_events(world: World) -> dict[str, tuple[datetime, str, str]]:
    """Every activity record: its key → (activity date, CM campaign or journey email ID, type)."""
    campaigns = {record["Id"]: record["CM_Campaign_ID__c"] for record in world.records("CM_Campaign__c")}
    return {
        record["CM_Activity_Key__c"]: (
            parse_datetime(record["CM_Activity_Date__c"]),
            campaigns[record["CM_Campaign__c"]],
            record["CM_Type__c"],
        )
        for record in world.records("CM_Email_Activity__c")
    }


def reload(cmsync: EmbeddedCmsync, world: World, **sections: Any) -> bool:
    """Swap in new settings as the supervisor's reload does, then ask for the purge a tighter retention needs."""
    previous = cmsync.systems
    cmsync.systems = Systems.from_settings(world.settings(**sections), previous.store)
    install(cmsync.systems)
    previous.close()
    return request_purge_after_reload(previous.settings, cmsync.systems.settings)


def wait_for_purge(store: StateStore, after: datetime, timeout: float = 60) -> PurgeRecord:
    """The first purge started after ``after``, once it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        purge = last_purge(store)
        if purge is not None and purge.started_at > after and purge.status != "running":
            return purge
        time.sleep(0.05)
    raise AssertionError(f"no purge ended within {timeout} s: {last_purge(store)}")


def activity_values(key: str, when: datetime, kind: str = "Opened") -> dict[str, Any]:
    """A ``CM_Email_Activity__c`` as cmsync writes it (for records written straight into the emulator)."""
    utc = when.astimezone(UTC)
    return {
        "CM_Activity_Key__c": key,
        "CM_Type__c": kind,
        "CM_Activity_Date__c": utc.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "CM_Activity_Day__c": int(utc.strftime("%Y%m%d")),
        "CM_Email__c": f"{key}@example.com",
    }


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
