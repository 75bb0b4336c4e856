"""The CM pages a full pass compared, per list and member state, so the next pass can leave alone a page
that is as it was (DESIGN.md §4, "Pages left alone").

A page is kept with the fingerprint of its body as CM sent it, the fingerprint of everything else that
shaped its records (``shape``), the directory version it was linked against (and whether a member named a
record by Id), the seen marker its members' digests were given, how many members it had, the XOR of the
digests built from them and the latest change of state among them (where its state's watermark may move).
"""

from collections.abc import Callable, Iterable
from typing import NamedTuple

from cmsync.state.database import Database

StreamNumber = Callable[[str], int]
"""The number a digest stream is kept under (``Digests.stream_number``)."""


class ListPage(NamedTuple):
    """One compared page of one member state of a list."""

    state: str
    number: int
    body: bytes
    shape: bytes
    directory: int
    named: bool
    marker: int
    members: int
    held: bytes
    latest: str | None


class ListPages:
    """``store.list_pages.get(stream)`` and ``.replace(stream, pages)``; ``stream`` is a list's digest stream."""

    def __init__(self, database: Database, stream_id: StreamNumber) -> None:
        self.database = database
        self._stream_id = stream_id

    def get(self, stream: str) -> dict[tuple[str, int], ListPage]:
        """The pages the last full pass of ``stream`` compared, by state and page number."""
        with self.database.transaction() as transaction:
            rows = transaction.execute(
                "SELECT state, page, body, shape, directory, named, marker, members, held, latest FROM list_pages "
                "WHERE stream_id = ?",
                (self._stream_id(stream),),
            )
        pages = (
            ListPage(str(state), int(page), bytes(body), bytes(shape), int(directory), bool(named), int(marker),
                     int(members), bytes(held), latest)
            for state, page, body, shape, directory, named, marker, members, held, latest in rows
        )  # fmt: skip
        return {(page.state, page.number): page for page in pages}

    def replace(self, stream: str, pages: Iterable[ListPage]) -> None:
        """Keep ``pages`` as the pages of ``stream``, instead of those kept before."""
        stream_id = self._stream_id(stream)
        with self.database.transaction() as transaction:
            transaction.execute("DELETE FROM list_pages WHERE stream_id = ?", (stream_id,))
            transaction.execute_many(
                "INSERT INTO list_pages (stream_id, state, page, body, shape, directory, named, marker, members, held, "
                "latest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(stream_id, page.state, page.number, page.body, page.shape, page.directory, int(page.named),
                  page.marker, page.members, page.held, page.latest) for page in pages],
            )  # fmt: skip

    def oldest_directory(self) -> int | None:
        """The oldest directory version any kept page of any list was linked against (None: no page kept)."""
        with self.database.transaction() as transaction:
            rows = transaction.execute("SELECT MIN(directory) FROM list_pages")
        return None if not rows or rows[0][0] is None else int(rows[0][0])
