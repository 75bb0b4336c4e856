"""The supervisor's notify messages reach a socket bound the way systemd binds it."""

import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cmsync.daemon.systemd import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(2)
    yield listener, path
    listener.close()


def test_messages_arrive(notify_socket: tuple[socket.socket, str]) -> None:
    listener, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.ready("idle")
    notifier.reloading()
    notifier.watchdog()
    notifier.stopping()
    messages = [listener.recv(4096).decode() for _ in range(4)]
    assert messages[0] == "READY=1\nSTATUS=idle"
    assert messages[1].startswith("RELOADING=1\nMONOTONIC_USEC=") and messages[1].split("=")[-1].isdigit()
    assert messages[2:] == ["WATCHDOG=1", "STOPPING=1"]


def test_abstract_socket() -> None:
    name = f"cmsync-test-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(2)
    Notifier({"NOTIFY_SOCKET": "@" + name}).status("syncing")
    assert listener.recv(4096) == b"STATUS=syncing"
    listener.close()


def test_watchdog_interval_is_half_of_systemds() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval == timedelta(seconds=15)
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({}).watchdog_interval is None


def test_outside_systemd_nothing_happens() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.ready()
