"""Re-import of a window of tracking on the emulators: exactly the window comes back, once."""

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from cmsync.sync.reimport import Reimport, ReimportRefusedError, reimport_window
from cmsync.workers.retention_requests import request_reimport
from tests.retention.conftest import activity, activity_events, ago, reload, wait_for_purge
from tests.sync.conftest import EmbeddedCmsync
from tests.sync.world import World


def _wait_for_reimport(cmsync: EmbeddedCmsync, after: datetime, timeout: float = 30) -> dict[str, Any]:
    """The last re-import's record, once one started after ``after`` has finished (on a worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = cmsync.store.facts.last_reimport.get()
        if done and datetime.fromisoformat(done["started_at"]) > after:
            return dict(done)
        time.sleep(0.05)
    raise AssertionError(f"no re-import finished within {timeout} s")


def _a_year_then_30_days(world: World, embedded) -> tuple[EmbeddedCmsync, dict[str, tuple[datetime, str, str]]]:
    """cmsync after importing a year of tracking, then purging all but the last 30 days."""
    cmsync = embedded(tracking={"days_to_keep": 400})
    assert cmsync.sync().status == "succeeded"
    year = activity_events(world)
    before = datetime.now(UTC)
    reload(cmsync, world, tracking={"days_to_keep": 30, "purge_max_share": 1})
    assert wait_for_purge(cmsync.store, before).status == "succeeded"
    return cmsync, year


def test_reimport_brings_back_exactly_the_window_once(world: World, embedded) -> None:
    cmsync, year = _a_year_then_30_days(world, embedded)
    kept = set(activity(world))
    marks = cmsync.store.watermarks.under("tracking:")
    since, until = ago(150), ago(60)
    window = {key for key, (when, _, _) in year.items() if since <= when < until}
    assert window and not window & kept

    request = Reimport(since, until)
    with pytest.raises(ReimportRefusedError, match=r"older than tracking\.days_to_keep"):
        reimport_window(cmsync.systems, request)
    forced = replace(request, force=True)
    writes = world.salesforce_writes()
    dry = reimport_window(cmsync.systems, forced, dry_run=True)
    assert world.salesforce_writes() == writes and set(activity(world)) == kept
    assert dry.events == len(window)

    done = reimport_window(cmsync.systems, forced)
    assert (done.events, done.rejected) == (len(window), 0)
    assert [(s.source_id, s.counts) for s in done.sources] == [(s.source_id, s.counts) for s in dry.sources]
    assert world.salesforce_writes() - writes == dry.salesforce_writes
    assert done.campaign_monitor_calls == dry.campaign_monitor_calls
    assert set(activity(world)) == kept | window

    queued = datetime.now(UTC)
    request_reimport(forced)
    again = _wait_for_reimport(cmsync, queued)
    assert (again["events"], again["rejected"]) == (len(window), 0)
    assert set(activity(world)) == kept | window
    assert world.duplicates("CM_Email_Activity__c", "CM_Activity_Key__c") == []
    assert cmsync.store.watermarks.under("tracking:") == marks


def test_reimport_narrowed_to_one_campaign_and_type(world: World, embedded) -> None:
    cmsync, year = _a_year_then_30_days(world, embedded)
    kept = set(activity(world))
    since, until = ago(200), ago(31)
    opens = [(key, source) for key, (when, source, kind) in year.items() if since <= when < until and kind == "Opened"]
    campaign = max({source for _, source in opens}, key=lambda source: sum(each == source for _, each in opens))
    request = Reimport(since, until, campaign=campaign, types=("opened",), force=True)
    report = reimport_window(cmsync.systems, request)
    expected = {key for key, source in opens if source == campaign}
    assert [source.counts for source in report.sources] == [{"opened": len(expected)}]
    assert set(activity(world)) == kept | expected


def test_reimport_refuses_what_it_cannot_do(world: World, embedded) -> None:
    cmsync = embedded(tracking={"types": ["sent", "opened"], "purge_deselected_types": True})
    systems = cmsync.systems
    with pytest.raises(ReimportRefusedError, match="is not before --until"):
        reimport_window(systems, Reimport(ago(2), ago(3)))
    with pytest.raises(ReimportRefusedError, match=r"is not one of campaign_monitor\.clients"):
        reimport_window(systems, Reimport(ago(3), ago(2), clients=("0" * 32,)))
    with pytest.raises(ReimportRefusedError, match="tracking type clicked is not selected"):
        reimport_window(systems, Reimport(ago(3), ago(2), types=("clicked",)))
    assert world.records("CM_Email_Activity__c") == []
