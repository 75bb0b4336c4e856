"""The sync's labelled series whose label values are known in advance, created at zero when a process starts.

A labelled counter appears only with its first increment. Until then Grafana shows "No data", and
``increase()`` cannot see that first step, so the first rejected record or CM 429 would fire no alert.
Creating the series at zero avoids both. Label values that depend on the data (API endpoints) appear
with their first call.
"""

from dataclasses import fields
from typing import get_args

from cmsync.mapping.records import EXTERNAL_ID
from cmsync.metrics import (
    API_RETRIES,
    OUTBOUND_CHANGES,
    OUTBOUND_FALLBACKS,
    OUTBOUND_POLLS,
    OUTBOUND_PUSHES,
    OUTBOUND_SKIPPED,
    OUTBOUND_SOURCE,
    RECORDS,
)
from cmsync.outbound.planning import PushKind
from cmsync.sync.streams import StreamTotals

RETRY_REASONS = {
    "campaign_monitor": ("rate_limited", "server_error", "connection", "session_expired"),
    "salesforce": ("rate_limited", "server_error", "connection", "lock", "session_expired"),
}
PUSH_RESULTS = ("ok", "not_member", "rejected")
POLL_OUTCOMES = ("ok", "failed", "not_run")
SKIP_REASONS = ("own_write", "bulk", "opted_out", "unchanged", "no_email", "converted")
CHANGED_OBJECTS = ("Contact", "Lead", "Account")


def create_known_series() -> None:
    """Create records by object and outcome, retries by system and reason, and the outbound series, at zero."""
    for object_name in EXTERNAL_ID:
        for outcome in fields(StreamTotals):
            RECORDS.labels(object_name, outcome.name)
    for system, reasons in RETRY_REASONS.items():
        for reason in reasons:
            API_RETRIES.labels(system=system, reason=reason)
    for kind in get_args(PushKind):
        for result in PUSH_RESULTS:
            OUTBOUND_PUSHES.labels(kind, result)
    for outcome in POLL_OUTCOMES:
        OUTBOUND_POLLS.labels(outcome)
    for reason in SKIP_REASONS:
        OUTBOUND_SKIPPED.labels(reason)
    for object_name in CHANGED_OBJECTS:
        OUTBOUND_CHANGES.labels(object_name)
    for source in ("cdc", "poll"):
        OUTBOUND_SOURCE.labels(source)
    for reason in ("replay_expired", "cdc_unavailable"):
        OUTBOUND_FALLBACKS.labels(reason)
