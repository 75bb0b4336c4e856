"""The state store: what cmsync remembers between runs, on SQLite (one host) or PostgreSQL (several)."""

from cmsync.workers.state.database import StateStoreUnavailableError
from cmsync.workers.state.store import FINISHED, Rejection, Run, RunStart, RunStatus, StateStore

__all__ = ["FINISHED", "Rejection", "Run", "RunStart", "RunStatus", "StateStore", "StateStoreUnavailableError"]
