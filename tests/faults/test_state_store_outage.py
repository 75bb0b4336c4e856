"""``cmsync run`` on PostgreSQL behind a fault proxy: cut, blackholed or slowed during a run, the
supervisor keeps running, says once when the store went away and once when it came back, and the run
completes with both systems agreeing."""

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from cmsync.clients.campaign_monitor.records import SubscriberDetails
from tests.daemon.daemon import Daemon, cmsync, free_port
from tests.faults.converged import assert_converged
from tests.faults.proxy import FaultProxy
from tests.sync.world import World

LONG_ADDRESS = "o'brien.a.rather.long.address.made.of.many.parts@example-domain.co.uk"
"""Long and with an apostrophe, yet within Salesforce's 80 characters for an Email field."""


@pytest.fixture
def config(world: World, tmp_path: Path, postgres_schema_url: str, postgres_proxy: FaultProxy) -> Path:
    return world.write_config(
        tmp_path / "cmsync.yaml",
        state={"url": postgres_proxy.url(postgres_schema_url)},
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )


@pytest.fixture
def daemon(config: Path, tmp_path: Path) -> Iterator[Daemon]:
    started = Daemon(config, tmp_path)
    yield started
    started.kill()


def _get(config: Path, path: str) -> requests.Response:
    listen = yaml.safe_load(config.read_text())["metrics"]["listen"]
    return requests.get(f"http://{listen}{path}", timeout=5)


def _finished_run(daemon: Daemon) -> dict[str, object]:
    (finished,) = daemon.wait_for("run finished", timeout=90)
    return finished


def test_a_cut_during_a_run_is_ridden_out(world: World, config: Path, daemon: Daemon, postgres_proxy) -> None:
    world.cm.faults.set_latency(0.02)
    daemon.start()
    daemon.wait_for("main sync started")
    postgres_proxy.cut_for(2)
    (down,) = daemon.wait_for("state store unavailable; retrying until it is back")
    assert "127.0.0.1" in down["reason"] or "closed" in down["reason"] or "connect" in down["reason"]
    assert _get(config, "/healthz").text.startswith("degraded: state store unavailable")
    assert "cmsync_state_store_up 0.0" in _get(config, "/metrics").text
    (back,) = daemon.wait_for("state store back")
    assert back["down_seconds"] >= 1
    world.cm.faults.set_latency(0)
    assert _finished_run(daemon)["status"] == "succeeded"
    assert_converged(world)
    assert _get(config, "/healthz").text.startswith("ok")
    metrics = _get(config, "/metrics").text
    assert "cmsync_state_store_up 1.0" in metrics and "cmsync_state_store_outages_total 1.0" in metrics
    assert len([line for line in daemon.logs() if line.get("event") == "state store back"]) == 1
    retried = [line for line in daemon.logs() if line.get("logger", "").startswith("dramatiq.worker")]
    assert all("stopped by a state store outage; Dramatiq retries it" in line["event"] for line in retried)
    assert all("exception" not in line for line in retried)
    assert daemon.stop() == 0


def test_a_sync_asked_for_during_an_outage_runs_when_the_store_is_back(
    world: World, config: Path, daemon: Daemon, postgres_proxy: FaultProxy
) -> None:
    daemon.start()
    _finished_run(daemon)
    postgres_proxy.cut()
    daemon.wait_for("state store unavailable; retrying until it is back")
    daemon.signal(signal.SIGUSR1)
    list_id, _ = next(world.members())
    with world.cm_client() as client:
        client.add_subscriber(list_id, SubscriberDetails(LONG_ADDRESS, "José O'Brien 田中 🙂"))
    postgres_proxy.restore()
    daemon.wait_for("state store back")
    runs = daemon.wait_for("run finished", count=2, timeout=90)
    assert runs[-1]["status"] == "succeeded"
    assert_converged(world)
    assert daemon.stop() == 0


def test_a_slow_network_and_a_blackhole_are_ridden_out(
    world: World, config: Path, daemon: Daemon, postgres_proxy: FaultProxy
) -> None:
    world.cm.faults.set_latency(0.02)
    postgres_proxy.delay(0.02)
    daemon.start()
    daemon.wait_for("main sync started")
    postgres_proxy.blackhole_for(2)
    assert _get(config, "/healthz").status_code == 200
    world.cm.faults.set_latency(0)
    assert _finished_run(daemon)["status"] == "succeeded"
    assert_converged(world)
    assert daemon.stop() == 0


def test_stopping_during_an_outage_exits_cleanly(
    world: World, config: Path, daemon: Daemon, postgres_proxy: FaultProxy
) -> None:
    daemon.start()
    _finished_run(daemon)
    postgres_proxy.cut()
    daemon.wait_for("state store unavailable; retrying until it is back")
    status = cmsync("status", "--config", str(config))
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert status.stderr.strip() == (
        f"cmsync status: state store postgresql://127.0.0.1:{postgres_proxy.port}/postgres unavailable: "
        f'connection failed: connection to server at "127.0.0.1", port {postgres_proxy.port} failed: '
        "server closed the connection unexpectedly"
    )
    assert daemon.stop(timeout=30) == 0
    events = [line.get("event") for line in daemon.logs()]
    assert events[-1] == "stopped"
    assert "Traceback" not in daemon.text()
