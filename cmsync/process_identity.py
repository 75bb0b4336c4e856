"""Who holds a lease or owns a run: host, PID and the process's start time, so what a dead process of this
host held can be taken over at once instead of waiting for it to expire (a PID reused by another program
has another start time)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22); None when
    there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return int(fields[19]) if len(fields) > 19 else None


@dataclass(frozen=True)
class ProcessIdentity:
    """One process on one host; ``owner`` is how it signs a lease (``host:pid/start``)."""

    host: str
    pid: int
    started: int | None

    @classmethod
    def this_process(cls) -> "ProcessIdentity":
        pid = os.getpid()
        return cls(socket.gethostname(), pid, start_time(pid))

    @classmethod
    def parse(cls, owner: str) -> "ProcessIdentity | None":
        """The identity in a lease's owner, or None when the owner is not a process identity."""
        host, _, rest = owner.rpartition(":")
        pid, _, started = rest.partition("/")
        if not host or not pid.isdigit() or (started and not started.isdigit()):
            return None
        return cls(host, int(pid), int(started) if started else None)

    @property
    def owner(self) -> str:
        return f"{self.host}:{self.pid}" + (f"/{self.started}" if self.started is not None else "")

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}"


def provably_dead(owner: str) -> bool:
    """True when ``owner`` names a process of this host that no longer runs (its PID is gone or now belongs
    to a process started at another time); a process of another host is never provably dead."""
    identity = ProcessIdentity.parse(owner)
    if identity is None or identity.host != socket.gethostname():
        return False
    if identity.started is None:
        return not running(identity.pid)
    return start_time(identity.pid) != identity.started


def running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
