"""A guard for a block of code: records any file it opens for writing and refuses any
connection beyond loopback (an audit hook, so it sees what C extensions and libraries do
through Python's ``open`` and ``socket`` too)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_ACTIVE: list[list[tuple[str, Any]]] = []  # the guards now running (hooks cannot be removed)


class EgressRefused(RuntimeError):
    pass


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return not isinstance(host, str) or host.startswith("127.") or host in ("localhost", "::1")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE:
        return
    if event == "socket.connect" and not _loopback(args[1]):
        _ACTIVE[-1].append(("connect", args[1]))
        raise EgressRefused(f"connection to {args[1]!r} attempted")
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writing and isinstance(path, str | bytes) and not str(path).startswith("/dev/"):
            _ACTIVE[-1].append(("write", path))


sys.addaudithook(_hook)


@contextlib.contextmanager
def offline_and_in_memory() -> Iterator[list[tuple[str, Any]]]:
    """Yields the list of what the block attempted: ``("write", path)``, ``("connect", ...)``."""
    seen: list[tuple[str, Any]] = []
    _ACTIVE.append(seen)
    try:
        yield seen
    finally:
        _ACTIVE.remove(seen)
