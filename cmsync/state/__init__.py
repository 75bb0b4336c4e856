"""The state store: what cmsync remembers between runs, on SQLite (one host) or PostgreSQL (several)."""

from cmsync.state.database import StateStoreUnavailableError
from cmsync.state.facts import Fact
from cmsync.state.rejections import Rejection
from cmsync.state.runs import FINISHED, Run, RunStart, RunStatus
from cmsync.state.store import StateStore

__all__ = ["FINISHED", "Fact", "Rejection", "Run", "RunStart", "RunStatus", "StateStore", "StateStoreUnavailableError"]
