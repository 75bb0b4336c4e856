"""Reading CM's paged results lazily: one page is fetched only when the caller has read the one before."""

from collections.abc import Callable, Iterator
from typing import Any

PAGE_SIZE = 1000
"""CM's largest page, so a sync makes as few calls as it can."""


def iterate_pages(fetch_page: Callable[[int], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The ``Results`` of page 1, 2, … until ``NumberOfPages`` (or an empty page)."""
    number = 1
    while True:
        page = fetch_page(number)
        results = page.get("Results") or []
        yield from results
        if not results or number >= int(page.get("NumberOfPages") or 0):
            return
        number += 1
