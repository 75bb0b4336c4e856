"""Failures of a run's parts, kept so the run can end ``failed`` with the first reason."""

from cmsync.state import StateStore


def record_failure(store: StateStore, run_id: int, reason: str) -> None:
    """Count a failed part of run ``run_id`` and keep the first reason."""
    store.count(run_id, "jobs", "failed")
    key = f"run_error:{run_id}"
    if store.fact(key) is None:
        store.set_fact(key, reason)


def first_failure(store: StateStore, run_id: int) -> str | None:
    reason: str | None = store.fact(f"run_error:{run_id}")
    return reason
