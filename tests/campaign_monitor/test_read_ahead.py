"""Paged reads: reading ahead fetches the next page while the caller works on this one, never more than
one page ahead, and hands out every record once, in order; a plain read fetches a page only when asked."""

import threading
from typing import Any

from cmsync.clients.campaign_monitor.paging import iterate_pages


class Pages:
    """Three pages of three records, recording which page was fetched when."""

    def __init__(self) -> None:
        self.fetched: list[int] = []
        self.changed = threading.Condition()

    def __call__(self, number: int) -> dict[str, Any]:
        with self.changed:
            self.fetched.append(number)
            self.changed.notify_all()
        return {"Results": [f"josé.{number}.{n}@example.com" for n in range(3)], "NumberOfPages": 3}

    def wait_for(self, count: int) -> list[int]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.fetched) >= count, timeout=5)
            return list(self.fetched)


EVERY = [f"josé.{page}.{n}@example.com" for page in (1, 2, 3) for n in range(3)]


def test_reading_ahead_fetches_the_next_page_while_this_one_is_read() -> None:
    pages = Pages()
    records = iterate_pages(pages, read_ahead=True)
    first = next(records)
    assert pages.wait_for(2) == [1, 2]
    assert pages.fetched == [1, 2]
    assert [first, *records] == EVERY
    assert pages.fetched == [1, 2, 3]


def test_a_plain_read_fetches_a_page_only_when_it_is_reached() -> None:
    pages = Pages()
    records = iterate_pages(pages)
    assert [next(records) for _ in range(3)] == EVERY[:3]
    assert pages.fetched == [1]
    assert [*records] == EVERY[3:]
    assert pages.fetched == [1, 2, 3]
