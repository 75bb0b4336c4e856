"""The supervisor's Prometheus metrics, and its HTTP endpoint: ``/metrics`` and ``/healthz``.

The supervisor is one process, so it uses the default registry (no multiprocess folder); with the
embedded broker the workers' metrics live in the same process and appear here too.
"""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Info, generate_latest

from cmsync import __version__
from cmsync.state import FINISHED
from cmsync.workers.known_series import create_known_series as create_known_systems_series

BUILD = Info("cmsync_build", "The cmsync version this process runs.")
BUILD.info({"version": __version__})
RUN_IN_PROGRESS = Gauge("cmsync_run_in_progress", "1 while a main sync run is in flight.")
LAST_SUCCESS = Gauge(
    "cmsync_last_success_timestamp_seconds", "When the last main sync that succeeded (or partly) finished."
)
LAST_RUN_DURATION = Gauge("cmsync_last_run_duration_seconds", "How long the last finished main sync took.")
RUNS = Counter("cmsync_runs", "Main sync runs that finished, by outcome.", ["status"])
NEXT_RUN = Gauge("cmsync_next_run_timestamp_seconds", "When the next scheduled main sync is due (0: none).")
SCHEDULER_LAG = Gauge("cmsync_scheduler_lag_seconds", "How late the last scheduled job started after it was due.")
SCHEDULED_JOB_ERRORS = Counter("cmsync_scheduled_job_errors", "Scheduled jobs that raised, by job.", ["job"])
RELOADS = Counter("cmsync_reloads", "Configuration reloads (SIGHUP), by result.", ["result"])
RELOAD_SUCCESSFUL = Gauge(
    "cmsync_config_last_reload_successful",
    "0 after a reload was refused (the previous configuration still runs); 1 at start and after a reload applied.",
)
SYNC_INTERVAL = Gauge(
    "cmsync_sync_interval_seconds", "The Import Frequency: seconds between scheduled main syncs (0: never)."
)
ENQUEUE_FAILURES = Counter("cmsync_enqueue_failures", "Messages that could not be queued, by job.", ["job"])
CONNECTED = Gauge("cmsync_connected", "1 when connected, 0 after `cmsync disconnect`.")
OUTBOUND_ACTIVE = Gauge(
    "cmsync_outbound_active",
    "1 while the outbound poller pushes Salesforce changes; 0 while disconnected or with disable_triggers on.",
)
LOOP_HEARTBEAT = Gauge("cmsync_supervisor_heartbeat_timestamp_seconds", "When the supervisor loop last went round.")
REJECTED_RECORDS = Gauge("cmsync_rejected_records", "Records currently kept as rejected, to be retried.")
STATE_STORE_UP = Gauge("cmsync_state_store_up", "1 while the state store answers, 0 during an outage.")
STATE_STORE_OUTAGES = Counter("cmsync_state_store_outages", "State store outages the supervisor rode out or is in.")
THREAD_RESTARTS = Counter(
    "cmsync_thread_restarts", "Supervisor threads started again after they ended, by thread.", ["thread"]
)


def create_known_series() -> None:
    """Create the supervisor's labelled series (and the sync's, which run here too) at zero.

    Runs by status and reloads by result then read 0 rather than "No data" on a fresh install, and a
    first failed run or refused reload is an increase that alert rules see.
    """
    for status in FINISHED:
        RUNS.labels(status)
    for result in ("applied", "refused"):
        RELOADS.labels(result)
    SCHEDULED_JOB_ERRORS.labels("main_sync")
    THREAD_RESTARTS.labels("outbound")
    ENQUEUE_FAILURES.labels("main_sync")
    create_known_systems_series()


Health = Callable[[], tuple[bool, str]]


def connection_note() -> str:
    """What ``/healthz`` adds once the supervisor has seen cmsync disconnected: healthy, but nothing syncs."""
    observed = REGISTRY.get_sample_value("cmsync_supervisor_heartbeat_timestamp_seconds")
    disconnected = REGISTRY.get_sample_value("cmsync_connected") == 0
    return "; disconnected: nothing syncs until `cmsync connect`" if observed and disconnected else ""


class _Handler(BaseHTTPRequestHandler):
    health: ClassVar[Health]

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            healthy, text = type(self).health()
            self._answer(200 if healthy else 503, f"{text}{connection_note()}\n".encode(), "text/plain")
        else:
            self._answer(404, b"not found: try /metrics or /healthz\n", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a log line each."""


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` (200 while ``health`` says so, else 503) from a thread."""

    def __init__(self, listen: str, health: Health) -> None:
        host, _, port = listen.rpartition(":")
        handler = type("Handler", (_Handler,), {"health": staticmethod(health)})
        self._server = ThreadingHTTPServer((host.strip("[]"), int(port)), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
