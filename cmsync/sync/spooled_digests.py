"""The key and digest of each row spooled for a Bulk job, and whether a digest was kept for its key before,
in a temporary file beside the job's CSV (DESIGN.md §4): once the job has answered, every row it did not
refuse is recorded as written from this file, without reading the job's successful results back.
"""

import struct
import tempfile
from collections.abc import Iterator

_HEAD = struct.Struct("<HB?")
"""A row's head: the length of its key (UTF-8), the length of its digest, whether a digest was held before."""


class SpooledDigests:
    """``add`` a row's key, digest and whether one was held; ``read`` them back in the order added."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (kept open until the job is answered)

    def add(self, key: str, digest: bytes, held: bool) -> None:
        encoded = key.encode()
        self._file.write(_HEAD.pack(len(encoded), len(digest), held) + digest + encoded)

    def read(self) -> Iterator[tuple[str, bytes, bool]]:
        """``(key, digest, held before)`` of every row, in the order added."""
        self._file.flush()
        self._file.seek(0)
        read, size = self._file.read, _HEAD.size
        while head := read(size):
            key_length, digest_length, held = _HEAD.unpack(head)
            digest = read(digest_length)
            yield read(key_length).decode(), digest, held

    def close(self) -> None:
        self._file.close()
