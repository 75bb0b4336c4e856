"""A list's subscribers a CM page at a time, each page with a fingerprint of what it says, so a full pass can
leave alone a page that is as it was at the last one (DESIGN.md §4, "Pages left alone").

The fingerprint is the BLAKE2b of the body as CM sent it, less the list's running totals
(``TotalNumberOfRecords``, ``NumberOfPages``), which change whenever any page does: two reads of a page
agree exactly when its records, their fields and their order do. A quote inside a JSON string is always
escaped, so such a name in quotes followed by a colon and a number is a key, and CM's subscriber records
have no such key: it is the envelope's own.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

from cmsync.clients.campaign_monitor import records
from cmsync.clients.campaign_monitor.errors import UnreadableRecordError
from cmsync.clients.campaign_monitor.records import Subscriber

_RUNNING_TOTALS = (b'"TotalNumberOfRecords"', b'"NumberOfPages"')
_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_BACKSLASH = ord("\\")
_COLON = ord(":")


def fingerprint(body: bytes) -> bytes:
    """The 16-byte fingerprint of a page's body: its BLAKE2b without the running totals' members."""
    cuts = sorted(span for name in _RUNNING_TOTALS for span in _members(body, name))
    digest = blake2b(digest_size=16)
    view, start = memoryview(body), 0
    for begin, end in cuts:
        digest.update(view[start:begin])
        start = end
    digest.update(view[start:])
    return digest.digest()


def _members(body: bytes, name: bytes) -> Iterator[tuple[int, int]]:
    """The spans of ``"name": <number>`` in ``body`` where the name is an object's key."""
    at = body.find(name)
    while at != -1:
        end = _number_after(body, at + len(name)) if at == 0 or body[at - 1] != _BACKSLASH else None
        if end is not None:
            yield at, end
        at = body.find(name, at + len(name))


def _number_after(body: bytes, position: int) -> int | None:
    """Where ``: <digits>`` starting at ``position`` ends (spaces allowed around the colon), or None."""
    size = len(body)
    while position < size and body[position] in _SPACE:
        position += 1
    if position >= size or body[position] != _COLON:
        return None
    position += 1
    while position < size and body[position] in _SPACE:
        position += 1
    start = position
    while position < size and body[position] in _DIGITS:
        position += 1
    return position if position > start else None


def running_counts(body: bytes) -> tuple[int, int] | None:
    """``RecordsOnThisPage`` and ``NumberOfPages`` as a page's body says them, read without parsing it; None
    when it does not say both."""
    said = [_last_number(body, name) for name in (b'"RecordsOnThisPage"', b'"NumberOfPages"')]
    return None if None in said else (said[0] or 0, said[1] or 0)


def page_problem(body: bytes) -> str | None:
    """Why ``body`` is not a whole page (a JSON object saying its counts), or None; checked without parsing."""
    if not (body[:64].lstrip().startswith(b"{") and body[-64:].rstrip().endswith(b"}")):
        return f"the body is not JSON (a page is an object; {len(body)} bytes)"
    if running_counts(body) is None:
        return "expected a page that says RecordsOnThisPage and NumberOfPages"
    return None


def _last_number(body: bytes, name: bytes) -> int | None:
    spans = list(_members(body, name))
    if not spans:
        return None
    begin, end = spans[-1]
    digits = body[begin + len(name) : end].lstrip(_SPACE + b":")
    return int(digits)


@dataclass
class SubscriberPage:
    """One page of a list's subscribers in one state: its number, fingerprint, number of records and the
    list's number of pages it said, and its records as CM sent them (parsed when first asked for: a page
    left alone never is)."""

    number: int
    fingerprint: bytes
    records: int
    pages: int
    read: Callable[[], list[Any]]
    _items: list[Any] | None = None

    @property
    def items(self) -> list[Any]:
        """The page's records as CM sent them."""
        if self._items is None:
            self._items = self.read()
        return self._items

    def subscribers(self, unreadable: Callable[[UnreadableRecordError], None] | None) -> list[Subscriber]:
        """The page's subscribers; one that cannot be read goes to ``unreadable`` (the rest are still read),
        or is raised when it is None."""
        read: list[Subscriber] = []
        for item in self.items:
            try:
                read.append(records.subscriber(item))
            except UnreadableRecordError as error:
                if unreadable is None:
                    raise
                unreadable(error)
        return read

    def emails(self) -> list[str]:
        """The email of each record that has one as text, as CM wrote it."""
        return [
            email
            for item in self.items
            if isinstance(item, dict) and isinstance(email := item.get("EmailAddress"), str)
        ]
