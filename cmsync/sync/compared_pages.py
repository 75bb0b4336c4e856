"""Which CM pages a full pass of a list may leave alone, and what it keeps of the pages it compares
(DESIGN.md §4, "Pages left alone").

A page is left alone when all of these hold, so that comparing it again could write nothing:
- its body's fingerprint, and the shape of the records built from it, are as when it was last compared;
- the digests Salesforce holds (brought up to date by ``holdings`` first) under its seen marker are as
  many as its members and XOR to what was built from them: no member was edited, deleted, refused or
  found again on another page since;
- the directory was not reloaded since, and none of its members' emails changed holders since (a page
  whose members name a record by Id is compared again after any directory change);
- no page compared earlier in this pass had one of its members (a member read under two states).
Its members' digests keep its marker, so they count as found; every digest under no marker of this pass
is gone from CM.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from hashlib import blake2b
from typing import NamedTuple

from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.clients.campaign_monitor.subscriber_pages import SubscriberPage
from cmsync.mapping import records
from cmsync.state import StateStore
from cmsync.state.directory import email_digest
from cmsync.state.list_pages import ListPage

MEMBER_SHAPE = 1
"""Raise when the record built from the same CM member changes (fields, their spelling, the digest): a page
compared under another shape is compared again. ``tests/sync/test_compared_pages.py`` pins it."""
_MOST_TOUCHED = 200_000
"""Member keys a pass remembers having compared (only while a kept page may still be left alone); past that
it compares every later page (memory stays flat)."""


class _Compared(NamedTuple):
    """A page compared in this pass, as it will be kept (its marker by name until the pass ends)."""

    state: str
    number: int
    body: bytes
    members: int
    named: bool
    marker: str
    latest: str | None


def shape(list_id: str, offset: timedelta | None) -> bytes:
    """What besides a page's body shapes the records built from it: the list, the client's time zone
    offset and ``MEMBER_SHAPE``."""
    return blake2b(f"{MEMBER_SHAPE}\n{list_id}\n{offset}".encode(), digest_size=16).digest()


@dataclass
class ComparedPages:
    """One full pass of one list: which pages it leaves alone (``unchanged``), which it compares
    (``compared``), then what it keeps of them (``close``)."""

    store: StateStore
    list_id: str
    stream: str
    shape: bytes
    directory: int
    reloaded: int
    usable: bool
    run_id: int
    kept: dict[tuple[str, int], ListPage]
    tally: dict[int, tuple[int, int]]
    changes: dict[bytes, int]
    pages: list[ListPage] = field(default_factory=list)
    left_alone: int = 0
    _pending: list[_Compared] = field(default_factory=list)
    _touched: set[str] = field(default_factory=set)

    @classmethod
    def open(
        cls, store: StateStore, run_id: int, list_id: str, stream: str, offset: timedelta | None, usable: bool
    ) -> "ComparedPages":
        """The pages of ``stream`` kept by the last pass; ``usable`` False compares every page (cm2sf
        mappings write to Contacts and Leads, which no digest covers)."""
        versions = store.facts.directory_version().get() or {"version": 0, "reloaded": 0}
        kept = store.list_pages.get(stream) if usable else {}
        oldest = min((page.directory for page in kept.values()), default=int(versions["version"]))
        return cls(
            store=store,
            list_id=list_id,
            stream=stream,
            shape=shape(list_id, offset),
            directory=int(versions["version"]),
            reloaded=int(versions["reloaded"]),
            usable=usable,
            run_id=run_id,
            kept=kept,
            tally=store.digests.tally(stream) if kept else {},
            changes=store.directory.changes_since(oldest) if kept else {},
        )

    def marker(self, state: SubscriberState, page: SubscriberPage) -> str:
        """The seen marker the members of ``page`` are compared under in this pass."""
        return f"{self.list_id}:{self.run_id}:{state.value}:{page.number}"

    def unchanged(self, state: SubscriberState, page: SubscriberPage) -> ListPage | None:
        """The page as kept when ``page`` may be left alone (then it is kept as it was), else None."""
        kept = self.kept.get((state.value, page.number))
        if (
            not self.usable
            or kept is None
            or kept.body != page.fingerprint
            or kept.shape != self.shape
            or kept.directory < self.reloaded
            or kept.members != page.records
            or self.tally.get(kept.marker, (0, 0)) != (kept.members, int.from_bytes(kept.held))
            or self._relinked(kept, page)
            or (self._touched and any(key in self._touched for key in self._keys(page)))
        ):
            return None
        self.pages.append(kept)
        self.left_alone += 1
        return kept

    def compared(
        self, state: SubscriberState, page: SubscriberPage, keys: list[str], named: bool, latest: str | None
    ) -> None:
        """Note that ``page`` was compared (its members' ``keys``; ``named``: one names a record by Id; the
        latest change of state among them)."""
        self._pending.append(
            _Compared(state.value, page.number, page.fingerprint, page.records, named, self.marker(state, page), latest)
        )
        if not (self.usable and self.kept):
            return
        if len(self._touched) + len(keys) > _MOST_TOUCHED:
            self.usable = False
            self._touched.clear()
        else:
            self._touched.update(keys)

    def close(self, built: dict[int, int]) -> set[int]:
        """Keep the pages of this pass (``built``: per marker, the XOR of the digests the writers compared
        under it); return the markers under which members were found."""
        digests = self.store.digests
        for page in self._pending:
            marker = digests.marker(page.marker)
            folded = built.get(marker, 0)
            self.pages.append(
                ListPage(page.state, page.number, page.body, self.shape, self.directory, page.named, marker,
                         page.members, folded.to_bytes(16), page.latest)
            )  # fmt: skip
        found = {page.marker for page in self.pages}
        self.store.list_pages.replace(self.stream, self.pages)
        return found

    def forget_unused(self, found: set[int]) -> None:
        """Forget the markers of this list no page holds any more, and the directory changes no page needs."""
        self.store.digests.forget_markers(f"{self.list_id}:", found)
        oldest = self.store.list_pages.oldest_directory()
        if oldest is not None:
            self.store.directory.forget_changes(oldest)

    @property
    def compared_count(self) -> int:
        """Pages compared so far in this pass."""
        return len(self._pending)

    def _relinked(self, kept: ListPage, page: SubscriberPage) -> bool:
        """True when the directory changed since ``kept`` was linked in a way that may change its links."""
        newer = {digest for digest, version in self.changes.items() if version > kept.directory}
        if not newer:
            return False
        if kept.named:
            return True
        return any(email_digest(email) in newer for email in page.emails())

    def _keys(self, page: SubscriberPage) -> list[str]:
        return [records.member_key(self.list_id, email) for email in page.emails()]
