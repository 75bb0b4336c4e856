"""``cmsync run`` and ``cmsync worker`` on RabbitMQ behind a fault proxy: cut mid-run, the processes keep
running, each says once that the broker went away and once that it is back (pika's and Dramatiq's own
lines about it stay at debug), and the run completes with both systems agreeing."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmsync.state import StateStore
from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from tests.daemon.daemon import Daemon, free_port
from tests.faults.converged import assert_converged
from tests.faults.proxy import FaultProxy
from tests.sync.cmsync_worker import Workers
from tests.sync.conftest import wait_for_end
from tests.sync.world import World

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def config(world: World, tmp_path: Path, amqp_url: str, rabbitmq_proxy: FaultProxy) -> Iterator[Path]:
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    broker.close()
    yield world.write_config(
        tmp_path / "cmsync.yaml",
        broker={"url": rabbitmq_proxy.url(amqp_url)},
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]


def _events(lines: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == event]


def test_a_broker_cut_mid_run_is_logged_once_each_way(
    world: World, config: Path, tmp_path: Path, rabbitmq_proxy: FaultProxy
) -> None:
    world.cm.faults.set_latency(0.02)
    workers = Workers(config, tmp_path)
    daemon = Daemon(config, tmp_path)
    store = StateStore.open(world.settings().state.url.get_secret_value())
    try:
        workers.start()
        daemon.start()
        (started,) = daemon.wait_for("main sync started")
        deadline_run = store.runs.get(started["run_id"])
        assert deadline_run is not None and deadline_run.in_flight
        rabbitmq_proxy.cut_for(2)
        world.cm.faults.set_latency(0)
        run = wait_for_end(store, started["run_id"], timeout=90)
        assert run.status == "succeeded", run.error
        assert_converged(world)
        deadline = time.monotonic() + 30  # each process's probe notices the broker back within 10 s
        while True:
            logged = _lines(workers.log)
            down = _events(logged, "broker unavailable; retrying until it is back")
            back = _events(logged, "broker back")
            if len(back) >= len(down) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert 1 <= len(down) <= 3 and len(back) == len(down)
        assert all(line["down_seconds"] >= 1 for line in back)
        noise = [line for line in logged if line.get("logger", "").startswith(("pika", "dramatiq"))
                 and line.get("level") in ("warning", "error", "critical")]  # fmt: skip
        assert noise == []
        assert workers.process is not None and workers.process.poll() is None
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        workers.stop()
        store.close()
