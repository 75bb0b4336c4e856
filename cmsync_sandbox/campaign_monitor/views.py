"""Sorted views of a changing collection, for paging in any order with a ``date`` filter.

A view is built on first use (a sort) and kept until the collection changes, so serving page after page
of a million records costs a binary search and a slice. Ties sort by the record's email key, so pages never
overlap or skip when many records share a date.
"""

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar


class Dated(Protocol):
    """What a pageable record has: a date (instant) and an email key for ties."""

    @property
    def date(self) -> int: ...

    @property
    def key(self) -> str: ...


Record = TypeVar("Record", bound=Dated)
SortKey = Callable[[Any], Any]

_BY_DATE = attrgetter("date")
_BY_KEY = attrgetter("key")


class SortedViews(Generic[Record]):
    """Views of ``source()`` sorted by date or by one of ``orderings`` (each then by email key)."""

    def __init__(self, source: Callable[[], Iterable[Record]], orderings: Mapping[str, SortKey]) -> None:
        self._source = source
        self._orderings = orderings
        self._by_date: list[Record] | None = None
        self._dates: list[int] = []
        self._cache: dict[tuple[str, int | None], Sequence[Record]] = {}

    def changed(self) -> None:
        """Forget every view: the collection gained, lost or reordered a record."""
        self._by_date = None
        self._dates = []
        self._cache.clear()

    def select(self, order: str, since: int | None) -> tuple[Sequence[Record], int]:
        """Records dated ``since`` or later, ascending by ``order``: a sequence and the index they start at."""
        by_date = self._date_view()
        start = bisect_left(self._dates, since) if since is not None else 0
        if order == "date":
            return by_date, start
        cached = self._cache.get((order, since))
        if cached is None:
            if len(self._cache) > 32:
                self._cache.clear()
            cached = sorted(by_date[start:], key=_BY_KEY)
            cached.sort(key=self._orderings[order])
            self._cache[(order, since)] = cached
        return cached, 0

    def _date_view(self) -> list[Record]:
        if self._by_date is None:
            records = sorted(self._source(), key=_BY_KEY)
            records.sort(key=_BY_DATE)
            self._by_date = records
            self._dates = [record.date for record in records]
        return self._by_date


def page_of(records: Sequence[Record], start: int, number: int, size: int, descending: bool) -> list[Record]:
    """Page ``number`` (1-based) of ``size`` records from ``records[start:]``, in either direction."""
    total = len(records) - start
    first = (number - 1) * size
    if first >= total:
        return []
    if not descending:
        return list(records[start + first : start + min(first + size, total)])
    high = len(records) - first
    low = max(start, high - size)
    return list(reversed(records[low:high]))
