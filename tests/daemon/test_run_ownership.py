"""A run belongs to a live owner. ``cmsync sync-now`` that runs the workers itself, killed at any point of
a run, leaves nothing that blocks the next ``sync-now --wait``: within one heartbeat timeout that run is
sent again (never sent) or closed as interrupted and resumed, and Salesforce ends up with exactly the CM
data, once. Ctrl-C on ``--wait`` returns at once and says whether it cancelled or detached."""

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync.state import StateStore
from tests.daemon.daemon import Daemon, free_port
from tests.daemon.stop_before_send import STOPPED
from tests.daemon.sync_now_process import QUICK_HEARTBEAT, STOP_BEFORE_SEND, SyncNow
from tests.sync.convergence import assert_converged
from tests.sync.kill_points import KILL_POINTS, api_calls
from tests.sync.world import HOLD, World, start_world, stop_world
from tests.waiting import wait_until


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


@pytest.fixture
def config(world: World, tmp_path: Path) -> Path:
    return world.write_config(tmp_path / "cmsync.yaml")


@pytest.fixture
def store(world: World) -> Iterator[StateStore]:
    opened = StateStore.open(world.settings().state.url.get_secret_value())
    yield opened
    opened.close()


def _kill_after(world: World, process: SyncNow, calls: int) -> None:
    deadline = time.monotonic() + 60
    while api_calls(world) < calls:
        assert process.running(), f"the run ended before call {calls}:\n{process.text()}"
        assert time.monotonic() < deadline, f"no call {calls} within 60 s"
        time.sleep(0.002)
    process.kill()


def _converges(world: World, config: Path, tmp_path: Path, store: StateStore) -> str:
    """The next ``sync-now --wait`` ends with a finished run, exactly the CM data, and nothing in flight."""
    after = SyncNow(config, tmp_path, "--wait").start()
    status = after.wait(timeout=60)
    assert status == 0, after.text()
    assert store.runs.current() is None
    last = store.runs.last()
    assert last is not None and last.status == "succeeded", (last, after.text())
    assert_converged(world)
    return after.text()


@pytest.mark.parametrize("calls", KILL_POINTS)
def test_sync_now_killed_at_any_point_the_next_one_converges(
    world: World, config: Path, tmp_path: Path, store: StateStore, calls: int
) -> None:
    world.cm.calls.latency = 0.005
    killed = SyncNow(config, tmp_path, "--wait").start()
    _kill_after(world, killed, calls)
    interrupted = store.runs.current()
    assert interrupted is not None, "the killed run is still in flight, owned by a dead process"
    world.cm.calls.latency = 0
    output = _converges(world, config, tmp_path, store)
    closed = store.runs.get(interrupted.id)
    assert closed is not None and closed.status == "cancelled"
    assert closed.error is not None and closed.error.startswith("interrupted:"), closed.error
    assert f"run {interrupted.id} lost its owner" in output and output.count("lost its owner") == 1, output


def test_killed_between_recording_and_sending_the_next_request_sends_it(
    world: World, config: Path, tmp_path: Path, store: StateStore
) -> None:
    stopped = SyncNow(config, tmp_path, "--wait", command=STOP_BEFORE_SEND).start()
    stopped.wait_for(STOPPED)
    stopped.kill()
    unsent = store.runs.current()
    assert unsent is not None and not unsent.dispatched and unsent.pending_jobs == 1
    output = _converges(world, config, tmp_path, store)
    assert f"run {unsent.id} started (recorded earlier by a process that stopped before sending it)" in output
    assert store.runs.last().id == unsent.id  # type: ignore[union-attr]


def test_ctrl_c_on_wait_cancels_the_run_it_runs_itself(
    world: World, config: Path, tmp_path: Path, store: StateStore
) -> None:
    world.cm.calls.latency = 0.05
    waiting = SyncNow(config, tmp_path, "--wait").start()
    waiting.wait_for("running the workers here")
    run = store.runs.current()
    assert run is not None
    waiting.signal(signal.SIGINT)
    assert waiting.wait(timeout=10) == 130
    assert f"run {run.id} cancelled (Ctrl-C): its workers ran in this command" in waiting.text()
    cancelled = store.runs.get(run.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    world.cm.calls.latency = 0
    _converges(world, config, tmp_path, store)


def test_ctrl_c_on_wait_detaches_from_a_run_another_process_runs(
    world: World, config: Path, tmp_path: Path, store: StateStore
) -> None:
    world.cm.calls.latency = HOLD
    owner = SyncNow(config, tmp_path, "--wait").start()
    owner.wait_for("running the workers here")
    follower = SyncNow(config, tmp_path, "--wait").start()
    follower.wait_for("already in flight")
    run = store.runs.current()
    assert run is not None
    follower.signal(signal.SIGINT)
    assert follower.wait(timeout=10) == 130
    assert f"detached from run {run.id} (Ctrl-C): it goes on without this command" in follower.text()
    assert store.runs.get(run.id).in_flight  # type: ignore[union-attr]
    world.cm.calls.latency = 0
    assert owner.wait() == 0, owner.text()
    assert store.runs.get(run.id).status == "succeeded"  # type: ignore[union-attr]
    assert_converged(world)


def test_a_supervisor_starting_leaves_a_live_sync_now_its_run(
    world: World, config: Path, tmp_path: Path, store: StateStore
) -> None:
    world.cm.calls.latency = HOLD
    running = SyncNow(config, tmp_path, "--wait").start()
    running.wait_for("running the workers here")
    run = store.runs.current()
    assert run is not None
    wait_until(lambda: world.cm.calls.waiting > 0, "a call of the run held")
    supervised = world.write_config(
        tmp_path / "supervised.yaml", metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
    )  # fmt: skip
    daemon = Daemon(supervised, tmp_path, QUICK_HEARTBEAT).start()
    try:
        (found,) = daemon.wait_for("main sync already in flight")
        assert found["run_id"] == run.id
        world.cm.calls.latency = 0
        assert running.wait() == 0, running.text()
        assert store.runs.get(run.id).status == "succeeded"  # type: ignore[union-attr]
    finally:
        daemon.stop()
        daemon.kill()
