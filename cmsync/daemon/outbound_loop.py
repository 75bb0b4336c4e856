"""Runs the outbound poll every ``outbound.poll_interval``, start to start, on a thread of its own.

Outbound runs in the supervisor rather than on the job queue, where an hour-long list import could hold
a poll back; ``poll_once`` never raises, and reads the settings of the engine installed at that moment,
so a reload takes effect at the next poll. After each poll it sets ``cmsync_outbound_active``.
"""

import threading
import time

from cmsync.daemon import metrics
from cmsync.workers.engine import current
from cmsync.workers.outbound import poll_once

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
            report = poll_once(engine)
            metrics.OUTBOUND_ACTIVE.set(0 if report.reason in OFF_REASONS else 1)
            interval = engine.settings.outbound.poll_interval.total_seconds()
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def start(self) -> "OutboundLoop":
        self._thread.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
