"""Authenticated random-access and streaming decryption of envelope files.

Segment `i` sits at a deterministic offset, so any segment can be read and authenticated on its
own. The segment count comes from the file size; the final segment must authenticate with the
last flag set, which is how truncation at a segment boundary is told apart from tampering.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self

from cryptography.exceptions import InvalidTag

from envelope.errors import TamperedError, TruncatedError, WrongArtifactError
from envelope.format import (
    GCM_TAG_SIZE,
    MAX_SEGMENTS,
    PREAMBLE_SIZE,
    Header,
    declared_header_size,
    derive_keys,
    parse_header,
    segment_nonce,
    verify_header,
)
from envelope.writer import default_workers


def _read_header_bytes(fd: int) -> bytes:
    """Return the exact header bytes at the start of `fd` (structure checked, not authenticity)."""
    total = declared_header_size(os.pread(fd, PREAMBLE_SIZE, 0))
    raw = os.pread(fd, total, 0)
    if len(raw) < total:
        raise TruncatedError("file ends inside the header")
    return raw


def read_header(path: str | os.PathLike[str]) -> Header:
    """Parse and return the header of `path` without any key (fields are NOT authenticated).

    Raises EnvelopeError (not an envelope / unsupported version), TamperedError (malformed),
    TruncatedError (file shorter than its header), OSError.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return parse_header(_read_header_bytes(fd))
    finally:
        os.close(fd)


def _segment_layout(body_size: int, stride: int) -> tuple[int, int]:
    """Return (segment_count, final segment's ciphertext length) for a body of `body_size`.

    Raises TruncatedError when there is no segment at all, TamperedError when the trailing
    fragment cannot be a segment (shorter than a GCM tag) or the count is impossible.
    """
    if body_size < GCM_TAG_SIZE:
        raise TruncatedError("file ends before its first segment")
    count = -(-body_size // stride)
    final_size = body_size - (count - 1) * stride
    if final_size < GCM_TAG_SIZE:
        raise TamperedError("file ends with a fragment shorter than a segment (cut or extended)")
    if count > MAX_SEGMENTS:
        raise TamperedError("file has more segments than the format allows")
    return count, final_size


class EncryptedReader:
    """Context manager giving authenticated access to an envelope file's plaintext.

    The constructor reads the header, checks the key (WrongKeyError, before any decryption),
    then the header tag (TamperedError), then the artifact id (WrongArtifactError).
    Segment reads are thread-safe (positional reads, stateless cipher).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: bytes,
        *,
        artifact_id: str | None = None,
        workers: int | None = None,
    ) -> None:
        """Open and verify `path`. `workers`: prefetch threads (None = automatic, 0 = inline).

        Raises EnvelopeError subclasses as described on the class, or OSError.
        """
        self.path = os.fspath(path)
        self._keys = derive_keys(key)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self._executor: ThreadPoolExecutor | None = None
        try:
            self._aad = _read_header_bytes(self._fd)
            self.header = parse_header(self._aad)
            verify_header(self.header, self._keys)
            if artifact_id is not None and artifact_id != self.header.artifact_id:
                raise WrongArtifactError(
                    f"file belongs to artifact {self.header.artifact_id!r}, not {artifact_id!r}"
                )
            self._stride = self.header.segment_size + GCM_TAG_SIZE
            body = os.fstat(self._fd).st_size - len(self._aad)
            self.segment_count, self._final_size = _segment_layout(body, self._stride)
        except BaseException:
            os.close(self._fd)
            raise
        seg = self.header.segment_size
        self._workers = default_workers(seg) if workers is None else max(0, workers)
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def plaintext_size(self) -> int:
        """Total plaintext bytes implied by the file size (authenticated only when read)."""
        full = (self.segment_count - 1) * self.header.segment_size
        return full + self._final_size - GCM_TAG_SIZE

    def read_segment(self, index: int) -> bytes:
        """Return the authenticated plaintext of segment `index` (0-based).

        The final segment is also checked to carry the last flag. Raises IndexError out of
        range, TruncatedError if the final segment was a middle one (trailing segments dropped),
        TamperedError for any other authentication failure, ValueError once closed.
        """
        if self._closed:
            raise ValueError("read from a closed EncryptedReader")
        if not 0 <= index < self.segment_count:
            raise IndexError(f"segment {index} out of range(0, {self.segment_count})")
        last = index == self.segment_count - 1
        size = self._final_size if last else self._stride
        data = os.pread(self._fd, size, len(self._aad) + index * self._stride)
        if len(data) != size:
            raise TruncatedError(f"file shrank while reading segment {index}")
        return self._authenticate(index, data, last)

    def _decrypt(self, index: int, data: bytes, last: bool) -> bytes | None:
        """Return the plaintext, or None if `data` does not authenticate at (index, last)."""
        nonce = segment_nonce(self.header.nonce_prefix, index, last)
        try:
            return self._keys.segment_cipher.decrypt(nonce, data, self._aad)
        except InvalidTag:
            return None

    def _authenticate(self, index: int, data: bytes, last: bool) -> bytes:
        """Decrypt segment `index`; on failure tell truncation (a full final segment that is
        really a middle one) from any other tampering."""
        plaintext = self._decrypt(index, data, last)
        if plaintext is not None:
            return plaintext
        if last and len(data) == self._stride and self._decrypt(index, data, False) is not None:
            raise TruncatedError(f"file was truncated: segment {index} is not the last segment")
        raise TamperedError(f"segment {index} failed authentication")

    def iter_plaintext(self) -> Iterator[bytes]:
        """Yield every segment's plaintext in order, authenticating each and the final flag.

        Prefetches a bounded number of segments on worker threads; memory stays O(segment).
        Raises (lazily, at the failing segment) TamperedError / TruncatedError.
        """
        return self.iter_segments(0)

    def iter_segments(self, start: int) -> Iterator[bytes]:
        """Like iter_plaintext() but starting at segment `start` (for seeking streams)."""
        if self._workers == 0 or self.segment_count - start <= 1:
            return (self.read_segment(i) for i in range(start, self.segment_count))
        return self._prefetching(start)

    def _prefetching(self, start: int) -> Iterator[bytes]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="envelope-dec")
        window: deque[Future[bytes]] = deque()
        upcoming = start
        try:
            while window or upcoming < self.segment_count:
                while upcoming < self.segment_count and len(window) < 2 * self._workers:
                    window.append(self._executor.submit(self.read_segment, upcoming))
                    upcoming += 1
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def read_all(self) -> bytes:
        """Return the whole authenticated plaintext (holds it all in memory)."""
        return b"".join(self.iter_plaintext())

    def close(self) -> None:
        """Join prefetch threads (they read our fd), then close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        os.close(self._fd)

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed


def read_encrypted_bytes(
    path: str | os.PathLike[str], key: bytes, *, artifact_id: str | None = None
) -> bytes:
    """Decrypt and return the whole plaintext of `path`; raises like EncryptedReader."""
    with EncryptedReader(path, key, artifact_id=artifact_id) as reader:
        return reader.read_all()
