"""The systemd units as systemd judges them (``systemd-analyze verify`` and ``security``), and as they must
agree with cmsync: every credential the example configuration names is loaded, and systemd waits longer
than cmsync needs to stop."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from cmsync.daemon.supervisor import SHUTDOWN_SECONDS
from tests.conftest import REPOSITORY
from tests.operations.units import Unit

UNITS = ("cmsync.service", "cmsync-worker.service")
EXPOSURE_THRESHOLD = 2.0
"""``systemd-analyze security`` rates 0 (safe) to 10 (unsafe); up to 2 it calls a service's exposure OK."""


def _credential_names(node: object) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(_credential_names(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_credential_names(value) for value in node))
    if isinstance(node, str) and node.startswith("credential:"):
        return {node.removeprefix("credential:")}
    return set()


@pytest.mark.parametrize("name", UNITS)
def test_systemd_verifies_the_unit(name: str, systemd_analyze: str, tmp_path: Path) -> None:
    unit = Unit(name).for_this_host(tmp_path)
    verified = subprocess.run([systemd_analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and verified.stdout + verified.stderr == "", verified.stdout + verified.stderr


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_is_hardened(name: str, systemd_analyze: str, tmp_path: Path) -> None:
    unit = Unit(name).for_this_host(tmp_path)
    assessed = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", f"--threshold={int(EXPOSURE_THRESHOLD * 10)}", str(unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", assessed.stdout)
    assert assessed.returncode == 0 and score is not None, assessed.stdout + assessed.stderr
    assert float(score.group(1)) <= EXPOSURE_THRESHOLD


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_loads_every_credential_the_example_configuration_names(name: str) -> None:
    named = _credential_names(yaml.safe_load((REPOSITORY / "config" / "cmsync.example.yaml").read_text()))
    assert named
    assert Unit(name).credentials() == {credential: f"/etc/cmsync/credentials/{credential}" for credential in named}


def test_systemd_waits_longer_than_the_supervisor_needs_to_stop() -> None:
    assert Unit("cmsync.service").seconds("TimeoutStopSec") > SHUTDOWN_SECONDS


def test_systemd_waits_longer_than_the_workers_shutdown_timeout() -> None:
    unit = Unit("cmsync-worker.service")
    command = unit.command("ExecStart", Path("cmsync.yaml"), unit.environment())
    shutdown_timeout = int(command[command.index("--shutdown-timeout") + 1])
    assert unit.value("KillMode") == "mixed"
    assert unit.seconds("TimeoutStopSec") > shutdown_timeout
