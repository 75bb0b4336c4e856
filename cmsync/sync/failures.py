"""Failures of a run's parts, kept so the run can end ``failed`` with the first reason."""

from cmsync.state import StateStore


def record_failure(store: StateStore, run_id: int, reason: str) -> None:
    """Count a failed part of run ``run_id`` and keep the first reason."""
    store.runs.count(run_id, "jobs", "failed")
    first = store.facts.run_error(run_id)
    if first.get() is None:
        first.set(reason)


def first_failure(store: StateStore, run_id: int) -> str | None:
    return store.facts.run_error(run_id).get()
