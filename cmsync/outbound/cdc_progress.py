"""Where the change-event feed of one object resumes: the replay ID of the last event acted on, the commit
time it reached (where a catch-up poll starts if the replay ID has expired) and, for
``disable_bulk_triggers``, the transactions already started. Kept in the state store as
``store.facts.cdc_progress(object)``."""

import base64
from dataclasses import dataclass, field
from datetime import datetime

from cmsync.systems import Systems

KEPT_TRANSACTIONS = 500
"""Transaction keys remembered for ``disable_bulk_triggers`` (a transaction's events arrive together)."""


@dataclass
class CdcProgress:
    object_name: str
    replay_id: bytes | None = None
    at: datetime | None = None
    bulks: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, systems: Systems, object_name: str) -> "CdcProgress":
        saved = systems.store.facts.cdc_progress(object_name).get()
        if not isinstance(saved, dict):
            return cls(object_name)
        replay = base64.b64decode(saved["replay_id"]) if saved.get("replay_id") else None
        at = datetime.fromisoformat(saved["at"]) if saved.get("at") else None
        return cls(object_name, replay, at, list(saved.get("bulks", [])))

    def started(self, transaction_key: str) -> bool:
        """Whether the transaction was seen before; notes it as seen."""
        if transaction_key in self.bulks:
            return True
        self.bulks = [*self.bulks[-(KEPT_TRANSACTIONS - 1) :], transaction_key]
        return False

    def save(self, systems: Systems) -> None:
        systems.store.facts.cdc_progress(self.object_name).set(
            {
                "replay_id": base64.b64encode(self.replay_id).decode() if self.replay_id else None,
                "at": self.at.isoformat() if self.at else None,
                "bulks": self.bulks,
            },
        )


def forget_progress(systems: Systems, object_names: tuple[str, ...]) -> None:
    """Outbound is off: saves made meanwhile are never pushed, so no replay ID is kept across the pause."""
    for object_name in object_names:
        systems.store.facts.cdc_progress(object_name).clear()
