"""Reading CM's paged results lazily: one page is fetched only when the caller has read the one before,
or, reading ahead, while the caller works through the ones before (a bounded number of pages at once,
handed out in page order), so CM's latency overlaps the caller's work and memory stays flat."""

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

Page = dict[str, Any]
"""A page as CM answers it: an object with ``Results`` and ``NumberOfPages``."""
PAGE_SIZE = 1000
"""CM's largest page, so a sync makes as few calls as it can."""
PAGES_AHEAD = 4
"""Pages fetched at once while the caller reads: enough to hide CM's latency behind the caller's work on
one page, few enough that a list read stays a handful of connections (CM publishes no rate limit for
these reads; a 429 still waits for ``X-RateLimit-Reset``) and a few thousand records in memory."""


def iterate_pages(fetch_page: Callable[[int], Page], *, ahead: int = 0) -> Iterator[dict[str, Any]]:
    """The ``Results`` of page 1, 2, … until ``NumberOfPages`` (or an empty page). With ``ahead``, up to
    that many of the next pages are fetched on threads while the caller reads this one."""
    for page in read_pages(fetch_page, ahead=ahead):
        yield from page.get("Results") or []


def read_pages(fetch_page: Callable[[int], Page], *, ahead: int = 0) -> Iterator[Page]:
    """Page 1, 2, … whole, until ``NumberOfPages`` (or an empty page), read ahead as ``iterate_pages``."""
    if ahead:
        yield from _read_ahead(fetch_page, ahead)
        return
    number = 1
    while True:
        page = fetch_page(number)
        yield page
        if _last(page, number):
            return
        number += 1


def _pages(page: Page) -> int:
    return int(page.get("NumberOfPages") or 0)


def _last(page: Page, number: int) -> bool:
    return not page.get("Results") or number >= _pages(page)


def _read_ahead(fetch_page: Callable[[int], Page], ahead: int) -> Iterator[Page]:
    """Page 1 tells how many pages there are; then the next ``ahead`` pages are always in flight."""
    reader = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="cm-page")
    coming: deque[Future[Page]] = deque()
    try:
        page = reader.submit(fetch_page, 1).result()
        number, requested, total = 1, 1, _pages(page)
        while True:
            total = max(total, _pages(page))
            while len(coming) < ahead and requested < total and not _last(page, number):
                requested += 1
                coming.append(reader.submit(fetch_page, requested))
            yield page
            if _last(page, number) or not coming:
                return
            page = coming.popleft().result()
            number += 1
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
