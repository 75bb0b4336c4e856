"""Read a small regular file without blocking: a FIFO, a device or a huge file is refused, not read."""

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 1024 * 1024
"""Configuration files, secrets, keys and CA bundles are small; anything larger is a mistake."""


def read_small_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``; raise ValueError (what is wrong, without the path) unless it is a readable
    regular file of at most ``limit`` bytes. Opening with O_NONBLOCK keeps a FIFO from blocking."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise ValueError(f"cannot read the file: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"not a regular file (it is {_kind(mode)})")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 1024} KiB, the most cmsync reads from one file")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"
