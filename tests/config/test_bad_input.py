"""``cmsync check-config`` on input that used to end in a traceback or pass and fail every run: one
line each, naming the setting, what was given and what is allowed."""

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmsync.cli.main import main
from tests.config.builders import LIST, with_settings


def check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[str]]:
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.err.splitlines()[1:]


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "cmsync.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = write(tmp_path, data)
    code, lines = check(capsys, path)
    assert code == 1
    return [line.removeprefix(f"{path}: ") for line in lines]


def test_a_file_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    settings = yaml.safe_dump(with_settings())
    path.write_bytes(settings.encode() + "# café\n".encode("latin-1"))
    line = settings.count("\n") + 1
    assert check(capsys, path) == (1, [f"{path}: line {line}: not UTF-8 text (byte 0xe9); save the file as UTF-8"])


def test_a_key_that_is_a_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "complex.yaml"
    settings = yaml.safe_dump(with_settings())
    path.write_text(settings + "? [a, b]\n: 1\n")
    line = settings.count("\n") + 1
    assert check(capsys, path) == (
        1,
        [f"{path}: line {line}, column 3: not valid YAML: a key must be a plain name, not a list or mapping"],
    )


@pytest.mark.parametrize("depth", [25, 5000])
def test_deep_nesting(capsys: pytest.CaptureFixture[str], tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(yaml.safe_dump(with_settings()) + "extra: " + "[" * depth + "]" * depth + "\n")
    code, lines = check(capsys, path)
    assert code == 1 and len(lines) == 1
    assert lines[0].endswith(": nested more than 20 levels deep")


def test_aliases_cannot_multiply_a_small_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    path.write_text(yaml.safe_dump(with_settings()) + "\n".join(levels) + "\n")
    assert check(capsys, path) == (1, [f"{path}: holds more than 100000 values"])


def test_a_date_that_does_not_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "date.yaml"
    settings = yaml.safe_dump(with_settings())
    path.write_text(settings + "sync:\n  at: 2024-13-45\n")
    line = settings.count("\n") + 2
    assert check(capsys, path) == (
        1,
        [
            f"{path}: line {line}, column 7: not valid YAML: '2024-13-45' is not a real date or time "
            "(month must be in 1..12); quote it if it is text"
        ],
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "campaign_monitor.timeout: 0s is not allowed; a timeout is from 1s to 1h"),
        (-5, "campaign_monitor.timeout: -5 is not allowed; a duration is 0s or more"),
        ("2h", "campaign_monitor.timeout: 2h is not allowed; a timeout is from 1s to 1h"),
        (1e308, "campaign_monitor.timeout: 1e+308 is not allowed; the longest duration is 3650d"),
        (float("inf"), "campaign_monitor.timeout: inf is not allowed; the longest duration is 3650d"),
        ("99999999999999999999w", "campaign_monitor.timeout: '99999999999999999999w' is not allowed; "
         "the longest duration is 3650d"),
    ],
)  # fmt: skip
def test_timeouts_that_fail_every_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: object, message: str
) -> None:
    assert errors(capsys, tmp_path, with_settings(campaign_monitor={"timeout": value})) == [message]


def test_days_to_keep_beyond_any_date(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert errors(capsys, tmp_path, with_settings(tracking={"days_to_keep": 10**30})) == [
        f"tracking.days_to_keep: {10**30} is not allowed; must be less than or equal to 36500"
    ]


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("metrics", {"listen": "127.0.0.1:９４６４"},
         "metrics.listen: '127.0.0.1:９４６４' is not an address to listen on; write it as host:port, "
         "like 127.0.0.1:9464"),
        ("campaign_monitor", {"base_url": "https://cm.example.com:70000/api"},
         "campaign_monitor.base_url: 'https://cm.example.com:70000/api' is not a URL with a port from 1 to 65535 "
         "(or none)"),
        ("broker", {"url": "amqp://cmsync:pw-secret-1@rabbit:99999/cmsync"},
         "broker.url: the URL's port is not a number from 1 to 65535; percent-encode @ : / ? # in a user name "
         "or password (@ is %40, / is %2F)"),
        ("broker", {"url": "amqp://"},
         "broker.url: the URL names no host; write it as amqp://host:port/… (user:password@ before the host)"),
    ],
)  # fmt: skip
def test_ports_and_hosts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, section: str, value: dict[str, str], message: str
) -> None:
    assert errors(capsys, tmp_path, with_settings(**{section: value})) == [message]


def test_rule_logic_nested_too_deep(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rule = {
        "list": LIST, "object": "Lead", "action": "add",
        "criteria": [{"field": "LeadSource", "op": "equals", "value": "Web"}],
        "logic": "(" * 3000 + "1" + ")" * 3000,
    }  # fmt: skip
    assert errors(capsys, tmp_path, with_settings(subscription_rules=[rule])) == [
        "subscription_rules[0]: logic nests NOT and ( ) more than 10 levels deep; simplify it"
    ]


def test_a_ca_file_that_is_not_pem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("this is not a certificate\n")
    assert errors(capsys, tmp_path, with_settings(campaign_monitor={"ca_file": str(ca)})) == [
        f"campaign_monitor.ca_file: {str(ca)!r} is not a PEM certificate bundle (-----BEGIN CERTIFICATE----- blocks)"
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("ssh-rsa AAAAB3NzaC1yc2E cmsync@host\n",
         "is not a PEM private key (-----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY)"),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", "is an encrypted key; cmsync needs it without a passphrase"),
    ],
)  # fmt: skip
def test_a_key_file_that_is_not_a_pem_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, problem: str
) -> None:
    key = tmp_path / "server.key"
    key.write_text(content)
    auth = {"client_id": "consumer", "username": "sync@example.com", "private_key_file": str(key)}
    assert errors(capsys, tmp_path, with_settings(salesforce={"auth": auth})) == [
        f"salesforce.auth.private_key_file: {str(key)!r} {problem}"
    ]


def test_a_fifo_is_refused_without_blocking(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fifo = tmp_path / "cmsync.yaml"
    os.mkfifo(fifo)
    assert check(capsys, fifo) == (1, [f"{fifo}: not a regular file (it is a named pipe)"])


def test_dev_zero_is_refused_without_reading_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert check(capsys, Path("/dev/zero")) == (1, ["/dev/zero: not a regular file (it is a device)"])
    data = with_settings(campaign_monitor={"auth": {"api_key": "file:/dev/zero"}})
    assert errors(capsys, tmp_path, data) == [
        "campaign_monitor.auth.api_key: file:/dev/zero: /dev/zero: not a regular file (it is a device)"
    ]


def test_a_huge_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(with_settings()) + "#" * (1024 * 1024) + "\n")
    assert check(capsys, path) == (1, [f"{path}: larger than 1024 KiB, the most cmsync reads from one file"])


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", "sub/key", ""])
def test_a_credential_name_is_a_plain_file_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_environment: pytest.MonkeyPatch, name: str
) -> None:
    credentials = tmp_path / "credentials"
    (credentials / "sub").mkdir(parents=True)
    (credentials / "sub" / "key").write_text("cm-key-0123456789")
    clean_environment.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    data = with_settings(campaign_monitor={"auth": {"api_key": f"credential:{name}"}})
    assert errors(capsys, tmp_path, data) == [
        f"campaign_monitor.auth.api_key: credential:{name} is not allowed: a credential name is a plain file name "
        "inside $CREDENTIALS_DIRECTORY (no /, no .. and not empty), like credential:cm_api_key"
    ]


def test_a_file_name_too_long_for_the_system(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    name = "x" * 300
    data = with_settings(campaign_monitor={"ca_file": name}, state={"url": f"sqlite:////tmp/{name}.db"})
    assert errors(capsys, tmp_path, data) == [
        f"campaign_monitor.ca_file: '{name}': File name too long",
        "state.url: the SQLite file's path holds a NUL character or a name longer than 255 bytes",
    ]


@pytest.mark.parametrize(
    ("section", "url"),
    [
        ("state", "postgresql:///cmsync"),
        ("state", "postgresql://cmsync:p%40ss%2Fw0rd@db.internal:5432/cmsync?sslmode=require"),
        ("state", "postgres://cmsync@[::1]:5432/cmsync"),
        ("broker", "amqps://cmsync:p%23w@rabbit.internal:5671/%2Fcmsync?heartbeat=30"),
    ],
)
def test_well_formed_urls_are_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path, section: str, url: str) -> None:
    code, lines = check(capsys, write(tmp_path, with_settings(**{section: {"url": url}})))
    assert (code, lines) == (0, [])
