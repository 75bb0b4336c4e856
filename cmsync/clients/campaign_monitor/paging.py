"""Reading CM's paged results lazily: one page is fetched only when the caller has read the one before,
or, reading ahead, while the caller works through the ones before (a bounded number of pages at once,
handed out in page order), so CM's latency overlaps the caller's work and memory stays flat."""

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

Page = dict[str, Any]
"""A page as CM answers it: an object with ``Results`` and ``NumberOfPages``."""
Fetched = TypeVar("Fetched")
"""A page as a reader fetches it: parsed, or its body with what it says of the list's size."""
PAGE_SIZE = 1000
"""CM's largest page, so a sync makes as few calls as it can."""
PAGES_AHEAD = 4
"""Pages fetched at once while the caller reads: enough to hide CM's latency behind the caller's work on
one page, few enough that a list read stays a handful of connections (CM publishes no rate limit for
these reads; a 429 still waits for ``X-RateLimit-Reset``) and a few thousand records in memory."""


def iterate_pages(fetch_page: Callable[[int], Page], *, ahead: int = 0) -> Iterator[dict[str, Any]]:
    """The ``Results`` of page 1, 2, … until ``NumberOfPages`` (or an empty page). With ``ahead``, up to
    that many of the next pages are fetched on threads while the caller reads this one."""
    for page in read_pages(fetch_page, page_counts, ahead=ahead):
        yield from page.get("Results") or []


def page_counts(page: Page) -> tuple[int, int]:
    """A page's records and the list's number of pages, as a parsed page says them."""
    return len(page.get("Results") or []), int(page.get("NumberOfPages") or 0)


def read_pages(
    fetch_page: Callable[[int], Fetched], counts: Callable[[Fetched], tuple[int, int]], *, ahead: int = 0
) -> Iterator[Fetched]:
    """Page 1, 2, … whole, as ``fetch_page`` gives them, until the number of pages ``counts`` tells (or an
    empty page), read ahead as ``iterate_pages``."""
    if ahead:
        yield from _read_ahead(fetch_page, counts, ahead)
        return
    number = 1
    while True:
        page = fetch_page(number)
        yield page
        if _last(counts(page), number):
            return
        number += 1


def _last(counts: tuple[int, int], number: int) -> bool:
    records, pages = counts
    return not records or number >= pages


def _read_ahead(
    fetch_page: Callable[[int], Fetched], counts: Callable[[Fetched], tuple[int, int]], ahead: int
) -> Iterator[Fetched]:
    """Page 1 tells how many pages there are; then the next ``ahead`` pages are always in flight."""
    reader = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="cm-page")
    coming: deque[Future[Fetched]] = deque()
    try:
        page = reader.submit(fetch_page, 1).result()
        number, requested, total = 1, 1, 0
        while True:
            said = counts(page)
            total = max(total, said[1])
            while len(coming) < ahead and requested < total and not _last(said, number):
                requested += 1
                coming.append(reader.submit(fetch_page, requested))
            yield page
            if _last(said, number) or not coming:
                return
            page = coming.popleft().result()
            number += 1
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
