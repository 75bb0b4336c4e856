"""Mutated configuration files and command lines through the real ``cmsync`` entry point: whatever is
wrong, the output holds no traceback and none of the secrets planted in the files.

The generator has a fixed seed, so a failure names a case that can be generated again.
"""

import copy
import io
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmsync.cli.main import main
from cmsync.redaction import REDACTOR

REPOSITORY = Path(__file__).resolve().parents[2]
CMSYNC = str(Path(sys.executable).with_name("cmsync"))
SEED = 20261130
CONFIG_CASES = 320
COMMAND_CASES = 60

CM_KEY = "Zq8vCmApiKey3Tn5Wx"
SF_SECRET = "Lp4rSfClientSecret9Dk"
SF_REFRESH = "Hy7uSfRefreshToken2Bm"
CREDENTIAL_KEY = "Ru6eCredentialFileKey1Vs"
BROKER_PASSWORD = "Qm2wBrokerPass8Jx"
STATE_PASSWORD = "Ft5kStatePass4Nc"
KEY_BODY = "Wd3pPrivateKeyBody7Gh"
SECRETS = (CM_KEY, SF_SECRET, SF_REFRESH, CREDENTIAL_KEY, BROKER_PASSWORD, STATE_PASSWORD, KEY_BODY)
"""Each is also looked for in pieces (split at URL punctuation), so half a password leaked is caught."""


def _pieces(secret: str) -> set[str]:
    return {secret} | {piece for piece in re.split(r"[/@:?#%]", secret) if len(piece) >= 6}


SECRET_PIECES = set().union(*(_pieces(secret) for secret in SECRETS))


def _malformed_urls(scheme: str, password: str, rng: random.Random) -> list[str]:
    """URLs a person might write around ``password``: unencoded punctuation, bad ports, no host …"""
    cut = rng.randrange(3, len(password) - 3)
    head, tail = password[:cut], password[cut:]
    return [
        f"{scheme}://cmsync:{head}@{tail}@db.internal/cmsync",
        f"{scheme}://cmsync:{head}/{tail}@db.internal/cmsync",
        f"{scheme}://cmsync:{head}#{tail}@db.internal/cmsync",
        f"{scheme}://cmsync:{head}?{tail}@db.internal/cmsync",
        f"{scheme}://cmsync:{password}@db.internal:99999/cmsync",
        f"{scheme}://cmsync:{password}@db.internal:port/cmsync",
        f"{scheme}://cmsync:{password}@/cmsync",
        f"{scheme}://cmsync:{password}@[::1/cmsync",
        f"{scheme}://cmsync:{password} @db.internal/cmsync",
        f"{scheme}://cmsync:{password}@db.internal:0/cmsync",
        f"{scheme}:/cmsync:{password}@db.internal/cmsync",
        f"{scheme}://cmsync:{password}@db\ninternal/cmsync",
        f"mysql://cmsync:{password}@db.internal/cmsync",
        f"{scheme}://cmsync:{password}@127.0.0.1:1/cmsync",
    ]


@dataclass
class Files:
    """Where the generated files go, and the odd files a setting may point at."""

    folder: Path
    fifo: Path
    credentials: Path
    key: Path


def _base_configurations(files: Files) -> list[dict[str, Any]]:
    """The shipped example and sandbox files, with secrets planted inline, in a credential and in URLs."""
    example = yaml.safe_load((REPOSITORY / "config" / "cmsync.example.yaml").read_text())
    example["state"]["url"] = f"sqlite:///{files.folder / 'example.db'}"
    example["broker"]["url"] = f"amqp://cmsync:{BROKER_PASSWORD}@127.0.0.1:1/cmsync"
    refresh = copy.deepcopy(example)
    refresh["salesforce"]["auth"] = {"client_id": "consumer", "client_secret": SF_SECRET, "refresh_token": SF_REFRESH}
    refresh["campaign_monitor"]["auth"] = {"api_key": CM_KEY}
    refresh["state"]["url"] = f"postgresql://cmsync:{STATE_PASSWORD}@127.0.0.1:1/cmsync"
    sandbox = yaml.safe_load((REPOSITORY / "config" / "sandbox.yaml").read_text())
    sandbox["salesforce"]["auth"].update(client_secret=SF_SECRET, refresh_token=SF_REFRESH)
    sandbox["campaign_monitor"]["auth"]["api_key"] = CM_KEY
    sandbox["state"]["url"] = f"sqlite:///{files.folder / 'sandbox.db'}"
    return [example, refresh, sandbox]


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from _leaves(value, (*path, index))
    else:
        yield path


def _containers(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        yield path
        for key, value in data.items():
            yield from _containers(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _containers(value, (*path, index))


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    _at(data, path[:-1])[path[-1]] = value


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf] if depth % 2 else {"k": leaf}
    return leaf


def _odd_value(rng: random.Random, files: Files) -> Any:
    return rng.choice([
        10 ** rng.randint(19, 400), -(10 ** rng.randint(1, 30)), -rng.randint(1, 1000), 0, 1e308, float("inf"),
        float("-inf"), float("nan"), 2.5, True, None, [], {}, [1, [2, [3]]], {"a": {"b": "c"}},
        "", " ", "田中@例え.jp", "josé'o'brien@exämple.com", "😀" * rng.randint(1, 300), "\u202e\u0000\x07",
        "x" * rng.randint(100, 5000), "2024-02-30", "-1s", "1e999d", "5x", "0s", "99999999999999999999w",
        "${CMSYNC_FUZZ_UNSET}", "file:/dev/zero", f"file:{files.fifo}", "file:/nonexistent/secret",
        "credential:../../etc/passwd", "credential:", "credential:/etc/shadow", f"credential:{files.fifo.name}",
        "http://host:99999/x", "https://[::1", "amqp://", "127.0.0.1:65536", "bogus", "NOT NOT NOT 1",
        "(" * 200 + "1" + ")" * 200, "1 AND", str(files.folder), "/dev/zero", str(files.fifo),
    ])  # fmt: skip


def _mutate(data: dict[str, Any], rng: random.Random, files: Files) -> None:
    """One mutation of a parsed configuration, in place."""
    leaves = [path for path in _leaves(data) if path]
    kind = rng.randrange(8)
    if kind <= 1:
        _set(data, rng.choice(leaves), _odd_value(rng, files))
    elif kind == 2:
        _set(data, rng.choice(leaves), _nested(rng.randint(5, 60), rng.choice(["x", 1, CM_KEY])))
    elif kind == 3:
        section, password = rng.choice([("state", STATE_PASSWORD), ("broker", BROKER_PASSWORD)])
        scheme = "postgresql" if section == "state" else rng.choice(["amqp", "amqps"])
        data.setdefault(section, {})
        data[section] = {"url": rng.choice(_malformed_urls(scheme, password, rng))}
    elif kind == 4:
        path = rng.choice([path for path in _containers(data) if _at(data, path)] or [()])
        container = _at(data, path)
        key = rng.choice(list(container))
        typo = rng.choice([key + "x", key[:-1], key.upper(), f"{key}\u200b", 12, "", "?"])
        container[typo] = container.pop(key)
    elif kind == 5:
        path = rng.choice([path for path in _containers(data) if _at(data, path)] or [()])
        container = _at(data, path)
        del container[rng.choice(list(container))]
    elif kind == 6:
        secret_leaves = [path for path in leaves if path[-1] in ("api_key", "client_secret", "refresh_token", "url")]
        if secret_leaves:
            path = rng.choice(secret_leaves)
            value = _at(data, path)
            _set(data, path, rng.choice([[value], {"value": value}, {value: 1}, [[value]], f" {value} "]))
    else:
        _set(data, rng.choice(leaves), rng.choice([
            "15s", "30m", "never", "weekly", "sunday", ":99", "25:00", "Mars/Olympus", "sf2cm", "cm2sf",
            "Account.Industry", "[Key]", "Lead Source", "1 AND (2 OR 3)", "0.0.0.0:9464",
        ]))  # fmt: skip


def _text_fault(text: str, rng: random.Random) -> str:
    """A fault a person's editor might leave in the YAML text itself."""
    lines = text.splitlines()
    at = rng.randrange(len(lines) + 1)
    return "\n".join([*lines[:at], rng.choice([
        "\tindented: with a tab", "broken: [unclosed", "? [a, b]\n: complex", "? {a: 1}\n: complex",
        "sync: {at: 2024-13-45}", "when: 2023-02-29", "campaign_monitor: duplicate", "x: !!python/object:os.system",
        "x: *undefined_alias", "- a list item", "x: 'unterminated", "x: \"\\xZZ\"", "%YAML 9.9", "x: !!binary =",
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "\n".join(
            f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 8)),
        "deep: " + "[" * rng.randint(20, 3000) + "]" * rng.randint(0, 3000), "x: " + "{a: " * 100 + "1" + "}" * 100,
        "---\nsecond: document", "...", "- [",
    ]), *lines[at:]])  # fmt: skip


@dataclass
class Case:
    """One generated configuration file."""

    name: str
    content: bytes


def generate_configurations(files: Files, count: int) -> list[Case]:
    rng = random.Random(SEED)
    bases = _base_configurations(files)
    cases = []
    for number in range(count):
        data = copy.deepcopy(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            _mutate(data, rng, files)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)
        if rng.random() < 0.3:
            text = _text_fault(text, rng)
        content = text.encode()
        if rng.random() < 0.05:
            content = content.replace(b"e", b"\xe9", 1)
        cases.append(Case(f"config-{number:03d}.yaml", content))
    return cases


def _bad_option(rng: random.Random, command: str) -> list[str]:
    junk = rng.choice(["-1", "0", "99999", "1e9", "bogus", "", "١٢", "9" * 5000, "0x10", "2.5", "😀", "--", "\x00"])
    by_command = {
        "worker": [["--processes", junk], ["--threads", junk], ["--metrics-listen", junk], ["--shutdown-timeout", junk],
                   ["--metrics-listen", f"127.0.0.1:{junk}"]],
        "sandbox": [["--cm-port", junk], ["--sf-port", junk], ["--size", junk], ["--seed", junk]],
        "reimport-tracking": [["--since", junk], ["--since", "2026-01-01", "--until", junk], ["--types", junk]],
    }  # fmt: skip
    common = [[f"--{junk}"], ["--unknown-option"], [junk]]
    return rng.choice(by_command.get(command, []) + common)


def generate_command_lines(rng: random.Random, configs: list[Path], valid: Path, files: Files) -> list[list[str]]:
    """Command lines that each fail before any real work (a bad option or a refused file), except the
    harmless reads and writes of a local state store (status, connect, check-config)."""
    commands = ["run", "worker", "check-config", "sync-now", "status", "disconnect", "connect",
                "reimport-tracking", "purge-tracking", "sandbox", "synchronise"]  # fmt: skip
    lines = []
    while len(lines) < COMMAND_CASES:
        command = rng.choice(commands)
        config = rng.choice([*configs, files.fifo, Path("/dev/zero"), files.folder, Path("/nonexistent.yaml")])
        arguments = [command]
        if command == "sandbox" or rng.random() < 0.5:
            arguments += _bad_option(rng, command)
            config = rng.choice([config, valid])
        if command == "reimport-tracking" and "--since" not in arguments:
            arguments += ["--since", "2026-01-01"]
        if command in ("status", "connect", "check-config") and rng.random() < 0.3:
            config = valid
        if command != "sandbox":
            arguments += ["--config", str(config)]
        lines.append(arguments)
    return lines


def run_in_process(arguments: list[str]) -> tuple[int, str]:
    """``main(argv)`` with the redactor as a new process has it (no secrets from an earlier case)."""
    REDACTOR.secrets = ()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(arguments)
    return code, out.getvalue() + err.getvalue()


def assert_clean(arguments: list[str], code: int, output: str, describe: Callable[[], str]) -> None:
    assert code in (0, 1, 78), f"{arguments}: exit {code}\n{describe()}"
    assert "Traceback" not in output and 'File "' not in output, f"{arguments}:\n{output}\n{describe()}"
    leaked = sorted(piece for piece in SECRET_PIECES if piece in output)
    assert not leaked, f"{arguments} printed {leaked}:\n{output}\n{describe()}"
    if code:
        assert output.strip(), f"{arguments}: exit {code} without a word"


@pytest.fixture
def files(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> Files:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "cm_api_key").write_text(CREDENTIAL_KEY)
    key = credentials / "sf_jwt_key"
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    os.mkfifo(credentials / fifo.name)
    clean_environment.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    clean_environment.chdir(tmp_path)
    return Files(tmp_path, fifo, credentials, key)


def test_fuzzed_configurations_and_command_lines(files: Files) -> None:
    cases = generate_configurations(files, CONFIG_CASES)
    paths = []
    outcomes = {0: 0, 1: 0, 78: 0}
    for case in cases:
        path = files.folder / case.name
        path.write_bytes(case.content)
        paths.append(path)
        code, output = run_in_process(["check-config", str(path)])
        assert_clean(["check-config", case.name], code, output, lambda case=case: case.content.decode(errors="replace"))
        outcomes[code] += 1
    assert outcomes[0] and outcomes[1] > CONFIG_CASES // 2, outcomes

    valid = files.folder / "valid.yaml"
    valid.write_text((REPOSITORY / "config" / "sandbox.yaml").read_text())
    rng = random.Random(SEED + 1)
    for arguments in generate_command_lines(rng, paths, valid, files):
        code, output = run_in_process(arguments)
        assert_clean(arguments, code, output, lambda arguments=arguments: _config_text(arguments))


def _config_text(arguments: list[str]) -> str:
    if "--config" not in arguments:
        return ""
    path = Path(arguments[arguments.index("--config") + 1])
    return path.read_text(errors="replace")[:5000] if path.is_file() else str(path)


def test_fuzzed_cases_as_real_processes(files: Files) -> None:
    """A handful of the generated cases through the installed ``cmsync`` script, as an operator runs it."""
    cases = generate_configurations(files, CONFIG_CASES)
    rng = random.Random(SEED + 2)
    chosen = rng.sample(cases, 6)
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(files.folder), "CREDENTIALS_DIRECTORY": str(files.credentials)}
    for case in chosen:
        path = files.folder / case.name
        path.write_bytes(case.content)
        for arguments in (["check-config", str(path)], ["status", "--config", str(path)]):
            result = subprocess.run(
                [CMSYNC, *arguments], capture_output=True, text=True, env=environment, cwd=files.folder, timeout=60
            )
            assert_clean(arguments, result.returncode, result.stdout + result.stderr, lambda case=case: case.name)
