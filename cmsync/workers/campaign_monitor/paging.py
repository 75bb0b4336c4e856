"""Reading CM's paged results lazily: one page is fetched only when the caller has read the one before,
or, reading ahead, while the caller works through the one before (never more than one page ahead)."""

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

PAGE_SIZE = 1000
"""CM's largest page, so a sync makes as few calls as it can."""


def iterate_pages(fetch_page: Callable[[int], dict[str, Any]], *, read_ahead: bool = False) -> Iterator[dict[str, Any]]:
    """The ``Results`` of page 1, 2, … until ``NumberOfPages`` (or an empty page). ``read_ahead`` fetches
    the next page on a thread while the caller reads this one, so CM's latency overlaps the caller's work."""
    if not read_ahead:
        yield from _pages(lambda number: _done(fetch_page(number)))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cm-page") as reader:
        yield from _pages(lambda number: reader.submit(fetch_page, number))


def _done(page: dict[str, Any]) -> "Future[dict[str, Any]]":
    future: Future[dict[str, Any]] = Future()
    future.set_result(page)
    return future


def _pages(start: Callable[[int], "Future[dict[str, Any]]"]) -> Iterator[dict[str, Any]]:
    """Pages from ``start(number)``; the next is started before this one's results are handed out."""
    number = 1
    coming = start(number)
    while True:
        page = coming.result()
        results = page.get("Results") or []
        last = not results or number >= int(page.get("NumberOfPages") or 0)
        if not last:
            coming = start(number + 1)
        yield from results
        if last:
            return
        number += 1
