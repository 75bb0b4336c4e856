"""The supervisor's lease: one supervisor per state store, renewed while its loop goes round (DESIGN.md §6)."""

from datetime import timedelta

SUPERVISOR_LEASE = "supervisor"
SUPERVISOR_LEASE_TTL = timedelta(seconds=30)
