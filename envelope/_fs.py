"""Small durability helpers shared by the writer and the key-file loader."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writeback of dirty pages, do not wait


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Return libc's sync_file_range (Linux), or None where it does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing [offset, offset+length) to disk now, without waiting.

    Why: a large write followed by one fsync leaves all the disk I/O for the end; starting it
    per segment overlaps it with encryption, so the final fsync has little left to do.
    Durability still comes only from the fsync in close(). Best effort: errors are ignored
    (e.g. on filesystems that do not support it), and it is a no-op off Linux.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """fsync the directory containing `path` so a rename/link inside it survives a crash.

    Raises OSError from the operating system (unusual: permissions, I/O error).
    """
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, data: memoryview | bytes | bytearray, offset: int) -> None:
    """Write all of `data` at `offset`, looping over short writes; raises OSError."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
