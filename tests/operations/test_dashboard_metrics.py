"""cmsync as its systemd units run it, with RabbitMQ: after a main sync, every series the Grafana dashboard
and the alert rules query is served by the supervisor or the workers (no panel shows "No data" for a
metric cmsync never emits), the unit's reload reloads, and both units stop cleanly."""

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from cmsync.state import StateStore
from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from tests.daemon.daemon import free_port
from tests.operations.queries import Selector, alert_queries, panel_queries, selectors, variable_queries
from tests.operations.units import Service, Unit
from tests.salesforce.conftest import KeyPair
from tests.sync.conftest import wait_for_first_run
from tests.sync.world import World, start_world, stop_world

pytestmark = pytest.mark.rabbitmq

RABBITMQ_QUEUE_COARSE_METRICS = {
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_messages",
}
"""RabbitMQ's own metrics that the README's scrape of /metrics/detailed?family=queue_coarse_metrics serves."""

Series = list[tuple[str, dict[str, str], float]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


class Notifications:
    """The socket systemd listens on for ``Type=notify`` services (``$NOTIFY_SOCKET``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(90)

    def wait_for(self, assignment: str, service: Service) -> None:
        try:
            while assignment not in self.socket.recv(4096).decode().splitlines():
                pass
        except TimeoutError:
            unit = service.unit.path.name
            raise AssertionError(f"no {assignment} from {unit}:\n{service.output()[-3000:]}") from None


def scrape(address: str) -> Series:
    text = requests.get(f"http://{address}/metrics", timeout=10).text
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def value(series: Series, name: str, **labels: str) -> float:
    return sum(v for n, found, v in series if n == name and labels.items() <= found.items())


def missing(wanted: set[Selector], series: Series) -> list[str]:
    return sorted(str(s) for s in wanted if not any(s.selects(name, labels) for name, labels, _ in series))


def test_every_series_the_dashboard_and_alerts_query_is_served(world: World, tmp_path: Path, amqp_url: str) -> None:
    supervisor_unit, worker_unit = Unit("cmsync.service"), Unit("cmsync-worker.service")
    key_pair = KeyPair()
    world.sf.oauth.trust_certificate(key_pair.certificate_pem)
    secrets = {"cm_api_key": b"sandbox-api-key", "sf_jwt_key": key_pair.private_pem}
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in supervisor_unit.credentials().keys() | worker_unit.credentials().keys():
        (credentials / name).write_bytes(secrets[name])
    supervisor_listen, worker_listen = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    config = world.write_config(
        tmp_path / "cmsync.yaml",
        campaign_monitor={"auth": {"api_key": "credential:cm_api_key"}},
        salesforce={"auth": {"client_id": "sandbox-client-id", "username": world.sf.integration_username,
                             "private_key_file": "credential:sf_jwt_key"}},
        broker={"url": amqp_url}, metrics={"listen": supervisor_listen}, logging={"format": "json", "level": "info"},
    )  # fmt: skip
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    broker.close()
    runtime = tmp_path / "run" / "cmsync-worker"
    runtime.mkdir(parents=True)
    notifications = Notifications(tmp_path / "notify.sock")
    worker = Service(
        worker_unit, config,
        {"CREDENTIALS_DIRECTORY": str(credentials), "RUNTIME_DIRECTORY": str(runtime),
         "CMSYNC_WORKER_METRICS": worker_listen},
        tmp_path / "worker.log",
    )  # fmt: skip
    supervisor = Service(
        supervisor_unit, config,
        {"CREDENTIALS_DIRECTORY": str(credentials), "NOTIFY_SOCKET": str(notifications.path),
         "WATCHDOG_USEC": str(supervisor_unit.seconds("WatchdogSec") * 1_000_000)},
        tmp_path / "supervisor.log",
    )  # fmt: skip
    try:
        worker.start()
        supervisor.start()
        notifications.wait_for("READY=1", supervisor)
        store = StateStore.open(world.settings().state.url.get_secret_value())
        run = wait_for_first_run(store)
        store.close()
        assert run.status == "succeeded", f"{run.error}\n{supervisor.output()[-2000:]}\n{worker.output()[-2000:]}"

        queried = selectors(panel_queries() + variable_queries() + alert_queries())
        ours = {s for s in queried if not s.metric.startswith("rabbitmq_")}
        deadline = time.monotonic() + 30
        while True:
            served = scrape(supervisor_listen) + scrape(worker_listen)
            absent = missing(ours, served)
            if not absent or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert not absent, f"queried but not served: {absent}"
        assert {s.metric for s in queried - ours} <= RABBITMQ_QUEUE_COARSE_METRICS
        from_workers = scrape(worker_listen)
        assert value(from_workers, "cmsync_records_total", object="CM_List_Member__c", outcome="created") > 0
        assert value(from_workers, "dramatiq_messages_total", actor_name="main_sync") >= 1
        assert list((runtime / "prometheus").glob("*.db"))

        assert supervisor.reload().returncode == 0
        notifications.wait_for("RELOADING=1", supervisor)
        notifications.wait_for("READY=1", supervisor)
        after_reload = scrape(supervisor_listen)
        assert value(after_reload, "cmsync_reloads_total", result="applied") == 1
        assert value(after_reload, "cmsync_config_last_reload_successful") == 1
        broken = yaml.safe_load(config.read_text())
        broken["sync"] = {"import_frequency": "fortnightly"}
        config.write_text(yaml.safe_dump(broken))
        assert supervisor.reload().returncode == 0
        notifications.wait_for("RELOADING=1", supervisor)
        notifications.wait_for("READY=1", supervisor)
        after_refusal = scrape(supervisor_listen)
        assert value(after_refusal, "cmsync_reloads_total", result="refused") == 1
        assert value(after_refusal, "cmsync_config_last_reload_successful") == 0

        assert supervisor.stop() == 0, supervisor.output()[-2000:]
        assert worker.stop() == 0, worker.output()[-2000:]
    finally:
        supervisor.kill()
        worker.kill()
        notifications.socket.close()
