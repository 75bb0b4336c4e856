"""What cmsync last pushed for each record on each list: the state it left the subscriber in, the address,
and a digest of what it sent. It keeps pushes idempotent and few: a push equal to the last one is not sent
again (an edit of an unmapped field costs no CM call), a poll retried after a failure skips what already
went through, and a record cmsync subscribed counts as a member before the next main sync records it.

Entries live in the state store's content hashes, stream ``outbound:<list id>``, keyed by record Id.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cmsync.state import StateStore

PushedState = Literal["subscribed", "unsubscribed", "deleted"]


@dataclass(frozen=True)
class Entry:
    state: PushedState
    email: str
    digest: str


def digest(state: PushedState, content: Any) -> str:
    """A short digest of what a push sends (its state and body)."""
    text = json.dumps([state, content], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _stream(list_id: str) -> str:
    return f"outbound:{list_id}"


class Ledger:
    """The entries of the records and lists one chunk of changes touches; ``record`` keeps new ones until
    ``flush`` writes them."""

    def __init__(self, store: StateStore, list_ids: Iterable[str], record_ids: Iterable[str]) -> None:
        self.store = store
        ids = list(record_ids)
        self._entries: dict[tuple[str, str], Entry] = {}
        for list_id in set(list_ids):
            for record_id, text in store.content_hashes.get(_stream(list_id), ids).items():
                self._entries[(list_id, record_id)] = Entry(**json.loads(text))
        self._pending: dict[str, dict[str, str]] = {}

    def get(self, list_id: str, record_id: str) -> Entry | None:
        return self._entries.get((list_id, record_id))

    def record(self, list_id: str, record_id: str, entry: Entry) -> None:
        self._entries[(list_id, record_id)] = entry
        self._pending.setdefault(list_id, {})[record_id] = json.dumps(asdict(entry))

    def flush(self) -> None:
        for list_id, entries in self._pending.items():
            self.store.content_hashes.save(_stream(list_id), entries)
        self._pending.clear()
