"""The purge against the Salesforce emulator over HTTP: volume, Salesforce failing, types, tracking off."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from cmsync.clients.campaign_monitor.client import CampaignMonitorClient
from cmsync.clients.salesforce import PollPolicy, RetryPolicy
from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.mapping.records import ACTIVITY
from cmsync.retention.purge import CHUNK, last_purge, purge_old_tracking
from cmsync.state import StateStore
from cmsync.systems import Systems
from tests.retention.conftest import activity, activity_values, ago
from tests.sync.world import World

EngineFactory = Callable[..., Systems]


@pytest.fixture
def systems_for(world: World) -> Iterator[EngineFactory]:
    """``systems_for(salesforce=None, **settings)``: a Systems on the world (its own client when given)."""
    built: list[Systems] = []

    def build(salesforce: SalesforceClient | None = None, **sections: Any) -> Systems:
        settings = world.settings(**sections)
        systems = Systems(
            settings,
            StateStore.open(settings.state.url.get_secret_value()),
            CampaignMonitorClient.from_settings(settings.campaign_monitor),
            salesforce or SalesforceClient.from_settings(settings.salesforce),
        )
        built.append(systems)
        return systems

    yield build
    for systems in built:
        systems.close()
        systems.store.close()


def _seed(world: World, name: str, count: int, days_ago: float, kind: str = "Opened") -> set[str]:
    """``count`` activity records of ``kind`` written straight into Salesforce, spread over the day ``days_ago``."""
    keys = {f"{name}-{number}" for number in range(count)}
    for number, key in enumerate(sorted(keys)):
        world.sf.create(ACTIVITY, activity_values(key, ago(days_ago + number % 97 / 100), kind))
    return keys


def _quick_retries(world: World, **policy: Any) -> dict[str, Any]:
    settings = world.settings().salesforce
    return {"settings": settings, "retry": RetryPolicy(base_delay=0.01, max_delay=0.05, **policy)}


def test_a_purge_of_200000_records_streams_through_bulk_delete_jobs(world: World, systems_for) -> None:
    old = _seed(world, "old", 200_000, days_ago=45)
    young = _seed(world, "young", 1_000, days_ago=3)
    client = SalesforceClient.from_settings(world.settings().salesforce, poll=PollPolicy(initial=0.05, maximum=0.2))
    systems = systems_for(salesforce=client, tracking={"days_to_keep": 30, "purge_max_share": 1})
    purge = purge_old_tracking(systems, "test")
    assert purge is not None and purge.status == "succeeded"
    assert purge.to_delete == purge.deleted == len(old) and purge.total == len(old) + len(young)
    assert set(activity(world)) == young
    jobs = list(world.sf.bulk.jobs.values())
    assert {(job.kind, job.operation, job.object) for job in jobs} == {("ingest", "delete", ACTIVITY)}
    assert len(jobs) == len(old) // CHUNK and all(job.processed == CHUNK for job in jobs)
    calls = world.sf.calls.calls()
    pages = [position for position, call in enumerate(calls) if "/query" in call.path]
    first_job = next(position for position, call in enumerate(calls) if call.path.endswith("/jobs/ingest"))
    assert len(pages) >= len(old) // 2000 and first_job < pages[-1]
    assert not any(call.method == "DELETE" for call in calls)


def test_salesforce_failing_mid_purge_leaves_the_rest_for_the_next_purge(world: World, systems_for) -> None:
    old = _seed(world, "old", 3_000, days_ago=45)
    young = _seed(world, "young", 300, days_ago=3)
    contacts = world.records("Contact")
    deletes: list[str] = []

    def fail_after_two_deletes(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.method == "DELETE":
            deletes.append(response.request.url or "")
            if len(deletes) == 2:
                world.sf.faults.update({"unavailable_next": 2})

    session = requests.Session()
    session.hooks["response"].append(fail_after_two_deletes)
    quick = _quick_retries(world, attempts=2)
    client = SalesforceClient.from_settings(quick["settings"], retry=quick["retry"], session=session)
    systems = systems_for(salesforce=client, tracking={"days_to_keep": 30, "purge_max_share": 1})

    failed = purge_old_tracking(systems, "test", chunk=500)
    assert failed is not None and failed.status == "failed" and failed.error
    assert failed.deleted == 400 and failed.to_delete == len(old)
    left = set(activity(world))
    assert young <= left and len(left & old) == len(old) - 400
    assert world.records("Contact") == contacts

    again = purge_old_tracking(systems, "test", chunk=500)
    assert again is not None and again.status == "succeeded" and again.deleted == len(old) - 400
    assert set(activity(world)) == young
    assert world.records("Contact") == contacts


def test_records_salesforce_refuses_wait_for_the_next_purge(world: World, systems_for) -> None:
    old = _seed(world, "old", 1_000, days_ago=40)
    young = _seed(world, "young", 100, days_ago=2)
    quick = _quick_retries(world, lock_attempts=1)
    client = SalesforceClient.from_settings(quick["settings"], retry=quick["retry"])
    systems = systems_for(salesforce=client, tracking={"days_to_keep": 30, "purge_max_share": 1})
    world.sf.faults.update({"lock_next": 150})
    partial = purge_old_tracking(systems, "test")
    assert partial is not None and partial.status == "partial"
    assert (partial.deleted, partial.failed) == (len(old) - 150, 150)
    assert len(set(activity(world)) & old) == 150
    again = purge_old_tracking(systems, "test")
    assert again is not None and (again.status, again.deleted) == ("succeeded", 150)
    assert set(activity(world)) == young


def test_deselected_types_are_kept_unless_purge_deselected_types(world: World, systems_for) -> None:
    opened = _seed(world, "opened", 50, days_ago=2)
    clicked = _seed(world, "clicked", 50, days_ago=2, kind="Clicked")
    clicked_old = _seed(world, "clicked-old", 20, days_ago=50, kind="Clicked")
    tracking = {"types": ["sent", "opened"], "days_to_keep": 30, "purge_max_share": 1}
    kept = purge_old_tracking(systems_for(tracking=tracking), "test")
    assert kept is not None and kept.deleted == len(clicked_old)
    assert set(activity(world)) == opened | clicked
    purged = purge_old_tracking(systems_for(tracking={**tracking, "purge_deselected_types": True}), "test")
    assert purged is not None and purged.deleted == len(clicked)
    assert set(activity(world)) == opened


def test_with_tracking_off_records_still_age_out_and_disconnect_stops_the_purge(world: World, systems_for) -> None:
    _seed(world, "old", 30, days_ago=31)
    young = _seed(world, "young", 30, days_ago=29)
    systems = systems_for(tracking={"enabled": False, "days_to_keep": 30, "purge_max_share": 1})
    systems.store.connection.set(False)
    assert purge_old_tracking(systems, "test") is None
    assert len(activity(world)) == 60
    systems.store.connection.set(True)
    purge = purge_old_tracking(systems, "test")
    assert purge is not None and purge.deleted == 30
    assert set(activity(world)) == young


def test_purges_are_recorded_and_take_turns_on_either_state_store(world: World, systems_for, state_url: str) -> None:
    _seed(world, "old", 40, days_ago=31)
    young = _seed(world, "young", 10, days_ago=1)
    systems = systems_for(state={"url": state_url}, tracking={"days_to_keep": 30, "purge_max_share": 1})
    purge = purge_old_tracking(systems, "test")
    assert purge is not None and (purge.status, purge.deleted, purge.total) == ("succeeded", 40, 50)
    assert last_purge(systems.store) == purge
    assert purge.oldest_kept == min(activity(world).values())
    assert set(activity(world)) == young

    assert systems.store.leases.tracking_purge.take("another worker", timedelta(minutes=5))
    assert purge_old_tracking(systems, "test") is None
    assert last_purge(systems.store) == purge
