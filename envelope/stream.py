"""`open_decrypted`: a seekable, read-only binary file object over an envelope file.

Decrypts segment by segment (with the reader's prefetching), so memory stays bounded by a few
segments whatever the file size. Works with `io.TextIOWrapper`, `readline`, line iteration.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from envelope.reader import EncryptedReader

if TYPE_CHECKING:  # collections.abc.Buffer from Python 3.12
    from typing_extensions import Buffer


_STREAM_BUFFER_SIZE = 64 * 1024


class _DecryptedRaw(io.RawIOBase):
    """Raw stream: position -> (segment, offset); keeps one decrypted segment at a time."""

    def __init__(self, reader: EncryptedReader) -> None:
        super().__init__()
        self._reader = reader
        self.name = reader.path
        self._segment_size = reader.header.segment_size
        self._size = reader.plaintext_size
        self._pos = 0
        self._segments: Iterator[bytes] | None = None
        self._next_index = 0  # the index `_segments` yields next
        self._current = b""
        self._current_index = -1
        self._end_verified = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to a plaintext position; raises ValueError for a negative result or bad whence."""
        bases = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}
        if whence not in bases:
            raise ValueError(f"invalid whence {whence}")
        target = bases[whence] + offset
        if target < 0:
            raise ValueError("negative seek position")
        self._pos = target
        return target

    def _segment(self, index: int) -> bytes:
        """Return segment `index`, continuing the prefetch iterator when reading sequentially."""
        if index == self._current_index:
            return self._current
        if self._segments is None or index != self._next_index:
            self._drop_iterator()
            self._segments = self._reader.iter_segments(index)
        self._current = next(self._segments)
        self._current_index, self._next_index = index, index + 1
        if index == self._reader.segment_count - 1:
            self._end_verified = True
        return self._current

    def _verify_end(self) -> None:
        """At EOF, make sure the final segment authenticated with its last flag (truncation)."""
        if not self._end_verified:
            self._reader.read_segment(self._reader.segment_count - 1)
            self._end_verified = True

    def readinto(self, buffer: Buffer) -> int:
        """Fill `buffer` from the current segment; returns bytes copied (0 at EOF).

        Raises TamperedError / TruncatedError when the segment (or the end) fails to verify.
        """
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if self._pos >= self._size:
            self._verify_end()
            return 0
        out = memoryview(buffer).cast("B")
        index, start = divmod(self._pos, self._segment_size)
        chunk = memoryview(self._segment(index))[start:]
        count = min(len(out), len(chunk))
        out[:count] = chunk[:count]
        self._pos += count
        return count

    def readall(self) -> bytes:
        """Return everything from the position to the end, authenticated."""
        parts = []
        while self._pos < self._size:
            index, start = divmod(self._pos, self._segment_size)
            chunk = self._segment(index)
            parts.append(chunk[start:] if start else chunk)
            self._pos += len(chunk) - start
        self._verify_end()
        return b"".join(parts)

    def _drop_iterator(self) -> None:
        if self._segments is not None:
            close = getattr(self._segments, "close", None)
            if close is not None:
                close()
            self._segments = None

    def close(self) -> None:
        if not self.closed:
            self._drop_iterator()
            self._reader.close()
        super().close()


def open_decrypted(
    path: str | os.PathLike[str], key: bytes, *, artifact_id: str | None = None
) -> io.BufferedIOBase:
    """Open `path` for streaming, authenticated reading; returns a seekable `io.BufferedReader`.

    Header checks happen now (WrongKeyError, WrongArtifactError, TamperedError, ...); segment
    failures surface from read()/readline() when the bad segment is reached, and reaching EOF
    always verifies the last-segment flag, so a truncated file never reads as complete.
    Close it (or use `with`) to release the file descriptor.
    """
    reader = EncryptedReader(path, key, artifact_id=artifact_id)
    return io.BufferedReader(_DecryptedRaw(reader), buffer_size=_STREAM_BUFFER_SIZE)
