"""``cmsync run`` as a real process for tests: its configuration, its log lines, its signals."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CMSYNC = str(Path(sys.executable).with_name("cmsync"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Daemon:
    """One supervisor process; ``logs()`` parses its JSON log lines."""

    def __init__(self, config: Path, folder: Path, environment: dict[str, str] | None = None) -> None:
        self.config = config
        self.output = folder / f"daemon-{time.monotonic_ns()}.log"
        self.environment = {**os.environ, **(environment or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Daemon":
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                [CMSYNC, "run", "--config", str(self.config)],
                stdout=output, stderr=subprocess.STDOUT, env=self.environment,
            )  # fmt: skip
        self.wait_for("cmsync is running")
        return self

    def logs(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, event: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.logs() if line.get("event") == event]
            if len(found) >= count:
                return found
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"cmsync run exited {self.process.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no {event!r} (x{count}) within {timeout} s:\n{self.text()[-3000:]}")

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self, timeout: float = 40) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def cmsync(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CMSYNC, *arguments], capture_output=True, text=True, timeout=timeout)
