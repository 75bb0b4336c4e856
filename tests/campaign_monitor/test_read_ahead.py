"""Paged reads: reading ahead fetches the next pages while the caller works on this one, never more than
the given number ahead, and hands out every record once, in order; a plain read fetches a page only when
asked."""

import threading
from typing import Any

from cmsync.clients.campaign_monitor.paging import iterate_pages


class Pages:
    """Six pages of three records, recording which page was fetched when; a page may be held back."""

    def __init__(self, count: int = 6) -> None:
        self.count = count
        self.fetched: list[int] = []
        self.changed = threading.Condition()
        self.held: set[int] = set()

    def __call__(self, number: int) -> dict[str, Any]:
        with self.changed:
            self.fetched.append(number)
            self.changed.notify_all()
            self.changed.wait_for(lambda: number not in self.held, timeout=5)
        return {"Results": [f"josé.{number}.{n}@example.com" for n in range(3)], "NumberOfPages": self.count}

    def wait_for(self, count: int) -> list[int]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.fetched) >= count, timeout=5)
            return sorted(self.fetched)

    def release(self, number: int) -> None:
        with self.changed:
            self.held.discard(number)
            self.changed.notify_all()


EVERY = [f"josé.{page}.{n}@example.com" for page in range(1, 7) for n in range(3)]


def test_reading_ahead_fetches_the_next_pages_while_this_one_is_read() -> None:
    pages = Pages()
    records = iterate_pages(pages, ahead=3)
    first = next(records)
    assert pages.wait_for(4) == [1, 2, 3, 4]
    assert sorted(pages.fetched) == [1, 2, 3, 4], "never more than three pages ahead"
    assert [next(records) for _ in range(3)] == EVERY[1:4]
    assert pages.wait_for(5) == [1, 2, 3, 4, 5]
    assert [first, *EVERY[1:4], *records] == EVERY
    assert sorted(pages.fetched) == [1, 2, 3, 4, 5, 6]


def test_pages_read_ahead_are_handed_out_in_order_whichever_answers_first() -> None:
    pages = Pages()
    pages.held = {2}
    records = iterate_pages(pages, ahead=3)
    assert [next(records) for _ in range(3)] == EVERY[:3]
    assert pages.wait_for(4) == [1, 2, 3, 4]
    pages.release(2)
    assert [*records] == EVERY[3:]


def test_a_single_page_is_fetched_once() -> None:
    pages = Pages(count=1)
    assert [*iterate_pages(pages, ahead=3)] == EVERY[:3]
    assert pages.fetched == [1]


def test_a_plain_read_fetches_a_page_only_when_it_is_reached() -> None:
    pages = Pages()
    records = iterate_pages(pages)
    assert [next(records) for _ in range(3)] == EVERY[:3]
    assert pages.fetched == [1]
    assert [*records] == EVERY[3:]
    assert pages.fetched == [1, 2, 3, 4, 5, 6]
