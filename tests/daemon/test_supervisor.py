"""``cmsync run`` as systemd runs it: a due sync runs, Sync Now, SIGHUP reloads (or refuses a broken
file), SIGTERM stops cleanly, disconnect holds across restarts, and systemd hears about all of it."""

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from cmsync.state import StateStore
from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from tests.daemon.daemon import Daemon, cmsync, free_port
from tests.sync.cmsync_worker import Workers
from tests.sync.conftest import wait_for_end
from tests.sync.world import HOLD, World, start_world, stop_world
from tests.waiting import wait_until

WORKER_THREADS = 4
"""The embedded broker's worker threads (cmsync.workers.broker.EmbeddedWorkers)."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


@pytest.fixture
def config(world: World, tmp_path: Path) -> Path:
    return world.write_config(
        tmp_path / "cmsync.yaml",
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()


def _store(world: World) -> StateStore:
    return StateStore.open(world.settings().state.url.get_secret_value())


def _metric(config: Path, name: str) -> str:
    listen = yaml.safe_load(config.read_text())["metrics"]["listen"]
    text = requests.get(f"http://{listen}/metrics", timeout=5).text
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


def _value(config: Path, sample: str) -> float:
    """One sample's value from the daemon's metrics (0 when it is not there yet)."""
    found = [line.rsplit(" ", 1)[1] for line in _metric(config, sample).splitlines() if line.split(" ")[0] == sample]
    return float(found[0]) if found else 0.0


def _wait_for_a_round(config: Path, since: float) -> None:
    """Until the supervisor's loop has gone round since ``since`` (by then it has started any run due)."""
    heartbeat = "cmsync_supervisor_heartbeat_timestamp_seconds"
    wait_until(lambda: _value(config, heartbeat) > since, "a round of the supervisor loop")


def _wait_for_jobs(world: World, run_id: int) -> None:
    """Until the run has fanned out its jobs (it is in the middle of its work)."""
    store = _store(world)
    try:
        wait_until(lambda: getattr(store.runs.get(run_id), "pending_jobs", 0) > 0, f"run {run_id}'s jobs queued")
    finally:
        store.close()


def test_first_start_runs_the_due_sync_and_serves_metrics(world: World, config: Path, tmp_path, daemons) -> None:
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    (finished,) = daemon.wait_for("run finished")
    assert finished["status"] == "succeeded"
    assert {r["CM_Member_Key__c"] for r in world.records("CM_List_Member__c")} == {
        f"{list_id}:{s.email.lower()}" for list_id, s in world.members()
    }
    listen = yaml.safe_load(config.read_text())["metrics"]["listen"]
    assert requests.get(f"http://{listen}/healthz", timeout=5).status_code == 200
    wait_until(lambda: _value(config, "cmsync_last_success_timestamp_seconds") > 0, "the run observed")
    assert "cmsync_last_success_timestamp_seconds" in _metric(config, "cmsync_last_success")
    assert 'cmsync_api_calls_total{endpoint="list_subscribers",outcome="ok",system="campaign_monitor"}' in _metric(
        config, "cmsync_api_calls_total"
    )
    status = cmsync("status", "--config", str(config))
    assert "daemon:        running" in status.stdout and "last run:      run 1 succeeded" in status.stdout
    assert daemon.stop() == 0


def test_a_restart_neither_adds_nor_skips_a_run(world: World, config: Path, tmp_path, daemons) -> None:
    first = Daemon(config, tmp_path).start()
    daemons.append(first)
    first.wait_for("run finished")
    assert first.stop() == 0
    began = time.time()
    second = Daemon(config, tmp_path).start()
    daemons.append(second)
    _wait_for_a_round(config, began)
    assert not [line for line in second.logs() if line.get("event") == "main sync started"]
    store = _store(world)
    assert len(store.runs.recent()) == 1
    store.close()
    assert second.stop() == 0


def test_sync_now_while_a_run_is_in_flight_returns_that_run(world: World, config: Path, tmp_path, daemons) -> None:
    world.cm.faults.set_latency(HOLD)
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    (started,) = daemon.wait_for("main sync started")
    result = cmsync("sync-now", "--config", str(config))
    assert result.returncode == 0
    assert result.stdout.startswith(f"run {started['run_id']} already in flight")
    world.cm.faults.set_latency(0)
    daemon.wait_for("run finished")
    again = cmsync("sync-now", "--wait", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[0] == f"run {started['run_id'] + 1} started"
    assert f"run {started['run_id'] + 1} succeeded" in again.stdout


def test_sigusr1_starts_a_sync(world: World, config: Path, tmp_path, daemons) -> None:
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    daemon.wait_for("run finished")
    daemon.signal(signal.SIGUSR1)
    runs = daemon.wait_for("run finished", count=2)
    assert runs[-1]["run_id"] == 2


def test_sighup_applies_a_valid_change_and_refuses_a_broken_file(world: World, config: Path, tmp_path, daemons) -> None:
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    daemon.wait_for("run finished")
    data = yaml.safe_load(config.read_text())
    data["sync"] = {"import_frequency": "daily", "at": "03:30"}
    data["tracking"] = {"types": ["opened", "clicked"]}
    config.write_text(yaml.safe_dump(data))
    daemon.signal(signal.SIGHUP)
    (reloaded,) = daemon.wait_for("configuration reloaded")
    assert reloaded["changed"] == ["sync.import_frequency", "sync.at", "tracking.types"]
    store = _store(world)
    wait_until(lambda: store.facts.schedule.get()["frequency"] == "daily", "the daily schedule recorded")
    assert store.facts.schedule.get()["next_run"].endswith("03:30:00+00:00")
    store.close()
    config.write_text(config.read_text().replace("import_frequency: daily", "import_frequency: fortnightly")
                      .replace("- opened", "- viewed"))  # fmt: skip
    daemon.signal(signal.SIGHUP)
    refusals = daemon.wait_for("reload refused")
    assert {line["setting"] for line in refusals} == {"sync.import_frequency", "tracking.types[0]"}
    daemon.wait_for("reload refused; the running configuration stays")
    wait_until(lambda: _value(config, 'cmsync_reloads_total{result="refused"}') == 1, "the refusal counted")
    assert 'cmsync_reloads_total{result="refused"} 1.0' in _metric(config, "cmsync_reloads_total")
    assert 'cmsync_reloads_total{result="applied"} 1.0' in _metric(config, "cmsync_reloads_total")
    store = _store(world)
    assert store.facts.schedule.get()["frequency"] == "daily"
    store.close()
    daemon.signal(signal.SIGUSR1)
    runs = daemon.wait_for("run finished", count=2)
    assert runs[-1]["status"] == "succeeded"
    assert daemon.stop() == 0


def test_sigterm_stops_within_the_bound_and_records_the_run(world: World, config: Path, tmp_path, daemons) -> None:
    world.cm.faults.set_latency(0.05)
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    (started,) = daemon.wait_for("main sync started")
    _wait_for_jobs(world, started["run_id"])
    began = time.monotonic()
    assert daemon.stop(timeout=40) == 0
    assert time.monotonic() - began < 30
    store = _store(world)
    run = store.runs.get(started["run_id"])
    assert run is not None and run.status == "cancelled" and "interrupted" in str(run.error)
    store.close()
    world.cm.faults.set_latency(0)
    restarted = Daemon(config, tmp_path).start()
    daemons.append(restarted)
    (finished,) = restarted.wait_for("run finished")
    assert finished["status"] == "succeeded"
    assert world.duplicates("CM_List_Member__c", "CM_Member_Key__c") == []


def test_hup_and_usr1_after_sigterm_are_ignored_while_stopping(world: World, config: Path, tmp_path, daemons) -> None:
    world.cm.faults.set_latency(HOLD)
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    (started,) = daemon.wait_for("main sync started")
    wait_until(lambda: world.cm.calls.waiting > 0, "a call of the run held")
    daemon.signal(signal.SIGTERM)
    daemon.wait_for("stopping")
    for number in (signal.SIGHUP, signal.SIGUSR1, signal.SIGHUP, signal.SIGUSR1):
        daemon.signal(number)
    assert daemon.process is not None and daemon.process.poll() is None, "still stopping: its workers wait on CM"
    world.cm.faults.set_latency(0)
    assert daemon.process.wait(timeout=40) == 0
    events = [line.get("event") for line in daemon.logs()]
    assert events.count("shutting down: SIGHUP ignored") == 1 and events.count("shutting down: SIGUSR1 ignored") == 1
    assert not {"configuration reloaded", "reload refused", "main sync already in flight"} & set(events)
    assert events.count("main sync started") == 1 and events[-1] == "stopped"
    store = _store(world)
    assert [run.id for run in store.runs.recent()] == [started["run_id"]]
    assert store.runs.get(started["run_id"]).status == "cancelled"  # type: ignore[union-attr]
    store.close()


def test_disconnect_cancels_resets_salesforce_writes_nothing_to_cm_and_holds(world: World, config: Path, tmp_path,
                                                                             daemons) -> None:  # fmt: skip
    owner = world.sf.records("User")[1]["Id"]
    world.sf.update(owner, {"CM_User_Email__c": "marketer@example.com"})
    client = world.sf.create("CM_Client__c", {"Name": "Harbour Outfitters", "CM_Client_ID__c": world.clients[0]})
    world.sf.create("CM_Client_Access__c", {"CM_User__c": owner, "CM_Client__c": client, "CM_Access_Level__c": "Owner"})
    permissions = len(world.records("CM_Client_Access__c"))
    overrides = sum(1 for user in world.records("User") if user.get("CM_User_Email__c"))
    world.cm.faults.set_latency(0.05)
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    (started,) = daemon.wait_for("main sync started")
    _wait_for_jobs(world, started["run_id"])
    writes_before = [c for c in world.cm.calls.calls() if c.method != "GET"]
    result = cmsync("disconnect", "--config", str(config))
    calls = len(world.cm.calls.calls())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"run {started['run_id']} cancelled" in result.stdout
    assert f"user overrides cleared: {overrides}" in result.stdout
    assert f"client ownership permissions deleted: {permissions}" in result.stdout
    daemon.wait_for("disconnected: scheduled jobs removed, queued messages purged")
    assert daemon.stop() == 0
    assert len(world.cm.calls.calls()) - calls <= WORKER_THREADS, "each job in flight reads one page at most"
    assert [c for c in world.cm.calls.calls() if c.method != "GET"] == writes_before
    assert world.sf.get(owner)["CM_User_Email__c"] is None
    assert world.records("CM_Client_Access__c") == []
    world.cm.faults.set_latency(0)
    began = time.time()
    restarted = Daemon(config, tmp_path).start()
    daemons.append(restarted)
    _wait_for_a_round(config, began)
    assert not [line for line in restarted.logs() if line.get("event") == "main sync started"]
    assert "connection:    disconnected" in cmsync("status", "--config", str(config)).stdout
    assert cmsync("sync-now", "--config", str(config)).returncode == 1
    assert cmsync("connect", "--config", str(config)).returncode == 0
    restarted.signal(signal.SIGUSR1)
    (finished,) = restarted.wait_for("run finished")
    assert finished["status"] == "succeeded"


def test_systemd_hears_ready_reloading_watchdog_and_stopping(world: World, config: Path, tmp_path, daemons) -> None:
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(10)
    daemon = Daemon(config, tmp_path, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}).start()
    daemons.append(daemon)
    messages: list[str] = []

    def receive_until(prefix: str) -> None:
        while not any(message.startswith(prefix) for message in messages):
            messages.append(listener.recv(4096).decode())

    receive_until("READY=1")
    receive_until("WATCHDOG=1")
    daemon.signal(signal.SIGHUP)
    receive_until("RELOADING=1")
    daemon.stop()
    receive_until("STOPPING=1")
    listener.close()
    kinds = [message.split("=", 1)[0] for message in messages]
    assert kinds.index("READY") < kinds.index("RELOADING") < kinds.index("STOPPING")
    assert kinds.count("WATCHDOG") >= 1 and kinds.count("READY") >= 2


def test_a_second_supervisor_on_the_same_store_refuses_to_start(world: World, config: Path, tmp_path, daemons) -> None:
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    second = cmsync("run", "--config", str(config), timeout=60)
    assert second.returncode == 1
    assert "another cmsync supervisor holds this state store" in second.stdout


def test_a_start_that_fails_part_way_stops_what_it_started(world: World, tmp_path, daemons) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        refused = world.write_config(tmp_path / "taken.yaml", metrics={"listen": taken})
        result = cmsync("run", "--config", str(refused), timeout=60)
    assert result.returncode == 1 and "cannot serve metrics" in result.stdout + result.stderr
    store = _store(world)
    assert store.leases.supervisor.held() is None, "the lease taken before the metrics failed is released"
    store.close()
    free = world.write_config(
        tmp_path / "free.yaml",
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )
    daemon = Daemon(free, tmp_path).start()
    daemons.append(daemon)
    assert daemon.stop() == 0


@pytest.mark.rabbitmq
def test_with_rabbitmq_and_cmsync_worker(world: World, tmp_path, daemons, amqp_url: str) -> None:
    config = world.write_config(
        tmp_path / "cmsync.yaml", broker={"url": amqp_url}, metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )  # fmt: skip
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    broker.close()
    workers = Workers(config, tmp_path)
    workers.start()
    try:
        daemon = Daemon(config, tmp_path).start()
        daemons.append(daemon)
        (started,) = daemon.wait_for("main sync started")
        store = _store(world)
        run = wait_for_end(store, started["run_id"])
        store.close()
        assert run.status == "succeeded", run.error
        result = cmsync("sync-now", "--wait", "--config", str(config))
        assert result.returncode == 0 and f"run {started['run_id'] + 1} succeeded" in result.stdout
    finally:
        workers.stop()


def test_a_reload_that_keeps_fewer_days_purges(world: World, tmp_path, daemons) -> None:
    config = world.write_config(
        tmp_path / "cmsync.yaml", metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"}, tracking={"days_to_keep": 400, "purge_max_share": 1.0},
    )  # fmt: skip
    daemon = Daemon(config, tmp_path).start()
    daemons.append(daemon)
    daemon.wait_for("run finished")
    before = world.records("CM_Email_Activity__c")
    data = yaml.safe_load(config.read_text())
    data["tracking"]["days_to_keep"] = 30
    config.write_text(yaml.safe_dump(data))
    daemon.signal(signal.SIGHUP)
    purges = daemon.wait_for("tracking purge finished", count=2)
    assert purges[-1]["reason"] == "reload: days_to_keep 400 → 30"
    kept = world.records("CM_Email_Activity__c")
    cutoff = purges[-1]["cutoff"][:19]
    assert kept and len(kept) < len(before)
    assert all(record["CM_Activity_Date__c"][:19] >= cutoff.replace(" ", "T") for record in kept)
