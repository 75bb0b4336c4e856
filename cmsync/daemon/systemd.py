"""systemd's notify protocol without a dependency: READY, RELOADING, STOPPING, STATUS and WATCHDOG.

Datagrams go to ``$NOTIFY_SOCKET`` (``@`` = abstract namespace). Outside systemd the socket is unset and
every call does nothing. The watchdog interval is half of ``$WATCHDOG_USEC`` (sd_watchdog_enabled(3)).
"""

import os
import socket
import time
from datetime import timedelta


class Notifier:
    """Tells systemd how the supervisor is doing; a no-op when not run by systemd."""

    def __init__(self, environment: dict[str, str] | None = None) -> None:
        environment = dict(os.environ) if environment is None else environment
        address = environment.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = environment.get("WATCHDOG_USEC", "")
        watchdog_pid = environment.get("WATCHDOG_PID", "")
        watched = watchdog_usec.isdigit() and (not watchdog_pid or watchdog_pid == str(os.getpid()))
        self.watchdog_interval = timedelta(microseconds=int(watchdog_usec) / 2) if watched else None

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, *assignments: str) -> None:
        if not self._address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as channel:
            channel.connect(self._address)
            channel.sendall("\n".join(assignments).encode())

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")
