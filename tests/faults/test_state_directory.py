"""The state directory on a bad disk: a read-only one stops ``cmsync run`` with one line naming the path
and why; a disk that fills up mid-run keeps the supervisor alive and retrying, and once space is back
the run completes with both systems agreeing. (Root ignores permissions, so the directory is made
immutable, and the full disk is a tmpfs of its own.)"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.daemon.daemon import CMSYNC, Daemon, free_port
from tests.faults.converged import assert_converged
from tests.sync.world import World


def _config(world: World, tmp_path: Path, state_directory: Path) -> Path:
    return world.write_config(
        tmp_path / "cmsync.yaml",
        state={"url": f"sqlite:///{state_directory / 'state.db'}"},
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )


@pytest.fixture
def immutable_directory(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "read-only state"
    directory.mkdir()
    subprocess.run(["chattr", "+i", str(directory)], check=True)
    yield directory
    subprocess.run(["chattr", "-i", str(directory)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "small disk"
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(directory)], check=True)
    yield directory
    subprocess.run(["umount", "-l", str(directory)], check=True)


def test_a_read_only_state_directory_is_named_in_one_line(world: World, tmp_path: Path, immutable_directory) -> None:
    config = _config(world, tmp_path, immutable_directory)
    result = subprocess.run([CMSYNC, "run", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    (line,) = output.splitlines()
    assert str(immutable_directory / "state.db") in line
    assert "Operation not permitted" in line


def _fill(directory: Path) -> Path:
    """Write a file until the disk is full."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_mid_run_is_ridden_out(world: World, tmp_path: Path, small_disk: Path) -> None:
    config = _config(world, tmp_path, small_disk)
    listen = yaml.safe_load(config.read_text())["metrics"]["listen"]
    world.cm.faults.set_latency(0.02)
    daemon = Daemon(config, tmp_path)
    try:
        daemon.start()
        daemon.wait_for("main sync started")
        filler = _fill(small_disk)
        (down,) = daemon.wait_for("state store unavailable; retrying until it is back")
        assert down["reason"] == f"{small_disk / 'state.db'}: database or disk is full"
        health = requests.get(f"http://{listen}/healthz", timeout=5)
        assert health.status_code == 200 and "database or disk is full" in health.text
        filler.unlink()
        world.cm.faults.set_latency(0)
        daemon.wait_for("state store back")
        (finished,) = daemon.wait_for("run finished", timeout=90)
        assert finished["status"] == "succeeded"
        assert_converged(world)
        assert daemon.stop() == 0
    finally:
        daemon.kill()


def test_stopping_on_a_full_disk_leaves_the_run_to_be_closed_at_the_next_start(
    world: World, tmp_path: Path, small_disk: Path
) -> None:
    config = _config(world, tmp_path, small_disk)
    world.cm.faults.set_latency(0.05)
    daemon = Daemon(config, tmp_path)
    try:
        daemon.start()
        (started,) = daemon.wait_for("main sync started")
        filler = _fill(small_disk)
        daemon.wait_for("state store unavailable; retrying until it is back")
        assert daemon.stop() == 0
        assert "stopping without closing the run in flight: the state store is unavailable" in {
            line.get("event") for line in daemon.logs()
        }
    finally:
        daemon.kill()
    filler.unlink()
    world.cm.faults.set_latency(0)
    again = Daemon(config, tmp_path)
    try:
        again.start()
        (closed,) = again.wait_for("run from before the restart closed as interrupted")
        assert closed["run_id"] == started["run_id"]
        assert again.stop() == 0
    finally:
        again.kill()
