"""The state store behaves the same on SQLite and PostgreSQL: runs, jobs, watermarks, rejections, locks."""

import threading
from datetime import timedelta

from cmsync.state import StateStore
from tests.workers.conftest import OWNER, ManualClock


def test_one_run_at_a_time(store: StateStore) -> None:
    first = store.runs.begin("schedule", **OWNER)
    second = store.runs.begin("sync-now", **OWNER)
    assert first.started and not second.started
    assert second.run.id == first.run.id and second.run.trigger == "schedule"
    assert store.runs.current() == first.run


def test_concurrent_requests_start_one_run(state_url: str, clock: ManualClock) -> None:
    starts = []

    def request() -> None:
        own = StateStore.open(state_url, clock)
        starts.append(own.runs.begin("sync-now", **OWNER))
        own.close()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(start.started for start in starts) == 1
    assert len({start.run.id for start in starts}) == 1


def test_run_closes_when_its_last_job_is_done_even_if_redelivered(store: StateStore, clock: ManualClock) -> None:
    run = store.runs.begin("schedule", full_pass=True, **OWNER).run
    store.runs.add_jobs(run.id, ["list:a", "list:b", "campaign:c"])
    store.runs.add_jobs(run.id, ["list:a"])
    assert store.runs.complete_job(run.id, "list:a") == 2
    assert store.runs.complete_job(run.id, "list:a") == 2
    assert store.runs.complete_job(run.id, "list:b") == 1
    assert store.runs.get(run.id).pending_jobs == 1  # type: ignore[union-attr]
    assert store.runs.complete_job(run.id, "campaign:c") == 0
    clock.advance(timedelta(minutes=3))
    assert store.runs.finish(run.id, "succeeded") is True
    assert store.runs.finish(run.id, "failed", "late duplicate") is False
    finished = store.runs.get(run.id)
    assert finished is not None and finished.status == "succeeded" and finished.full_pass
    assert finished.duration == timedelta(minutes=3) and finished.error is None
    assert store.runs.current() is None and store.runs.begin("schedule", **OWNER).started


def test_counts_add_up_per_object_and_outcome(store: StateStore) -> None:
    run = store.runs.begin("schedule", **OWNER).run
    store.runs.count(run.id, "CM_List_Member__c", "imported", 1000)
    store.runs.count(run.id, "CM_List_Member__c", "imported", 234)
    store.runs.count(run.id, "CM_List_Member__c", "rejected", 2)
    store.runs.count(run.id, "CM_Campaign__c", "imported", 0)
    assert store.runs.get(run.id).counts == {"CM_List_Member__c": {"imported": 1234, "rejected": 2}}  # type: ignore[union-attr]


def test_sent_run_whose_owner_is_gone_is_closed_as_interrupted(store: StateStore, clock: ManualClock) -> None:
    stuck = store.runs.begin("schedule", **OWNER).run
    store.runs.mark_sent(stuck.id)
    clock.advance(timedelta(seconds=31))
    fresh = store.runs.begin("sync-now", owner="host-b:200", stale_after=timedelta(seconds=30))
    assert fresh.started and not fresh.replayed and fresh.run.id != stuck.id
    assert fresh.run.owner == "host-b:200" and not fresh.run.dispatched
    interrupted = store.runs.get(stuck.id)
    assert interrupted is not None and interrupted.status == "cancelled"
    assert interrupted.error is not None and interrupted.error.startswith(
        "interrupted: host-a:100 showed no sign of life for 0:00:30"
    )


def test_unsent_run_whose_owner_is_gone_is_taken_over(store: StateStore, clock: ManualClock) -> None:
    unsent = store.runs.begin("sync-now", full_pass=True, **OWNER).run
    clock.advance(timedelta(seconds=10))
    assert not store.runs.begin("schedule", owner="host-b:200", stale_after=timedelta(seconds=30)).started
    clock.advance(timedelta(seconds=21))
    taken = store.runs.begin("schedule", owner="host-b:200", stale_after=timedelta(seconds=30))
    assert taken.started and taken.replayed and taken.run.id == unsent.id
    assert taken.run.owner == "host-b:200" and taken.run.full_pass and taken.run.trigger == "sync-now"
    assert store.runs.begin("schedule", owner="host-c:300", stale_after=timedelta(seconds=30)).started is False


def test_supervisor_claims_the_runs_recorded_for_it(store: StateStore, clock: ManualClock) -> None:
    run = store.runs.begin("sync-now", owner="supervisor-host:1", stale_after=timedelta(seconds=30)).run
    assert store.runs.claim_unsent("other-host:2", timedelta(seconds=30)) is None
    claimed = store.runs.claim_unsent("supervisor-host:1", timedelta(seconds=30))
    assert claimed is not None and claimed.id == run.id
    store.runs.mark_sent(run.id)
    assert store.runs.claim_unsent("supervisor-host:1", timedelta(seconds=30)) is None


def test_heartbeat_and_progress_keep_a_long_run_alive(store: StateStore, clock: ManualClock) -> None:
    run = store.runs.begin("schedule", **OWNER).run
    store.runs.mark_sent(run.id)
    for _ in range(4):
        clock.advance(timedelta(seconds=20))
        store.runs.beat([run.id], "worker-host:7")
        clock.advance(timedelta(seconds=20))
        store.runs.count(run.id, "CM_List_Member__c", "imported", 10)
    assert store.runs.close_abandoned(timedelta(seconds=30)) == []
    assert store.runs.begin("sync-now", **OWNER).run.id == run.id
    assert store.runs.get(run.id).owner == "worker-host:7"  # type: ignore[union-attr]
    clock.advance(timedelta(seconds=31))
    assert store.runs.close_abandoned(timedelta(seconds=30)) == [run.id]


def test_last_run_and_history(store: StateStore, clock: ManualClock) -> None:
    assert store.runs.last() is None
    for status in ("succeeded", "failed", "partial"):
        run = store.runs.begin("schedule", **OWNER).run
        clock.advance(timedelta(minutes=1))
        store.runs.finish(run.id, status)  # type: ignore[arg-type]
    assert store.runs.last().status == "partial"  # type: ignore[union-attr]
    assert store.runs.last(["succeeded"]).status == "succeeded"  # type: ignore[union-attr]
    assert [run.status for run in store.runs.recent(2)] == ["partial", "failed"]


def test_watermarks(store: StateStore) -> None:
    assert store.watermarks.get("members:abc") is None
    store.watermarks.set("members:abc", "2026-11-01 10:00:00")
    store.watermarks.set("members:abc", "2026-11-02 09:30:00")
    store.watermarks.set("tracking:xyz:opened", "2026-10-01 00:00:00")
    assert store.watermarks.get("members:abc") == "2026-11-02 09:30:00"
    assert store.watermarks.under("members:") == {"members:abc": "2026-11-02 09:30:00"}


def test_content_hashes(store: StateStore) -> None:
    hashes = {f"list:person{n}@example.com": f"h{n}" for n in range(1200)}
    store.content_hashes.save("members:list", hashes)
    store.content_hashes.save("members:list", {"list:person1@example.com": "changed"})
    found = store.content_hashes.get("members:list", [*hashes, "list:new@example.com"])
    assert len(found) == 1200 and found["list:person1@example.com"] == "changed"
    assert store.content_hashes.get("members:other", hashes) == {}


def test_connection_state_survives_reopening(state_url: str, store: StateStore, clock: ManualClock) -> None:
    assert store.connection.connected()
    store.connection.set(False)
    reopened = StateStore.open(state_url, clock)
    assert not reopened.connection.connected()
    reopened.connection.set(True)
    assert store.connection.connected()
    reopened.close()


def test_rejections_are_kept_counted_and_resolved(store: StateStore, clock: ManualClock) -> None:
    payload = {"EmailAddress": "o'brien@example", "Name": "Siobhán O'Brien"}
    store.rejections.add(
        "CM_List_Member__c", "l:o'brien@example", "members:l", "INVALID_EMAIL_ADDRESS: bad email", payload, 1
    )
    clock.advance(timedelta(hours=1))
    store.rejections.add(
        "CM_List_Member__c", "l:o'brien@example", "members:l", "INVALID_EMAIL_ADDRESS: still bad", payload, 2
    )
    store.rejections.add("CM_Email_Activity__c", "k1", "tracking:c:opened", "STRING_TOO_LONG: URL", None, 2)
    (rejection,) = store.rejections.list("members:l")
    assert rejection.payload == payload and rejection.attempts == 2 and rejection.reason.endswith("still bad")
    assert rejection.last_seen - rejection.first_seen == timedelta(hours=1)
    assert store.rejections.count() == 2
    store.rejections.resolve("CM_List_Member__c", ["l:o'brien@example"])
    assert store.rejections.count() == 1 and store.rejections.list("members:l") == []


def test_locks_are_leases(store: StateStore, clock: ManualClock) -> None:
    assert store.leases.outbound_poller.take("host-a", timedelta(seconds=30))
    assert not store.leases.outbound_poller.take("host-b", timedelta(seconds=30))
    assert store.leases.outbound_poller.take("host-a", timedelta(seconds=30))
    clock.advance(timedelta(seconds=31))
    assert store.leases.outbound_poller.take("host-b", timedelta(seconds=30))
    store.leases.outbound_poller.release("host-b")
    assert store.leases.outbound_poller.take("host-a", timedelta(seconds=30))


def test_schema_is_created_once_and_reopened(state_url: str, clock: ManualClock) -> None:
    first = StateStore.open(state_url, clock)
    run = first.runs.begin("schedule", **OWNER).run
    first.close()
    second = StateStore.open(state_url, clock)
    assert second.runs.current() == run
    second.close()


def test_a_run_vouched_for_through_a_retry_backoff_stays_owned(store: StateStore, clock: ManualClock) -> None:
    run = store.runs.begin("schedule", **OWNER).run
    store.runs.mark_sent(run.id)
    store.runs.beat([run.id], "worker-host:7", until=clock.now + timedelta(minutes=5))
    store.runs.beat([run.id], "worker-host:8")
    clock.advance(timedelta(minutes=5))
    assert store.runs.close_abandoned(timedelta(seconds=30)) == []
    clock.advance(timedelta(seconds=31))
    assert store.runs.close_abandoned(timedelta(seconds=30)) == [run.id]
