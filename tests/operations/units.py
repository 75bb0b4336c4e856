"""The systemd units of ``systemd/`` read as systemd reads them, and their commands as systemd would run
them on this host: the installation's paths (``/opt/cmsync``, ``/etc/cmsync``) mapped to the test's."""

import os
import re
import shlex
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.conftest import REPOSITORY

UNITS = REPOSITORY / "systemd"
CMSYNC = str(Path(sys.executable).with_name("cmsync"))
INSTALLED_CMSYNC = "/opt/cmsync/bin/cmsync"
INSTALLED_CONFIG = "/etc/cmsync/cmsync.yaml"
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class Unit:
    """One unit file: every ``Key=value`` of its ``[Service]`` section, in order (keys may repeat)."""

    def __init__(self, name: str) -> None:
        self.path = UNITS / name
        self.service: dict[str, list[str]] = defaultdict(list)
        section = ""
        text = re.sub(r"\\\n\s*", " ", self.path.read_text())
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "Service":
                key, _, value = line.partition("=")
                self.service[key].append(value)

    def value(self, key: str) -> str:
        """The setting's effective value: its last assignment."""
        return self.service[key][-1]

    def environment(self) -> dict[str, str]:
        """The variables ``Environment=`` sets."""
        assignments = [pair for line in self.service["Environment"] for pair in shlex.split(line)]
        return dict(pair.split("=", 1) for pair in assignments)

    def credentials(self) -> dict[str, str]:
        """``LoadCredential=`` IDs and the files they are read from."""
        return dict(line.split(":", 1) for line in self.service["LoadCredential"])

    def seconds(self, key: str) -> int:
        """A time setting given in seconds (``WatchdogSec=60``)."""
        return int(self.value(key))

    def command(self, key: str, config: Path, variables: dict[str, str]) -> list[str]:
        """The command line of ``ExecStart=``/``ExecReload=``, its ``${VARIABLES}`` replaced, for this host."""
        words = []
        for word in shlex.split(self.value(key)):
            word = _VARIABLE.sub(lambda match: variables[match.group(1) or match.group(2)], word)
            words.append({INSTALLED_CMSYNC: CMSYNC, INSTALLED_CONFIG: str(config)}.get(word, word))
        return words

    def for_this_host(self, folder: Path) -> Path:
        """A copy of the unit with cmsync's installed path replaced by this checkout's, for ``systemd-analyze``."""
        copy = folder / self.path.name
        copy.write_text(self.path.read_text().replace(INSTALLED_CMSYNC, CMSYNC))
        return copy


class Service:
    """A unit's main process started as systemd starts it, and stopped as its ``KillMode=`` says."""

    def __init__(self, unit: Unit, config: Path, environment: dict[str, str], log: Path) -> None:
        self.unit = unit
        self.config = config
        self.environment = {**os.environ, **unit.environment(), **environment}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "Service":
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.unit.command("ExecStart", self.config, self.environment),
                stdout=output, stderr=subprocess.STDOUT, env=self.environment, start_new_session=True,
            )  # fmt: skip
        return self

    def reload(self) -> subprocess.CompletedProcess[str]:
        """Run ``ExecReload=`` (``$MAINPID`` is this service's main process)."""
        command = self.unit.command("ExecReload", self.config, {**self.environment, "MAINPID": str(self.pid)})
        return subprocess.run(command, capture_output=True, text=True, timeout=30)

    def stop(self) -> int:
        """SIGTERM to the main process alone, as ``KillMode=mixed`` does (and the default, for a service of
        one process); what still runs after ``TimeoutStopSec=`` systemd would kill, so it fails the test."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=self.unit.seconds("TimeoutStopSec"))
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL to every process the service started (its session), as systemd's final stop step."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
