"""``cmsync worker``: Dramatiq worker processes against RabbitMQ, supervised by Dramatiq's own CLI.

Dramatiq forks the processes, forwards SIGTERM, lets in-flight jobs finish within the shutdown timeout
and requeues what they held. Worker metrics (Dramatiq's and cmsync's) go to one Prometheus folder, wiped
at start, and are served on ``metrics_listen`` by Dramatiq's exposition process.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path


def prometheus_folder() -> Path:
    """systemd's ``$RUNTIME_DIRECTORY`` when there is one (wiped by systemd at start), else a temp folder."""
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    base = Path(runtime) if runtime else Path(tempfile.gettempdir()) / f"cmsync-worker-{os.getuid()}"
    return base / "prometheus"


def exec_workers(
    config: str, *, processes: int, threads: int, metrics_listen: str, shutdown_timeout_seconds: int
) -> None:
    """Replace this process with Dramatiq's supervisor running cmsync's actors (does not return)."""
    folder = prometheus_folder()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
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
