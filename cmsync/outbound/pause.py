"""Outbound off and on again: it is off while cmsync is disconnected or ``disable_triggers`` is on.

While off, the poller forgets its watermarks and notes why it is off; saves made meanwhile are never
pushed, as the app's triggers do not run then. Once on again, the watermarks start at the moment it came
back on (when ``cmsync connect`` was recorded, or when the configuration that turned ``disable_triggers``
off was loaded), not at the first poll after it, so every save from that moment on is pushed.
"""

from datetime import datetime

from cmsync.outbound.feed import reset_cursors
from cmsync.systems import Systems


def pause(systems: Systems, reasons: list[str], streams: tuple[str, ...]) -> None:
    """Outbound is off for ``reasons`` (``disconnected``, ``disable_triggers``): forget the watermarks."""
    reset_cursors(systems, streams)
    known = set(systems.store.facts.outbound_paused.get() or ())
    if not known.issuperset(reasons):
        systems.store.facts.outbound_paused.set(sorted(known.union(reasons)))


def resumed_at(systems: Systems) -> datetime:
    """Where a watermark that is not set yet starts: when outbound came back on after the pause, or when the
    running configuration was loaded (a first start, or an object newly in scope after a reload)."""
    reasons = systems.store.facts.outbound_paused.get() or ()
    connected_at = systems.store.connection.changed_at() if "disconnected" in reasons else None
    if connected_at is None:
        return systems.built_at
    return max(connected_at, systems.built_at) if "disable_triggers" in reasons else connected_at


def resume(systems: Systems) -> None:
    """Every watermark has started: the pause is over."""
    systems.store.facts.outbound_paused.clear()
