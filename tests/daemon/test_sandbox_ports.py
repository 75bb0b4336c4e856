"""``cmsync run --sandbox`` and ``cmsync sandbox`` on a host whose ports are taken: one line naming the port
and the option that moves it; with ``--cm-port 0 --sf-port 0 --metrics-listen`` the daemon runs elsewhere
and its banner's commands work as printed."""

import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.daemon.daemon import CMSYNC, free_port
from tests.test_cli import sandbox_config


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield holder.getsockname()[1]


def _refusal(port: int, option: str, emulator: str) -> str:
    return (
        f"the {emulator} emulator cannot listen on 127.0.0.1:{port}: Address already in use; "
        f"choose another port with {option} PORT (0 picks a free one)"
    )


def test_sandbox_names_a_taken_port_and_the_option_that_moves_it(taken_port: int) -> None:
    result = subprocess.run(
        [CMSYNC, "sandbox", "--size", "small", "--cm-port", "0", "--sf-port", str(taken_port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"cmsync sandbox: {_refusal(taken_port, '--sf-port', 'Salesforce')}\n"


def test_run_sandbox_names_a_taken_port_and_the_option_that_moves_it(tmp_path: Path, taken_port: int) -> None:
    config = sandbox_config(tmp_path, **{"127.0.0.1:8701": f"127.0.0.1:{taken_port}"})
    result = subprocess.run(
        [CMSYNC, "run", "--sandbox", "--config", str(config)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"cmsync run: {_refusal(taken_port, '--cm-port', 'Campaign Monitor')}"


def test_run_sandbox_ports_move_with_options_and_the_banner_commands_work_as_printed(
    tmp_path: Path, taken_port: int
) -> None:
    console = socket.create_server(("127.0.0.1", 0))
    console_port = console.getsockname()[1]
    config = sandbox_config(
        tmp_path,
        **{"127.0.0.1:8701": f"127.0.0.1:{taken_port}", "listen: 127.0.0.1:9466": f"listen: 127.0.0.1:{console_port}"},
    )
    metrics = f"127.0.0.1:{free_port()}"
    output = tmp_path / "daemon.log"
    arguments = ["run", "--sandbox", "--config", str(config), "--cm-port", "0", "--sf-port", "0"]
    with output.open("wb") as sink:
        daemon = subprocess.Popen(
            [CMSYNC, *arguments, "--metrics-listen", metrics], stdout=sink, stderr=sink, cwd=tmp_path
        )
    try:
        banner = _banner(output, daemon)
        assert banner["console"] == f"not served: 127.0.0.1:{console_port} is not free (set console.listen to another)"
        assert banner["metrics"] == f"http://{metrics}/metrics"
        assert requests.get(banner["metrics"], timeout=10).status_code == 200
        for name in ("status", "sync now"):
            result = subprocess.run(
                shlex.split(banner[name]), capture_output=True, text=True, timeout=120, cwd=tmp_path
            )
            assert result.returncode == 0, (banner[name], result.stdout, result.stderr)
        assert (
            "daemon:        running"
            in subprocess.run(
                shlex.split(banner["status"]), capture_output=True, text=True, timeout=60, cwd=tmp_path
            ).stdout
        )
    finally:
        console.close()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0


def _banner(output: Path, daemon: subprocess.Popen[bytes], timeout: float = 60) -> dict[str, str]:
    """The banner's lines by name, once it is printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace")
        if "  stop:" in text:
            lines = [line.strip().split(":", 1) for line in text.splitlines() if line.startswith("  ")]
            return {name: value.strip() for name, value in lines}
        assert daemon.poll() is None, text
        time.sleep(0.1)
    raise AssertionError(f"no banner within {timeout} s:\n{output.read_text(errors='replace')}")


def test_a_taken_metrics_port_names_the_setting_and_the_option(tmp_path: Path, taken_port: int) -> None:
    config = sandbox_config(tmp_path, **{"listen: 127.0.0.1:9464": f"listen: 127.0.0.1:{taken_port}"})
    config.write_text(config.read_text().replace("format: auto", "format: json"))
    arguments = ["run", "--sandbox", "--config", str(config), "--cm-port", "0", "--sf-port", "0"]
    result = subprocess.run([CMSYNC, *arguments], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    (refusal,) = [line for line in result.stdout.splitlines() if "cannot serve metrics" in line]
    assert "choose another address with metrics.listen or cmsync run --metrics-listen" in refusal
    assert f'"listen": "127.0.0.1:{taken_port}"' in refusal and '"error": "Address already in use"' in refusal
