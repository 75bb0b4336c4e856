"""The console's life in the supervisor: off without ``listen``, moved by a reload to a new address, and
never in the way of syncing when its port is taken."""

import socket
from pathlib import Path

import pytest
import requests

from cmsync.config import Settings
from cmsync.console.service import Console
from tests.config.builders import load, with_settings
from tests.daemon.daemon import free_port


def _settings(tmp_path: Path, listen: str | None) -> Settings:
    console = {"listen": listen, "password": "a console password"} if listen else {}
    return load(with_settings(state={"url": f"sqlite:///{tmp_path / 'state.db'}"}, console=console))


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}signin", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_without_listen_no_console_is_served(tmp_path: Path) -> None:
    console = Console("cmsync.yaml")
    console.start(_settings(tmp_path, None))
    assert console.url is None
    console.stop()


def test_a_reload_with_a_new_address_moves_the_console(tmp_path: Path) -> None:
    first, second = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    console = Console("cmsync.yaml")
    console.start(_settings(tmp_path, first))
    try:
        assert _answers(f"http://{first}/")
        console.reload(_settings(tmp_path, second))
        assert console.url == f"http://{second}/"
        assert _answers(f"http://{second}/") and not _answers(f"http://{first}/")
    finally:
        console.stop()
    assert not _answers(f"http://{second}/")


def test_a_taken_port_leaves_the_console_off_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        console = Console("cmsync.yaml")
        console.start(_settings(tmp_path, listen))
        assert console.url is None
        console.stop()
    assert "cannot serve the console" in capsys.readouterr().out
