"""``cmsync worker`` as an operator starts it, for the tests that run the RabbitMQ workers."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.daemon.daemon import free_port
from tests.daemon.sync_now_process import QUICK_HEARTBEAT

CMSYNC = str(Path(sys.executable).with_name("cmsync"))


class Workers:
    """``cmsync worker`` as an operator starts it, with its output kept in a file."""

    def __init__(self, config: Path, folder: Path) -> None:
        self.config = config
        self.log = folder / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environment = {**os.environ, **QUICK_HEARTBEAT, "RUNTIME_DIRECTORY": str(self.log.parent / "runtime")}
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [CMSYNC, "worker", "--config", str(self.config), "-p", "2", "-t", "2",
                 "--metrics-listen", f"127.0.0.1:{free_port()}", "--shutdown-timeout", "10"],
                stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True,
            )  # fmt: skip

    def children(self) -> list[int]:
        assert self.process is not None
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]

    def kill_everything(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
