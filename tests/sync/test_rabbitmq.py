"""The main sync on RabbitMQ with ``cmsync worker`` processes, including workers killed and RabbitMQ
restarted mid-run: the next run converges to exactly the CM data, with no duplicates."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cmsync.state import StateStore
from cmsync.sync.reimport import Reimport
from cmsync.workers import actors
from cmsync.workers.broker import make_broker, purge_queued
from cmsync.workers.retention_requests import request_reimport
from cmsync.workers.runs import request_run
from tests.daemon.daemon import Daemon, cmsync, free_port
from tests.daemon.stop_before_send import STOPPED
from tests.daemon.sync_now_process import QUICK_HEARTBEAT, STOP_BEFORE_SEND, SyncNow
from tests.services import RabbitMQ, UnavailableError, start_rabbitmq
from tests.sync.cmsync_worker import Workers
from tests.sync.conftest import wait_for_end
from tests.sync.convergence import assert_converged
from tests.sync.kill_points import KILL_POINTS, api_calls
from tests.sync.world import World
from tests.waiting import wait_until

pytestmark = pytest.mark.rabbitmq


@contextmanager
def _workers_on(world: World, amqp_url: str, tmp_path: Path) -> Iterator[tuple[Workers, StateStore]]:
    """``cmsync worker`` processes on ``amqp_url`` with empty queues, and the world's state store."""
    config = world.write_config(tmp_path / "cmsync.yaml", broker={"url": amqp_url})
    settings = world.settings(broker={"url": amqp_url})
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    store = StateStore.open(settings.state.url.get_secret_value())
    workers = Workers(config, tmp_path)
    workers.start()
    try:
        yield workers, store
    finally:
        workers.stop()
        broker.close()
        store.close()


@pytest.fixture
def rabbit(world: World, amqp_url: str, tmp_path: Path) -> Iterator[tuple[Workers, StateStore]]:
    with _workers_on(world, amqp_url, tmp_path) as running:
        yield running


@pytest.fixture
def own_rabbitmq(tmp_path: Path) -> Iterator[RabbitMQ]:
    """A RabbitMQ node of this test's own, so restarting it disturbs no other test running beside it."""
    workdir = tmp_path / "rabbitmq"
    workdir.mkdir()
    try:
        node = start_rabbitmq(workdir)
    except UnavailableError as reason:
        pytest.skip(f"RabbitMQ: no node of the test's own: {reason}")
    try:
        yield node
    finally:
        node.stop()


def test_workers_import_everything(world: World, rabbit: tuple[Workers, StateStore]) -> None:
    _, store = rabbit
    run = wait_for_end(store, request_run(store, "test").run.id)
    assert run.status == "succeeded", run.error
    assert_converged(world)
    writes = world.salesforce_writes()
    second = wait_for_end(store, request_run(store, "test").run.id)
    assert second.status == "succeeded" and world.salesforce_writes() == writes


def test_workers_killed_mid_run(world: World, rabbit: tuple[Workers, StateStore]) -> None:
    workers, store = rabbit
    world.cm.calls.latency = 0.02
    run_id = request_run(store, "test").run.id
    deadline = time.monotonic() + 30
    while (
        not (store.runs.get(run_id).counts.get("CM_List_Member__c") or {}).get("created")
        and time.monotonic() < deadline
    ):  # type: ignore[union-attr]
        time.sleep(0.05)
    workers.kill_everything()
    assert store.runs.get(run_id).in_flight  # type: ignore[union-attr]
    world.cm.calls.latency = 0
    workers.start()
    first = wait_for_end(store, run_id)
    again = wait_for_end(store, request_run(store, "test").run.id)
    assert again.status == "succeeded", (first, again)
    assert_converged(world)


def test_rabbitmq_restarted_mid_run(world: World, own_rabbitmq: RabbitMQ, tmp_path: Path) -> None:
    with _workers_on(world, own_rabbitmq.url, tmp_path) as (_, store):
        _restarted_mid_run(world, own_rabbitmq, store)


def _restarted_mid_run(world: World, rabbitmq: RabbitMQ, store: StateStore) -> None:
    world.cm.calls.latency = 0.02
    run_id = request_run(store, "test").run.id
    wait_until(lambda: store.runs.get(run_id).pending_jobs > 0, "the run's jobs queued on RabbitMQ")  # type: ignore[union-attr]
    assert store.runs.get(run_id).in_flight  # type: ignore[union-attr]
    rabbitmq.ctl("stop_app")
    rabbitmq.ctl("start_app")
    world.cm.calls.latency = 0
    first = wait_for_end(store, run_id, timeout=120)
    again = wait_for_end(store, request_run(store, "test").run.id, timeout=120)
    assert again.status == "succeeded", (first, again)
    assert_converged(world)


@pytest.mark.parametrize(
    ("calls", "messages"),
    [(calls, "lost" if index % 2 else "redelivered") for index, calls in enumerate(KILL_POINTS)],
)
def test_workers_killed_at_any_point_the_next_sync_now_converges(
    world: World, rabbit: tuple[Workers, StateStore], amqp_url: str, tmp_path: Path, calls: int, messages: str
) -> None:
    """Workers killed mid-run; their messages come back to the restarted workers, or were lost with the
    broker (wiped while the workers were down): either way the next ``sync-now --wait`` converges."""
    workers, store = rabbit
    world.cm.calls.latency = 0.005
    assert SyncNow(workers.config, tmp_path).start().wait() == 0
    deadline = time.monotonic() + 60
    while api_calls(world) < calls:
        assert store.runs.current() is not None, f"the run ended before call {calls}"
        assert time.monotonic() < deadline, f"no call {calls} within 60 s"
        time.sleep(0.002)
    workers.kill_everything()
    killed = store.runs.current()
    assert killed is not None
    if messages == "lost":
        broker = make_broker(amqp_url)
        purge_queued(broker)
        broker.close()
    world.cm.calls.latency = 0
    workers.start()
    after = SyncNow(workers.config, tmp_path, "--wait").start()
    assert after.wait(timeout=90) == 0, after.text()
    assert after.text().count("lost its owner") <= 1, "the resumed run kept its owner"
    assert store.runs.current() is None
    assert store.runs.last().status == "succeeded"  # type: ignore[union-attr]
    assert not store.runs.get(killed.id).in_flight  # type: ignore[union-attr]
    assert_converged(world)


def test_a_run_whose_messages_were_all_lost_is_closed_by_the_supervisor(
    world: World, amqp_url: str, tmp_path: Path
) -> None:
    config = world.write_config(
        tmp_path / "supervised.yaml", broker={"url": amqp_url}, metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )  # fmt: skip
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    daemon = Daemon(config, tmp_path, QUICK_HEARTBEAT).start()
    workers = Workers(config, tmp_path)
    store = StateStore.open(world.settings().state.url.get_secret_value())
    try:
        (started,) = daemon.wait_for("main sync started")
        assert purge_queued(broker) == 1
        (closed,) = daemon.wait_for("run closed as interrupted: its owner is gone; the next run resumes")
        assert closed["run_id"] == started["run_id"]
        lost = store.runs.get(started["run_id"])
        assert lost is not None and lost.status == "cancelled" and (lost.error or "").startswith("interrupted:")
        workers.start()
        after = SyncNow(config, tmp_path, "--wait").start()
        assert after.wait(timeout=90) == 0, after.text()
        assert_converged(world)
    finally:
        workers.stop()
        daemon.stop()
        daemon.kill()
        broker.close()
        store.close()


def test_killed_between_recording_and_sending_the_supervisor_sends_it(
    world: World, amqp_url: str, tmp_path: Path
) -> None:
    config = world.write_config(
        tmp_path / "supervised.yaml", broker={"url": amqp_url}, metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"}, sync={"import_frequency": "never"},
    )  # fmt: skip
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    broker.close()
    stopped = SyncNow(config, tmp_path, command=STOP_BEFORE_SEND).start()
    stopped.wait_for(STOPPED)
    stopped.kill()
    store = StateStore.open(world.settings().state.url.get_secret_value())
    unsent = store.runs.current()
    assert unsent is not None and not unsent.dispatched
    workers = Workers(config, tmp_path)
    workers.start()
    daemon = Daemon(config, tmp_path, QUICK_HEARTBEAT).start()
    try:
        (sent,) = daemon.wait_for("main sync started")
        assert sent["run_id"] == unsent.id
        run = wait_for_end(store, unsent.id)
        assert run.status == "succeeded", run.error
        assert_converged(world)
    finally:
        workers.stop()
        daemon.stop()
        daemon.kill()
        store.close()


def test_disconnect_purges_what_is_queued_and_no_actor_writes_after_it(
    world: World, amqp_url: str, tmp_path: Path
) -> None:
    config = world.write_config(
        tmp_path / "cmsync.yaml", broker={"url": amqp_url}, logging={"format": "json", "level": "info"}
    )
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    store = StateStore.open(world.settings().state.url.get_secret_value())
    workers = Workers(config, tmp_path)
    workers.start()
    try:
        first = SyncNow(config, tmp_path, "--wait").start()
        assert first.wait(timeout=90) == 0, first.text()
        workers.stop()
        since = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
        queued = cmsync("reimport-tracking", "--since", since, "--config", str(config))
        assert queued.returncode == 0, queued.stdout + queued.stderr
        assert SyncNow(config, tmp_path).start().wait() == 0
        actors.purge_tracking_job.send_with_options(args=("daily",), delay=60_000)
        result = cmsync("disconnect", "--config", str(config))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "queued messages purged: 3" in result.stdout
        assert store.runs.current() is None
        writes = world.salesforce_writes()
        request_reimport(Reimport(datetime.now(UTC) - timedelta(days=30), datetime.now(UTC)))
        workers.start()
        deadline = time.monotonic() + 60
        while "job dropped: disconnected" not in workers.log.read_text(errors="replace"):
            assert time.monotonic() < deadline, workers.log.read_text(errors="replace")[-3000:]
            time.sleep(0.1)
        assert world.salesforce_writes() == writes
    finally:
        workers.stop()
        broker.close()
        store.close()
