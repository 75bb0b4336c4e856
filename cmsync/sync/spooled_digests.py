"""The key and digest of each row spooled for a Bulk job, whether a digest was kept for its key before and
the seen marker it was compared under, in a temporary file beside the job's CSV (DESIGN.md §4): once the
job has answered, every row it did not refuse is recorded as written from this file, without reading the
job's successful results back.
"""

import struct
import tempfile
from collections.abc import Collection, Iterator

_HEAD = struct.Struct("<HB?Q")
"""A row's head: the length of its key (UTF-8), the length of its digest, whether a digest was held before,
the number of its seen marker (0 for none: markers are numbered from 1)."""


class SpooledDigests:
    """``add`` a row's key, digest, whether one was held and its seen marker; ``read`` them back in the order
    added."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (kept open until the job is answered)

    def add(self, key: str, digest: bytes, held: bool, seen: int | None) -> None:
        encoded = key.encode()
        self._file.write(_HEAD.pack(len(encoded), len(digest), held, seen or 0) + digest + encoded)

    def read(self) -> Iterator[tuple[str, bytes, bool, int | None]]:
        """``(key, digest, held before, seen marker)`` of every row, in the order added."""
        self._file.flush()
        self._file.seek(0)
        read, size = self._file.read, _HEAD.size
        while head := read(size):
            key_length, digest_length, held, seen = _HEAD.unpack(head)
            digest = read(digest_length)
            yield read(key_length).decode(), digest, held, seen or None

    def markers(self, keys: Collection[str] | None = None) -> dict[str, int | None]:
        """The seen marker of every row's key (of ``keys`` only, when given)."""
        return {key: seen for key, _digest, _held, seen in self.read() if keys is None or key in keys}

    def close(self) -> None:
        self._file.close()
