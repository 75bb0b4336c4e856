"""The ``cmsync`` command as an operator runs it: help on every subcommand, and ``check-config``."""

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
CMSYNC = str(Path(sys.executable).with_name("cmsync"))
SUBCOMMANDS = ["run", "worker", "check-config", "sync-now", "status", "disconnect", "connect", "reimport-tracking",
               "sandbox"]  # fmt: skip

TEN_MISTAKES = """\
campaign_monitor:
  base_url: api.createsend.com
  auth:
    api_key: ${CMSYNC_TEST_UNSET_VARIABLE}
  clients: [5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b]
salesforce:
  auth: {client_id: consumer, client_secret: s3cr3t-value, refresh_token: r3fr3sh-value}
sync:
  import_frequency: fortnightly
tracking:
  days_to_keep: 0
  types: [opened, forwarded]
advanced:
  acount_trigger: true
subscription_rules:
  - list: 1f2e3d4c5b6a79880796a5b4c3d2e1f0
    object: Contact
    action: add
    criteria: [{field: Lead Source, op: equals, value: Web}]
field_mappings:
  - {list: 1f2e3d4c5b6a79880796a5b4c3d2e1f0, cm_field: "[Sector]", contact_field: Industry, direction: sideways}
outbound:
  poll_interval: 0s
logging:
  level: loud
"""


def cmsync(*arguments: str, cwd: Path = REPOSITORY) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([CMSYNC, *arguments], capture_output=True, text=True, cwd=cwd, env=environment, timeout=60)


def test_top_level_help_lists_every_subcommand() -> None:
    result = cmsync("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name: str) -> None:
    result = cmsync(name, "--help")
    assert result.returncode == 0 and f"usage: cmsync {name}" in result.stdout


@pytest.mark.parametrize("name", ["cmsync.example.yaml", "sandbox.yaml"])
def test_check_config_accepts_the_shipped_files(name: str) -> None:
    result = cmsync("check-config", f"config/{name}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"config/{name}: OK: 1 client, hourly import")
    assert result.stdout.count("\n") == 1


def test_check_config_names_credentials_it_cannot_read_outside_systemd() -> None:
    result = cmsync("check-config", "config/cmsync.example.yaml")
    assert "not checked: credential:cm_api_key, credential:sf_jwt_key" in result.stdout


def test_check_config_reports_all_ten_mistakes(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(TEN_MISTAKES)
    result = cmsync("check-config", "broken.yaml", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "broken.yaml: 10 errors"
    paths = [line.split(": ")[1] for line in lines[1:]]
    assert paths == [
        "campaign_monitor.base_url",
        "campaign_monitor.auth.api_key",
        "sync.import_frequency",
        "tracking.types[1]",
        "tracking.days_to_keep",
        "advanced.acount_trigger",
        "subscription_rules[0].criteria[0].field",
        "field_mappings[0].direction",
        "outbound.poll_interval",
        "logging.level",
    ]
    assert "Invalid characters found in 'Lead Source'" in result.stderr
    assert "s3cr3t-value" not in result.stderr and "r3fr3sh-value" not in result.stderr


def test_check_config_uses_the_environment_default(tmp_path: Path) -> None:
    environment = {"PATH": "/usr/bin:/bin", "CMSYNC_CONFIG": str(REPOSITORY / "config" / "sandbox.yaml")}
    result = subprocess.run([CMSYNC, "check-config"], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 0 and "sandbox.yaml: OK" in result.stdout


def test_check_config_of_a_missing_file() -> None:
    result = cmsync("check-config", "/nonexistent.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "/nonexistent.yaml: cannot read the file: No such file or directory"


def test_unknown_subcommand_is_refused() -> None:
    result = cmsync("synchronise")
    assert result.returncode == 1 and "invalid choice: 'synchronise'" in result.stderr


def test_status_and_connect_work_from_a_shell_without_the_units_credentials(tmp_path: Path) -> None:
    config = (REPOSITORY / "config" / "cmsync.example.yaml").read_text()
    config = config.replace("sqlite:////var/lib/cmsync/state.db", f"sqlite:///{tmp_path / 'state.db'}")
    (tmp_path / "cmsync.yaml").write_text(config)
    assert cmsync("connect", "--config", "cmsync.yaml", cwd=tmp_path).returncode == 0
    status = cmsync("status", "--config", "cmsync.yaml", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "daemon:        not running" in status.stdout and "last run:      none yet" in status.stdout
    refused = cmsync("sync-now", "--config", "cmsync.yaml", cwd=tmp_path)
    assert refused.returncode == 1
    assert "campaign_monitor.auth.api_key: credential:cm_api_key needs $CREDENTIALS_DIRECTORY" in refused.stderr
