"""The Dockerfile's steps performed on this host, as ``docker build`` would perform them (there is no
container systems here): the build stage installs cmsync into a fresh virtual environment, and the
runtime stage's entrypoint, command and health check work from that environment alone, with the
configuration and the secrets mounted where the image expects them."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync.state import StateStore
from tests.conftest import REPOSITORY
from tests.daemon.daemon import free_port
from tests.operations.dockerfile import Stage, build, read_stages
from tests.salesforce.conftest import KeyPair
from tests.sync.conftest import wait_for_first_run
from tests.sync.world import World, start_world, stop_world

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def expand(text: str, variables: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda match: variables[match.group(1) or match.group(2)], text)


def runtime_environment(stage: Stage, prefix: Path, mounts: dict[str, str]) -> dict[str, str]:
    """The runtime stage's ``ENV``, with the paths the operator mounts replaced by where they are here."""
    variables = {**os.environ, "PREFIX": str(prefix)}
    for line in stage.all("ENV"):
        for assignment in shlex.split(line):
            name, _, value = assignment.partition("=")
            variables[name] = mounts.get(value, expand(value, variables))
    return variables


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stage, Path]:
    """The runtime stage, and the prefix the build stage installed cmsync into."""
    build_stage, runtime_stage = read_stages(REPOSITORY / "Dockerfile")
    assert build_stage.name == "build" and runtime_stage.name is None
    root = tmp_path_factory.mktemp("image")
    prefix = root / "opt" / "cmsync"
    build(build_stage, REPOSITORY, root, prefix)
    return runtime_stage, prefix


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """The secrets of config/cmsync.example.yaml, mounted as Docker mounts secrets (one file each)."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "cm_api_key").write_text("0123456789abcdef0123456789abcdef")
    (folder / "sf_jwt_key").write_bytes(KeyPair().private_pem)
    return folder


def test_the_entrypoint_is_cmsync_with_run_and_worker(image: tuple[Stage, Path], secrets: Path) -> None:
    runtime, prefix = image
    config = REPOSITORY / "config" / "cmsync.example.yaml"
    environment = runtime_environment(
        runtime, prefix, {"/run/secrets": str(secrets), "/etc/cmsync/cmsync.yaml": str(config)}
    )
    entrypoint = runtime.exec_form("ENTRYPOINT")
    assert shutil.which(entrypoint[0], path=environment["PATH"]) == str(prefix / "bin" / "cmsync")
    helped = subprocess.run([*entrypoint, "--help"], env=environment, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "run" in helped.stdout and "worker" in helped.stdout, helped.stderr
    for command in (runtime.exec_form("CMD"), ["worker"]):
        usage = subprocess.run([*entrypoint, *command, "--help"], env=environment, capture_output=True, text=True,
                               timeout=60)  # fmt: skip
        assert usage.returncode == 0, usage.stderr
    checked = subprocess.run([*entrypoint, "check-config"], env=environment, capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"{config}: OK:") and "not checked" not in checked.stdout


def test_the_default_command_syncs_and_passes_the_health_check(image: tuple[Stage, Path], world: World,
                                                              tmp_path: Path) -> None:  # fmt: skip
    runtime, prefix = image
    listen = f"127.0.0.1:{free_port()}"
    config = world.write_config(tmp_path / "cmsync.yaml", metrics={"listen": listen})
    environment = runtime_environment(runtime, prefix, {"/etc/cmsync/cmsync.yaml": str(config)})
    health_check = runtime.all("HEALTHCHECK")[-1]
    probe = json.loads(health_check[health_check.index("CMD") + 3 :].strip().replace("127.0.0.1:9464", listen))
    assert subprocess.run(probe, env=environment, capture_output=True, timeout=30).returncode != 0
    with (tmp_path / "cmsync.log").open("wb") as output:
        supervisor = subprocess.Popen([*runtime.exec_form("ENTRYPOINT"), *runtime.exec_form("CMD")], env=environment,
                                      stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        store = StateStore.open(world.settings().state.url.get_secret_value())
        run = wait_for_first_run(store)
        store.close()
        assert run.status == "succeeded", (tmp_path / "cmsync.log").read_text()[-3000:]
        deadline = time.monotonic() + 60
        while subprocess.run(probe, env=environment, capture_output=True, timeout=30).returncode != 0:
            assert time.monotonic() < deadline and supervisor.poll() is None, (tmp_path / "cmsync.log").read_text()
            time.sleep(0.5)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
