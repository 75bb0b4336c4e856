"""The ``cmsync`` command as an operator runs it: help on every subcommand, and ``check-config``."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from cmsync.cli.main import main
from cmsync.config import load_settings
from cmsync.config.urls import sqlite_path
from tests.daemon.daemon import free_port

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


PLANTED_PASSWORD = "Planted-Pg-Password-4711"
MALFORMED_STATE_URL = f"postgresql://cmsync:{PLANTED_PASSWORD[:7]}/{PLANTED_PASSWORD[8:]}@db.internal/cmsync"
STATE_COMMANDS = [
    ["status"], ["sync-now"], ["connect"], ["disconnect"], ["purge-tracking", "--dry-run"],
    ["reimport-tracking", "--since", "2026-01-01"], ["check-config"],
]  # fmt: skip


def sandbox_config(tmp_path: Path, **replacements: str) -> Path:
    """config/sandbox.yaml with its state store in ``tmp_path`` and the given text replaced."""
    text = (REPOSITORY / "config" / "sandbox.yaml").read_text()
    text = text.replace("sqlite:///var/state.db", f"sqlite:///{tmp_path / 'state.db'}")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "cmsync.yaml"
    path.write_text(text)
    return path


def run_main(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    code = main(list(arguments))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


@pytest.mark.parametrize("command", STATE_COMMANDS, ids=lambda command: command[0])
def test_a_malformed_state_url_is_refused_without_its_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    config = sandbox_config(tmp_path, **{f"sqlite:///{tmp_path / 'state.db'}": MALFORMED_STATE_URL})
    code, output = run_main(capsys, command[0], "--config", str(config), *command[1:])
    assert code == 1
    assert output.splitlines() == [
        f"{config}: 1 error",
        f"{config}: state.url: the URL has an @ after its host, as when a password holds a / ? or #; "
        "percent-encode @ : / ? # in a user name or password (@ is %40, / is %2F)",
    ]
    assert PLANTED_PASSWORD[:7] not in output and PLANTED_PASSWORD[8:] not in output


@pytest.mark.parametrize("command", ["run", "worker"])
def test_a_service_refuses_its_configuration_with_ex_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    config = sandbox_config(tmp_path, **{"days_to_keep: 90": "days_to_keep: 1000000"})
    code, output = run_main(capsys, command, "--config", str(config))
    assert code == 78
    assert output.splitlines()[1] == (
        f"{config}: tracking.days_to_keep: 1000000 is not allowed; must be less than or equal to 36500"
    )


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["worker", "--metrics-listen", "bogus"], 78,
         "cmsync worker: argument --metrics-listen: 'bogus' is not an address to listen on; write it as host:port, "
         "like 127.0.0.1:9464 (see cmsync worker --help)"),
        (["worker", "--processes", "0"], 78,
         "cmsync worker: argument --processes/-p: '0' is not allowed; give a whole number from 1 to 256 "
         "(see cmsync worker --help)"),
        (["worker", "--threads", "many"], 78,
         "cmsync worker: argument --threads/-t: 'many' is not allowed; give a whole number from 1 to 256 "
         "(see cmsync worker --help)"),
        (["sandbox", "--cm-port", "-1"], 1,
         "cmsync sandbox: argument --cm-port/--port: '-1' is not allowed; give a whole number from 0 to 65535 "
         "(0 picks a free port) (see cmsync sandbox --help)"),
        (["sandbox", "--sf-port", "70000"], 1,
         "cmsync sandbox: argument --sf-port: '70000' is not allowed; give a whole number from 0 to 65535 "
         "(0 picks a free port) (see cmsync sandbox --help)"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_line(
    capsys: pytest.CaptureFixture[str], arguments: list[str], code: int, message: str
) -> None:
    assert run_main(capsys, *arguments) == (code, message + "\n")


def test_sync_now_with_a_wrong_broker_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, amqp_url: str
) -> None:
    parts = urlsplit(amqp_url)
    wrong = f"amqp://{parts.username}:Wrong-Broker-Password-4711@{parts.hostname}:{parts.port or 5672}{parts.path}"
    config = sandbox_config(tmp_path, **{"url: embedded": f"url: {wrong}"})
    assert run_main(capsys, "sync-now", "--config", str(config)) == (
        1,
        "cmsync sync-now: RabbitMQ refused the user name or password in broker.url\n",
    )


def test_status_of_a_missing_store_names_it_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = tmp_path / "nowhere" / "state.db"
    config = sandbox_config(tmp_path, **{f"sqlite:///{tmp_path / 'state.db'}": f"sqlite:///{store}"})
    assert run_main(capsys, "status", "--config", str(config)) == (
        1,
        f"cmsync status: no state store at {store} (state.url: sqlite:///{store}); nothing has run with it yet, "
        "or the path is relative to another working directory (absolute: sqlite:////path/state.db)\n",
    )
    assert not store.parent.exists()


def test_sqlite_urls_read_as_sqlalchemy_reads_them(tmp_path: Path) -> None:
    """Three slashes: relative to the working directory; four: absolute, the same from anywhere."""
    (tmp_path / "elsewhere").mkdir()
    absolute = sandbox_config(tmp_path, **{f"sqlite:///{tmp_path / 'state.db'}": f"sqlite:////{tmp_path}/abs.db"})
    assert cmsync("connect", "--config", str(absolute), cwd=tmp_path).returncode == 0
    assert (tmp_path / "abs.db").is_file()
    status = cmsync("status", "--config", str(absolute), cwd=tmp_path / "elsewhere")
    assert status.returncode == 0, status.stderr
    relative = sandbox_config(tmp_path, **{f"sqlite:///{tmp_path / 'state.db'}": "sqlite:///relative.db"})
    assert cmsync("connect", "--config", str(relative), cwd=tmp_path).returncode == 0
    assert (tmp_path / "relative.db").is_file()
    elsewhere = cmsync("status", "--config", str(relative), cwd=tmp_path / "elsewhere")
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.startswith(f"cmsync status: no state store at {tmp_path / 'elsewhere' / 'relative.db'} ")
    assert not (tmp_path / "elsewhere" / "relative.db").exists()


def test_the_example_configuration_keeps_its_store_at_an_absolute_path() -> None:
    settings = load_settings(REPOSITORY / "config" / "cmsync.example.yaml", unchecked=[])
    url = settings.state.url.get_secret_value()
    assert url == "sqlite:////var/lib/cmsync/state.db" and sqlite_path(url) == Path("/var/lib/cmsync/state.db")


def test_two_workers_on_one_host_keep_their_own_metrics_folders(tmp_path: Path, amqp_url: str) -> None:
    config = sandbox_config(tmp_path, **{"url: embedded": f"url: {amqp_url}"})
    ports = [free_port(), free_port()]
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    workers = [
        subprocess.Popen(
            [CMSYNC, "worker", "--config", str(config), "-p", "1", "-t", "1", "--metrics-listen", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        serving: set[int] = set()
        while serving != set(ports) and time.monotonic() < deadline:
            assert all(worker.poll() is None for worker in workers), [w.stderr.read() for w in workers if w.stderr]
            for port in set(ports) - serving:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).ok:
                        serving.add(port)
        assert serving == set(ports)
        folders = sorted(path.name for path in (tmp_path / f"cmsync-worker-{os.getuid()}").iterdir())
        assert folders == sorted(str(worker.pid) for worker in workers)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
