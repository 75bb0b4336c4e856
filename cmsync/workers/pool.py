"""``cmsync worker``: Dramatiq worker processes against RabbitMQ, supervised by Dramatiq's own CLI.

Dramatiq forks the processes, forwards SIGTERM, lets in-flight jobs finish within the shutdown timeout
and requeues what they held. Worker metrics (Dramatiq's and cmsync's) go to a Prometheus folder of this
worker's own, emptied at start, and are served on ``metrics_listen`` by Dramatiq's exposition process.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

from cmsync.process_identity import running


def prometheus_folder() -> Path:
    """An empty folder for this worker supervisor's Prometheus files.

    Under systemd it is ``$RUNTIME_DIRECTORY/prometheus`` (the unit's own, wiped at every start). Outside
    it, ``cmsync-worker-<uid>/<pid>/prometheus`` in the temporary directory: ``exec`` keeps the pid, so
    each running ``cmsync worker`` on a host has a folder of its own, and folders of exited ones go.
    """
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime:
        folder = Path(runtime) / "prometheus"
        shutil.rmtree(folder, ignore_errors=True)
    else:
        base = Path(tempfile.gettempdir()) / f"cmsync-worker-{os.getuid()}"
        base.mkdir(mode=0o700, exist_ok=True)
        _remove_exited(base)
        folder = base / str(os.getpid()) / "prometheus"
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _remove_exited(base: Path) -> None:
    """Remove the folders of worker supervisors that are no longer running."""
    for folder in base.iterdir():
        if folder.name.isdigit() and not running(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)


def exec_workers(
    config: str, *, processes: int, threads: int, metrics_listen: str, shutdown_timeout_seconds: int
) -> None:
    """Replace this process with Dramatiq's supervisor running cmsync's actors (does not return)."""
    folder = prometheus_folder()
    host, _, port = metrics_listen.rpartition(":")
    environment = {
        **os.environ,
        "CMSYNC_CONFIG": str(Path(config).resolve()),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "dramatiq_prom_db": str(folder),
        "dramatiq_prom_host": host.strip("[]"),
        "dramatiq_prom_port": port,
    }
    arguments = [
        sys.executable, "-m", "dramatiq", "cmsync.workers.entrypoint",
        "--processes", str(processes), "--threads", str(threads),
        "--worker-shutdown-timeout", str(shutdown_timeout_seconds * 1000),
    ]  # fmt: skip
    os.execve(sys.executable, arguments, environment)
