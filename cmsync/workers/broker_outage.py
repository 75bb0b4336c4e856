"""A RabbitMQ outage in two log lines: pika and Dramatiq log dozens of lines per process while the broker
is away (every reconnect attempt, every consumer restart); this filter moves those to debug and logs
one cmsync line when the outage starts and one, with its duration, when the broker answers again (a
probe connects every few seconds until it does)."""

import logging
import threading

import pika

from cmsync.logs import add_handler_filter
from cmsync.outage import OutageTracker

_DRAMATIQ_SIGNS = (
    "connection error",
    "Restarting consumer",
    "Failed to ack",
    "Failed to nack",
    "while closing",
    "Failed to requeue",
)
"""Dramatiq's lines that come from a lost broker connection."""
_PIKA_ROUTINE = ("Normal shutdown",)
"""Pika's warnings that come from cmsync closing a connection itself, not from an outage."""
_PROBE_SECONDS = (1.0, 2.0, 5.0, 10.0)


def _about_outage(record: logging.LogRecord) -> bool:
    if record.name.startswith("pika"):
        return record.levelno >= logging.WARNING and not any(text in record.getMessage() for text in _PIKA_ROUTINE)
    return record.name.startswith("dramatiq") and any(sign in record.getMessage() for sign in _DRAMATIQ_SIGNS)


class BrokerOutageLog(logging.Filter):
    """Lowers pika's and Dramatiq's connection-loss lines to debug and reports the outage once each way."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker = OutageTracker("broker")
        self.url: str | None = None
        self._probe: threading.Thread | None = None
        self._lock = threading.Lock()

    def watch(self, url: str) -> None:
        """Probe ``url`` to learn when an outage ends."""
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        if not _about_outage(record):
            return True
        self.tracker.failed(record.getMessage().splitlines()[0].split("; <socket")[0][:200])
        self._start_probe()
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)

    def _start_probe(self) -> None:
        with self._lock:
            if self.url is None or (self._probe is not None and self._probe.is_alive()):
                return
            self._probe = threading.Thread(target=self._wait_for_broker, args=(self.url,), daemon=True)
            self._probe.start()

    def _wait_for_broker(self, url: str) -> None:
        attempt = 0
        while self.tracker.down:
            threading.Event().wait(_PROBE_SECONDS[min(attempt, len(_PROBE_SECONDS) - 1)])
            attempt += 1
            parameters = pika.URLParameters(url)
            parameters.connection_attempts, parameters.retry_delay, parameters.socket_timeout = 1, 0, 3
            # Any failure to connect means the broker is still away.
            try:
                pika.BlockingConnection(parameters).close()
            except Exception:
                continue
            self.tracker.succeeded()


BROKER_OUTAGES = BrokerOutageLog()
add_handler_filter(BROKER_OUTAGES)
