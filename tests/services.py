"""The servers the tests talk to: the local ones at their standard ports, or private ones the session starts.

When RabbitMQ or PostgreSQL does not answer where the tests look, the session starts an instance of its
own from the installed server binaries (data in a temporary directory, free ports, stopped at the end),
so a fresh machine needs the packages installed, not the services running.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
STARTUP_DEADLINE = 60.0


class UnavailableError(Exception):
    """A service cannot be had on this machine; the message says why and how to get it."""


def answers(url: str, default_port: int) -> bool:
    """Whether something accepts TCP connections where ``url`` points."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def redact_url(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while not ready():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise UnavailableError(f"{what} did not start within {STARTUP_DEADLINE:.0f} s; its log ends: {tail}")
        time.sleep(0.1)


def _as_service_user(user: str) -> list[str]:
    """The prefix that runs a server as ``user`` when the tests run as root (servers refuse root)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


@dataclass
class RabbitMQ:
    """A RabbitMQ server the tests use, and how to run ``rabbitmqctl`` against it."""

    url: str
    node: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def ctl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl`` on this server (the private node, or the local default one)."""
        command = [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node] if self.node else ["rabbitmqctl"]
        return subprocess.run([*command, *arguments], check=True, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.environment})  # fmt: skip

    @property
    def controllable(self) -> bool:
        return self.node is not None or shutil.which("rabbitmqctl") is not None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.ctl("stop")
        except (subprocess.SubprocessError, OSError):
            self.process.kill()
        self.process.wait(timeout=30)


def start_rabbitmq(workdir: Path) -> RabbitMQ:
    """A private RabbitMQ node on free ports, its data and Erlang cookie in ``workdir``."""
    server = RABBITMQ_BIN / "rabbitmq-server"
    if not server.exists():
        raise UnavailableError("rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)")
    port = free_port()
    node = f"cmsync-test-{os.getpid()}@localhost"
    (workdir / "enabled_plugins").write_text("[].\n")
    environment = {
        "HOME": str(workdir),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
    }
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen([str(server)], env={**os.environ, **environment}, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"amqp://guest:guest@127.0.0.1:{port}/"
    _wait_until(lambda: process.poll() is not None or answers(url, port), "the private RabbitMQ", log)
    if process.poll() is not None:
        raise UnavailableError(f"the private RabbitMQ exited at start; its log ends: {log.read_text()[-2000:]}")
    return RabbitMQ(url=url, node=node, environment=environment, process=process)


@dataclass
class PostgreSQL:
    """A PostgreSQL server the tests use."""

    url: str
    data: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGINT)  # PostgreSQL's fast shutdown, through runuser too
        self.process.wait(timeout=30)


def _postgres_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda path: int(Path(path).parts[4]))
    if not found:
        raise UnavailableError("the PostgreSQL server is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


def start_postgres(workdir: Path) -> PostgreSQL:
    """A private PostgreSQL cluster on a free port, trust authentication, its data in ``workdir``."""
    binaries = _postgres_binaries()
    prefix = _as_service_user("postgres")
    if prefix:
        shutil.chown(workdir, user="postgres")
    data, port, log = workdir / "data", free_port(), workdir / "server.log"
    subprocess.run([*prefix, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*prefix, str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(workdir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def accepting() -> bool:
        return process.poll() is not None or b"ready to accept connections" in log.read_bytes()

    _wait_until(accepting, "the private PostgreSQL", log)
    if process.poll() is not None:
        raise UnavailableError(f"the private PostgreSQL exited at start; its log ends: {log.read_text()[-2000:]}")
    return PostgreSQL(url=url, data=data, process=process)
