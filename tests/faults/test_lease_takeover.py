"""The supervisor lease after a crash: a restart on the same host takes over the lease of the killed
supervisor at once; a lease held from another host (or by a live process) is waited out, and the refusal
says who holds it and until when."""

import os
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from cmsync.process_identity import ProcessIdentity, provably_dead, start_time
from cmsync.state import StateStore
from tests.daemon.daemon import CMSYNC, Daemon, free_port
from tests.sync.world import World


@pytest.fixture
def config(world: World, tmp_path: Path) -> Path:
    return world.write_config(
        tmp_path / "cmsync.yaml",
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )


def _store(world: World) -> StateStore:
    return StateStore.open(world.settings().state.url.get_secret_value())


def test_a_restart_after_sigkill_takes_over_the_lease_at_once(world: World, config: Path, tmp_path: Path) -> None:
    first = Daemon(config, tmp_path).start()
    try:
        first.wait_for("run finished")
        first.signal(signal.SIGKILL)
        assert first.process is not None and first.process.wait(timeout=10) == -signal.SIGKILL
    finally:
        first.kill()
    second = Daemon(config, tmp_path)
    try:
        second.start()
        (taken,) = second.wait_for("took over the lease of a supervisor that is no longer running")
        assert taken["previous"].startswith(f"{socket.gethostname()}:{first.process.pid}/")
        assert second.stop() == 0
    finally:
        second.kill()


def _refusal(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CMSYNC, "run", "--config", str(config)], capture_output=True, text=True, timeout=60
    )  # fmt: skip


def test_a_lease_of_another_host_is_waited_out_and_named(world: World, config: Path) -> None:
    store = _store(world)
    assert store.leases.supervisor.take("db-host-2.example.net:4242/9876", timedelta(seconds=30))
    until = store.leases.supervisor.held()[1]  # type: ignore[index]
    store.close()
    refused = _refusal(config)
    assert refused.returncode == 1
    lines = [line for line in (refused.stdout + refused.stderr).splitlines() if "not starting" in line]
    assert len(lines) == 1
    assert "host db-host-2.example.net, pid 4242" in lines[0]
    assert until.isoformat(timespec="seconds") in lines[0]


def test_a_lease_of_a_live_process_here_is_kept(world: World, config: Path) -> None:
    store = _store(world)
    assert store.leases.supervisor.take(ProcessIdentity.this_process().owner, timedelta(seconds=30))
    store.close()
    refused = _refusal(config)
    assert refused.returncode == 1
    assert f"pid {os.getpid()}" in refused.stdout + refused.stderr


def test_a_pid_reused_by_a_later_process_is_dead() -> None:
    host, pid = socket.gethostname(), os.getpid()
    started = start_time(pid)
    assert started is not None
    assert not provably_dead(f"{host}:{pid}/{started}")
    assert provably_dead(f"{host}:{pid}/{started + 1}")
    assert not provably_dead(f"elsewhere:{pid}/{started + 1}")
    assert not provably_dead("a worker with a name of its own")
