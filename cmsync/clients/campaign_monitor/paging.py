"""Reading CM's paged results lazily: one page is fetched only when the caller has read the one before,
or, reading ahead, while the caller works through the one before (never more than one page ahead)."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PAGE_SIZE = 1000
"""CM's largest page, so a sync makes as few calls as it can."""


def iterate_pages(fetch_page: Callable[[int], dict[str, Any]], *, read_ahead: bool = False) -> Iterator[dict[str, Any]]:
    """The ``Results`` of page 1, 2, … until ``NumberOfPages`` (or an empty page). ``read_ahead`` fetches
    the next page on a thread while the caller reads this one, so CM's latency overlaps the caller's work."""
    if read_ahead:
        yield from _read_ahead(fetch_page)
        return
    number = 1
    while True:
        page = fetch_page(number)
        results = page.get("Results") or []
        yield from results
        if _last(page, number):
            return
        number += 1


def _last(page: dict[str, Any], number: int) -> bool:
    return not page.get("Results") or number >= int(page.get("NumberOfPages") or 0)


def _read_ahead(fetch_page: Callable[[int], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cm-page") as reader:
        number = 1
        coming = reader.submit(fetch_page, number)
        while True:
            page = coming.result()
            last = _last(page, number)
            if not last:
                coming = reader.submit(fetch_page, number + 1)
            yield from page.get("Results") or []
            if last:
                return
            number += 1
