"""The rolling purge end to end on the emulators: a year of tracking in Salesforce, then days_to_keep."""

from datetime import UTC, datetime

from prometheus_client import REGISTRY

from cmsync.config.model import TrackingSettings
from cmsync.retention.purge import last_purge, purge_old_tracking
from cmsync.workers.retention_requests import tightened_retention
from tests.retention.conftest import activity, ago, reload, wait_for_purge
from tests.sync.world import World


def _refusals() -> float:
    return REGISTRY.get_sample_value("cmsync_tracking_purge_refusals_total") or 0.0


def test_purge_keeps_exactly_days_to_keep_and_a_reload_purges_again(world: World, embedded) -> None:
    cmsync = embedded(tracking={"days_to_keep": 400})
    assert cmsync.sync().status == "succeeded"
    year = activity(world)
    assert min(year.values()) < ago(360) and max(year.values()) > ago(7)
    assert last_purge(cmsync.store).deleted == 0  # type: ignore[union-attr]
    marks = cmsync.store.watermarks.under("tracking:")

    before = datetime.now(UTC)
    assert reload(cmsync, world, tracking={"days_to_keep": 30, "purge_max_share": 1})
    purge = wait_for_purge(cmsync.store, before)
    assert purge.status == "succeeded" and purge.reason == "reload: days_to_keep 400 → 30"
    assert purge.cutoff is not None and abs((before - purge.cutoff).days - 30) <= 1
    kept = activity(world)
    assert set(kept) == {key for key, when in year.items() if when >= purge.cutoff}
    assert purge.deleted == len(year) - len(kept) > len(kept) > 0
    assert purge.oldest_kept == min(kept.values())

    before = datetime.now(UTC)
    assert reload(cmsync, world, tracking={"days_to_keep": 7, "purge_max_share": 1})
    purge = wait_for_purge(cmsync.store, before)
    week = activity(world)
    assert purge.status == "succeeded" and purge.cutoff is not None
    assert set(week) == {key for key in kept if kept[key] >= purge.cutoff}
    assert 0 < len(week) < len(kept)
    assert cmsync.store.watermarks.under("tracking:") == marks


def test_the_next_main_sync_does_not_bring_purged_events_back(world: World, embedded) -> None:
    cmsync = embedded(tracking={"days_to_keep": 400})
    cmsync.sync()
    before = datetime.now(UTC)
    reload(cmsync, world, tracking={"days_to_keep": 30, "purge_max_share": 1})
    wait_for_purge(cmsync.store, before)
    kept = activity(world)
    state = world.cm.state
    client = state.clients[world.clients[0]]
    fresh = state.send_campaign(client.client_id, [client.lists[0].list_id], name="Fresh", subject="Fresh")
    opener = fresh.events["recipients"].events[0].email
    state.record_event(fresh.campaign_id, "opens", opener)
    old = client.campaigns[0]
    state.record_event(old.campaign_id, "opens", old.events["recipients"].events[0].email)

    run = cmsync.sync()
    assert run.status == "succeeded", run.error
    after = activity(world)
    assert set(kept) < set(after)
    # The fresh campaign's recipients and open, and today's open on the old campaign: the window is about
    # the event's date, not the campaign's; nothing purged comes back.
    assert len(after) - len(kept) == len(fresh.events["recipients"]) + 2
    assert all(when >= min(kept.values()) for when in after.values())
    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    assert activity(world) == after
    assert world.duplicates("CM_Email_Activity__c", "CM_Activity_Key__c") == []


def test_safety_stop_trips_on_a_mistaken_days_to_keep(world: World, embedded) -> None:
    cmsync = embedded(tracking={"days_to_keep": 30})
    assert cmsync.sync().status == "succeeded"
    month = activity(world)
    refusals = _refusals()

    before = datetime.now(UTC)
    assert reload(cmsync, world, tracking={"days_to_keep": 1})
    refused = wait_for_purge(cmsync.store, before)
    assert refused.status == "refused" and refused.deleted == 0
    assert refused.to_delete > refused.total / 2
    assert refused.error is not None and "cmsync purge-tracking --confirm" in refused.error
    assert "tracking.purge_max_share (50%)" in refused.error
    assert activity(world) == month
    assert _refusals() == refusals + 1
    assert cmsync.sync().status == "succeeded"
    assert last_purge(cmsync.store).status == "refused"  # type: ignore[union-attr]
    assert activity(world) == month

    confirmed = purge_old_tracking(cmsync.systems, "cmsync purge-tracking", confirm=True)
    assert confirmed is not None and confirmed.status == "succeeded" and confirmed.cutoff is not None
    assert confirmed.deleted == refused.to_delete
    assert set(activity(world)) == {key for key, when in month.items() if when >= confirmed.cutoff}


def test_a_reload_asks_for_a_purge_only_when_retention_tightens() -> None:
    kept_90 = TrackingSettings()
    assert tightened_retention(kept_90, TrackingSettings(days_to_keep=30)) == "days_to_keep 90 → 30"
    assert tightened_retention(kept_90, TrackingSettings(days_to_keep=120)) is None
    opens = TrackingSettings(types=["sent", "opened"])
    assert tightened_retention(kept_90, opens) is None
    purging = TrackingSettings(types=["sent", "opened"], purge_deselected_types=True)
    assert tightened_retention(opens, purging) == "deselected types purged: clicked, bounced, unsubscribed, spam"
    assert tightened_retention(purging, TrackingSettings(types=["opened"], purge_deselected_types=True)) == (
        "deselected types purged: sent"
    )
    assert tightened_retention(purging, TrackingSettings(types=["sent", "opened", "spam"])) is None
