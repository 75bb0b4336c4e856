"""The console's Sync Now with RabbitMQ and ``cmsync worker``: the run goes to the workers, and the
supervisor's own runs (SIGUSR1, the schedule) still reach them afterwards."""

import re
import signal
from pathlib import Path

import pytest
import requests

from cmsync.state import StateStore
from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from tests.daemon.daemon import Daemon, free_port
from tests.sync.cmsync_worker import Workers
from tests.sync.conftest import wait_for_end
from tests.sync.world import World, start_world, stop_world

PASSWORD = "rabbit hole 🐇 password"


def _signed_in(url: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    form = http.get(f"{url}/signin", timeout=10).text
    token = re.search(r'name="signin_token" value="([^"]+)"', form).group(1)
    http.post(f"{url}/signin", data={"signin_token": token, "password": PASSWORD}, timeout=10)
    csrf = re.search(r'data-csrf="([^"]+)"', http.get(f"{url}/", timeout=60).text).group(1)
    return http, csrf


def _sync_now(http: requests.Session, url: str, csrf: str) -> int:
    answer = http.post(f"{url}/sync-now", headers={"Accept": "application/json", "X-CSRF-Token": csrf}, timeout=30)
    said = answer.json()
    assert said["ok"], said
    return int(re.fullmatch(r"run (\d+) started", said["message"]).group(1))


@pytest.mark.rabbitmq
def test_sync_now_from_the_console_runs_on_the_workers_and_the_supervisor_still_sends(
    tmp_path: Path, amqp_url: str
) -> None:
    world: World = start_world(tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    config = world.write_config(
        tmp_path / "cmsync.yaml", broker={"url": amqp_url}, metrics={"listen": f"127.0.0.1:{free_port()}"},
        console={"listen": listen, "password": PASSWORD}, logging={"format": "json", "level": "info"},
    )  # fmt: skip
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    broker.close()
    workers = Workers(config, tmp_path)
    workers.start()
    daemon = Daemon(config, tmp_path)
    store = StateStore.open(world.settings().state.url.get_secret_value())
    try:
        daemon.start()
        (first,) = daemon.wait_for("main sync started")
        assert wait_for_end(store, first["run_id"]).status == "succeeded"
        url = f"http://{listen}"
        http, csrf = _signed_in(url)
        from_console = _sync_now(http, url, csrf)
        assert wait_for_end(store, from_console).status == "succeeded"
        daemon.signal(signal.SIGUSR1)
        started = daemon.wait_for("main sync started", count=2)
        assert started[-1]["run_id"] == from_console + 1
        assert wait_for_end(store, from_console + 1).status == "succeeded"
        again = _sync_now(http, url, csrf)
        assert again == from_console + 2 and wait_for_end(store, again).status == "succeeded"
    finally:
        store.close()
        daemon.kill()
        workers.stop()
        stop_world(world)
