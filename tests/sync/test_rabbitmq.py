"""The main sync on RabbitMQ with ``cmsync worker`` processes, including workers killed and RabbitMQ
restarted mid-run: the next run converges to exactly the CM data, with no duplicates."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from cmsync.workers.runs import request_run
from cmsync.workers.state import StateStore
from tests.services import RabbitMQ
from tests.sync.cmsync_worker import Workers
from tests.sync.conftest import wait_for_end
from tests.sync.world import World

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def rabbit(world: World, amqp_url: str, tmp_path: Path) -> Iterator[tuple[Workers, StateStore]]:
    config = world.write_config(tmp_path / "cmsync.yaml", broker={"url": amqp_url})
    settings = world.settings(broker={"url": amqp_url})
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    store = StateStore.open(settings.state.url.get_secret_value())
    workers = Workers(config, tmp_path)
    workers.start()
    yield workers, store
    workers.stop()
    broker.close()
    store.close()


def _converged(world: World) -> None:
    expected = {
        f"{list_id}:{subscriber.email.lower()}": subscriber.state.value for list_id, subscriber in world.members()
    }
    members = world.records("CM_List_Member__c")
    assert {record["CM_Member_Key__c"]: record["CM_State__c"] for record in members} == expected
    assert len(members) == len(expected)
    assert world.duplicates("CM_Email_Activity__c", "CM_Activity_Key__c") == []
    assert world.duplicates("CM_Campaign__c", "CM_Campaign_ID__c") == []


def test_workers_import_everything(world: World, rabbit: tuple[Workers, StateStore]) -> None:
    _, store = rabbit
    run = wait_for_end(store, request_run(store, "test").run.id)
    assert run.status == "succeeded", run.error
    _converged(world)
    writes = world.salesforce_writes()
    second = wait_for_end(store, request_run(store, "test").run.id)
    assert second.status == "succeeded" and world.salesforce_writes() == writes


def test_workers_killed_mid_run(world: World, rabbit: tuple[Workers, StateStore]) -> None:
    workers, store = rabbit
    world.cm.calls.latency = 0.02
    run_id = request_run(store, "test").run.id
    deadline = time.monotonic() + 30
    while not (store.run(run_id).counts.get("CM_List_Member__c") or {}).get("created") and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.05)
    workers.kill_everything()
    assert store.run(run_id).in_flight  # type: ignore[union-attr]
    world.cm.calls.latency = 0
    workers.start()
    first = wait_for_end(store, run_id)
    again = wait_for_end(store, request_run(store, "test").run.id)
    assert again.status == "succeeded", (first, again)
    _converged(world)


def test_rabbitmq_restarted_mid_run(world: World, rabbit: tuple[Workers, StateStore], rabbitmq: RabbitMQ) -> None:
    _, store = rabbit
    world.cm.calls.latency = 0.02
    run_id = request_run(store, "test").run.id
    time.sleep(1.0)
    assert store.run(run_id).in_flight  # type: ignore[union-attr]
    rabbitmq.ctl("stop_app")
    rabbitmq.ctl("start_app")
    world.cm.calls.latency = 0
    first = wait_for_end(store, run_id, timeout=120)
    again = wait_for_end(store, request_run(store, "test").run.id, timeout=120)
    assert again.status == "succeeded", (first, again)
    _converged(world)
