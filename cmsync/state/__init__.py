"""The state store: what cmsync remembers between runs, on SQLite (one host) or PostgreSQL (several)."""

from cmsync.state.database import StateStoreUnavailableError
from cmsync.state.store import FINISHED, Rejection, Run, RunStart, RunStatus, StateStore

__all__ = ["FINISHED", "Rejection", "Run", "RunStart", "RunStatus", "StateStore", "StateStoreUnavailableError"]
