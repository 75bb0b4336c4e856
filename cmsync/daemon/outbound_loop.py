"""Runs outbound on a thread of its own: change events as they come (``outbound.source: cdc``), or a poll
every ``outbound.poll_interval``, start to start (``poll``, or ``cdc`` when the org cannot give change
events: the reason is logged, counted and shown by ``cmsync status``, and change events are tried again
after ``CDC_RETRY`` or a reload).

Outbound runs in the supervisor rather than on the job queue, where an hour-long list import could hold
it back; each source reads the settings of the Systems installed at that moment, so a reload takes effect at
once. It sets ``cmsync_outbound_active`` and ``cmsync_outbound_source``. A poll or a stream that raises (the
state store is down) is logged and tried again soon, and the supervisor starts the thread again should it
ever end.
"""

import threading
import time

from cmsync.daemon import metrics
from cmsync.logs import get_logger
from cmsync.metrics import OUTBOUND_FALLBACKS, OUTBOUND_SOURCE
from cmsync.outbound import poll_once
from cmsync.outbound.cdc import SourceUnavailableError, note_source, run_cdc
from cmsync.outbound.cdc_progress import forget_progress
from cmsync.outbound.poller import STREAMS
from cmsync.state import StateStoreUnavailableError
from cmsync.systems import Systems, current

log = get_logger(__name__)
RETRY_SECONDS = 5.0
"""The wait before trying again after a poll or a stream that raised, when that is sooner than the interval."""
OFF_REASONS = ("disconnected", "disable_triggers")
"""Why a poll did nothing when outbound is off (rather than another poller holding the lease)."""
CDC_RETRY = 600.0
"""Seconds of polling before change events are tried again after they could not be had."""


class OutboundLoop:
    """The outbound thread; ``stop()`` lets a poll or a batch of events in progress finish (bounded by ``timeout``)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbound", daemon=True)
        self._polling_since: tuple[Systems, float] | None = None
        self._noted: Systems | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            systems = current()
            try:
                if self._wants_cdc(systems):
                    self._change_events(systems)
                else:
                    self._poll(systems)
            except StateStoreUnavailableError as error:
                log.debug("outbound waits for the state store", error=str(error))
                self._stop.wait(RETRY_SECONDS)

    def _wants_cdc(self, systems: Systems) -> bool:
        if systems.settings.outbound.source != "cdc":
            return False
        fell_back = self._polling_since
        return fell_back is None or fell_back[0] is not systems or time.monotonic() - fell_back[1] >= CDC_RETRY

    def _change_events(self, systems: Systems) -> None:
        OUTBOUND_SOURCE.labels("cdc").set(1)
        OUTBOUND_SOURCE.labels("poll").set(0)
        metrics.OUTBOUND_ACTIVE.set(1)
        try:
            ended = run_cdc(systems, self._stop)
        except SourceUnavailableError as unavailable:
            reason = str(unavailable)
            log.warning("outbound polls instead of following change events", reason=reason)
            OUTBOUND_FALLBACKS.labels("cdc_unavailable").inc()
            note_source(systems, "poll", reason)
            self._polling_since = (systems, time.monotonic())
            return
        except StateStoreUnavailableError:
            raise
        except Exception:
            log.exception("outbound change events failed; trying again")
            self._stop.wait(RETRY_SECONDS)
            return
        self._polling_since = None
        if ended.why == "off":
            metrics.OUTBOUND_ACTIVE.set(0)
        if ended.why in ("off", "lease"):
            self._stop.wait(systems.settings.outbound.poll_interval.total_seconds())

    def _poll(self, systems: Systems) -> None:
        OUTBOUND_SOURCE.labels("poll").set(1)
        OUTBOUND_SOURCE.labels("cdc").set(0)
        if self._noted is not systems:
            forget_progress(systems, STREAMS)  # replay IDs from before the polling would replay what it pushed
            if systems.settings.outbound.source == "poll":
                note_source(systems, "poll", None)
            self._noted = systems
        started = time.monotonic()
        interval = systems.settings.outbound.poll_interval.total_seconds()
        try:
            report = poll_once(systems)
        except StateStoreUnavailableError:
            raise
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
