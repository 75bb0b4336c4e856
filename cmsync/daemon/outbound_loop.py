"""Runs the outbound poll every ``outbound.poll_interval``, start to start, on a thread of its own.

Outbound runs in the supervisor rather than on the job queue, where an hour-long list import could hold
a poll back; ``poll_once`` reads the settings of the engine installed at that moment, so a reload takes
effect at the next poll. After each poll it sets ``cmsync_outbound_active``. A poll that raises (the state
store is down) is logged and retried soon, and the supervisor starts the thread again should it ever end.
"""

import threading
import time

from cmsync.daemon import metrics
from cmsync.logs import get_logger
from cmsync.workers.engine import current
from cmsync.workers.outbound import poll_once
from cmsync.workers.state import StateStoreUnavailableError

log = get_logger(__name__)
RETRY_SECONDS = 5.0
"""The wait before the next poll after one that raised, when that is sooner than the interval."""

OFF_REASONS = ("disconnected", "disable_triggers")
"""Why a poll did nothing when outbound is off (rather than another poller holding the lease)."""


class OutboundLoop:
    """The poller's thread; ``stop()`` lets a poll in progress finish (bounded by ``timeout``)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbound", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            engine = current()
            interval = engine.settings.outbound.poll_interval.total_seconds()
            try:
                report = poll_once(engine)
            except StateStoreUnavailableError as error:
                log.debug("outbound poll waits for the state store", error=str(error))
                interval = min(interval, RETRY_SECONDS)
            except Exception:
                log.exception("outbound poll failed; the next poll retries")
                interval = min(interval, RETRY_SECONDS)
            else:
                metrics.OUTBOUND_ACTIVE.set(0 if report.reason in OFF_REASONS else 1)
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> "OutboundLoop":
        """Start the thread, or a new one when the previous one ended."""
        if self._thread.ident is not None:
            self._thread = threading.Thread(target=self._run, name="outbound", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
