"""Records Campaign Monitor sent that cannot be read (a missing email, an impossible date, a name that is
not text): each is kept as rejected with its reason, counted in the run, and the rest of its page goes on.

They are kept under the stream that read them, with no payload (there is nothing to write). A list
member is keyed like the record it would have become (by a digest of what CM sent when it has no email):
once it reads well (a later run or full pass re-reads it) or a full pass no longer meets it, its
rejection is forgotten; if Salesforce then refuses the record, that rejection takes its place. A
tracking event is keyed by a digest of what CM sent (events have no ID); it cannot be read again once
its stream has moved past it, so the next import of the stream forgets it (it was logged and counted in
its run; ``cmsync reimport-tracking`` reads its window again).
"""

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cmsync.clients.campaign_monitor.errors import UnreadableRecordError
from cmsync.logs import get_logger
from cmsync.metrics import RECORDS
from cmsync.state import StateStore

log = get_logger(__name__)


def digest(error: UnreadableRecordError) -> str:
    """A short digest of what CM sent for an unreadable record (its key when it has no other)."""
    return (
        "unreadable-" + hashlib.sha256(json.dumps(error.record, sort_keys=True, default=str).encode()).hexdigest()[:16]
    )


@dataclass
class UnreadableRecords:
    """The unreadable records of one stream, each kept under the key ``key_of`` gives it."""

    store: StateStore
    run_id: int | None
    object_name: str
    stream: str
    key_of: Callable[[UnreadableRecordError], str]
    rejected: int = 0
    _pending: set[str] = field(default_factory=set)
    _met: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._pending = {
            rejection.key
            for rejection in self.store.rejections.list(self.stream)
            if rejection.object == self.object_name and rejection.payload is None
        }

    def reject(self, error: UnreadableRecordError) -> None:
        """Keep one unreadable record with its reason and count it as rejected."""
        key = self.key_of(error)
        reason = f"unreadable in Campaign Monitor's answer: {error}"
        self.store.rejections.add(self.object_name, key, self.stream, reason, None, self.run_id)
        if self.run_id is not None:
            self.store.runs.count(self.run_id, self.object_name, "rejected")
        RECORDS.labels(self.object_name, "rejected").inc()
        self.rejected += 1
        self._pending.add(key)
        self._met.add(key)
        log.warning("record rejected", stream=self.stream, key=key, reason=reason)

    def readable(self, keys: Iterable[str]) -> None:
        """These records read well now: forget their earlier unreadable rejections."""
        cured = self._pending.intersection(keys)
        if cured:
            self.store.rejections.resolve(self.object_name, cured)
            self._pending -= cured

    def forget_unmet(self) -> None:
        """After reading the whole stream: forget the unreadable records this read did not meet again."""
        self.readable(self._pending - self._met)

    def forget_earlier(self) -> None:
        """Forget the unreadable records earlier imports of this stream kept (they cannot be read again)."""
        self.readable(set(self._pending))
