"""``cmsync sync-now`` as a real process for tests: its output in a file, its signals, a kill at any point."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPOSITORY
from tests.daemon.daemon import CMSYNC

HEARTBEAT_SECONDS = 4.0
"""The run heartbeat timeout the tests give every cmsync process (30 s in production): longer than a restarted
``cmsync worker`` takes to boot and take its first job while four test processes share two cores."""
QUICK_HEARTBEAT = {"CMSYNC_RUN_HEARTBEAT_TIMEOUT": str(HEARTBEAT_SECONDS)}
STOP_BEFORE_SEND = [sys.executable, "-m", "tests.daemon.stop_before_send"]
"""``cmsync`` that stops for good between recording a run and sending it (a kill's widest window)."""


def _as_from_a_terminal() -> None:
    """Start the command with Ctrl-C delivered and acted on, as a shell starts it: a test process may carry a
    blocked or ignored SIGINT (inherited across exec) that a user's terminal never has."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class SyncNow:
    """One ``cmsync sync-now`` (or other ``cmsync`` command) process."""

    def __init__(self, config: Path, folder: Path, *options: str, command: list[str] | None = None) -> None:
        self.output = folder / f"sync-now-{time.monotonic_ns()}.log"
        self.arguments = [*(command or [CMSYNC]), "sync-now", "--config", str(config), *options]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "SyncNow":
        environment = {**os.environ, **QUICK_HEARTBEAT, "PYTHONPATH": str(REPOSITORY)}
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                self.arguments,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=REPOSITORY,
                preexec_fn=_as_from_a_terminal,
            )
        return self

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text():
            if not self.running():
                raise AssertionError(f"sync-now exited before printing {text!r}:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.text()[-3000:]}")
            time.sleep(0.02)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        if self.running():
            self.signal(signal.SIGKILL)
        self.wait()

    def wait(self, timeout: float = 90) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)
