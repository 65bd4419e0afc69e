"""Streaming, atomic, authenticated encryption of one artifact into one file.

`EncryptedWriter` cuts the plaintext into fixed-size segments, encrypts each with AES-256-GCM
(STREAM nonces, header as AAD) and writes it at its deterministic offset with `pwrite`, so worker
threads (AESGCM releases the GIL) encrypt and write segments in parallel without reordering.
Plaintext never touches the disk: it lives in memory buffers only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from envelope._fs import fsync_directory, pwrite_all, start_writeback
from envelope.errors import EnvelopeError
from envelope.format import (
    GCM_TAG_SIZE,
    MAX_SEGMENTS,
    derive_keys,
    new_header,
    segment_nonce,
)

DEFAULT_SEGMENT_SIZE = 1 << 20
# Below this segment size, thread hand-off costs more than the encryption it would overlap.
PARALLEL_MIN_SEGMENT_SIZE = 64 * 1024
_LOCK_ATTEMPTS = 5


def default_workers(segment_size: int) -> int:
    """Return the automatic worker-thread count: 0 (inline) for small segments, else up to 4."""
    if segment_size < PARALLEL_MIN_SEGMENT_SIZE:
        return 0
    return max(1, min(4, os.cpu_count() or 1))


def _open_locked_part(part_path: str) -> int:
    """Open `part_path` for writing, holding an exclusive flock, and truncate it.

    A stale `.part` left by a crashed process is taken over (its lock died with it); a `.part`
    locked by a live writer raises EnvelopeError. The inode re-check closes the race where we
    locked a file another writer had already renamed into place.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    for _ in range(_LOCK_ATTEMPTS):
        fd = os.open(part_path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EnvelopeError(f"another writer is already writing {part_path!r}") from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(part_path).st_ino == os.fstat(fd).st_ino:
                os.ftruncate(fd, 0)
                os.fchmod(fd, 0o600)
                return fd
        os.close(fd)
    raise EnvelopeError(f"could not lock {part_path!r}: it keeps being replaced")


def _encrypt_and_write(
    cipher: AESGCM,
    nonce: bytes,
    plaintext: memoryview,
    aad: bytes,
    fd: int,
    offset: int,
    scratch: queue.SimpleQueue[bytearray],
) -> None:
    """Encrypt one segment into a reusable scratch buffer, pwrite it at `offset` and start its
    writeback (the caller's final fsync makes it durable)."""
    size = len(plaintext) + GCM_TAG_SIZE
    try:
        out = scratch.get_nowait()
    except queue.Empty:
        out = bytearray(size)
    if len(out) != size:
        out = bytearray(size)
    cipher.encrypt_into(nonce, plaintext, aad, out)
    pwrite_all(fd, out, offset)
    start_writeback(fd, offset, size)
    scratch.put(out)


class EncryptedWriter:
    """Context manager that encrypts a plaintext stream into `path`, atomically.

    Writes go to `<path>.part` (mode 0600, exclusively locked); `close()` writes the final
    segment (flagged last), fsyncs the file, renames it over `path` and fsyncs the directory.
    Leaving the `with` block by an exception calls `abort()`: the `.part` file is removed and
    `path` is left untouched. Not thread-safe: one producer thread per writer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: bytes,
        *,
        key_id: str,
        artifact_id: str,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        workers: int | None = None,
    ) -> None:
        """Validate arguments, create and lock `<path>.part` and write the header.

        `workers`: encryption threads (None = automatic, 0 = encrypt inline).
        Raises EnvelopeError (bad key/ids/segment size, concurrent writer) or OSError.
        """
        self.path = os.fspath(path)
        self._part_path = self.path + ".part"
        self._keys = derive_keys(key)
        self.header = new_header(
            self._keys, key_id=key_id, artifact_id=artifact_id, segment_size=segment_size
        )
        self._aad = self.header.to_bytes()
        self._segment_size = segment_size
        self._stride = segment_size + GCM_TAG_SIZE
        self._workers = default_workers(segment_size) if workers is None else max(0, workers)
        self._init_buffers()
        self._fd = _open_locked_part(self._part_path)
        self._closed = False
        try:
            pwrite_all(self._fd, self._aad, 0)
        except BaseException:
            self.abort()
            raise

    def _init_buffers(self) -> None:
        self._buffer: bytearray | None = None  # segment being assembled from copied data
        self._fill = 0
        self._pending: tuple[memoryview, bytearray | None] | None = None  # full, not yet sent
        self._next_index = 0
        self._inflight: deque[tuple[Future[None], bytearray | None]] = deque()
        self._spare: list[bytearray] = []
        self._scratch: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._executor: ThreadPoolExecutor | None = None
        self.plaintext_bytes = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer `data` (any size) into segments, encrypting every segment known not to be last.

        Immutable `bytes` are referenced without copying; other buffers are copied, so the caller
        may reuse them at once. Returns len(data) in bytes. Raises ValueError once closed,
        TypeError for a non-contiguous buffer, EnvelopeError past 2**32 segments, OSError from a
        failed background write; after EnvelopeError/OSError the writer is aborted (no `.part`).
        """
        self._ensure_open()
        view = memoryview(data).cast("B")
        try:
            self._consume(view, zero_copy=isinstance(data, bytes))
        except BaseException:
            self.abort()  # a segment may be missing now: never let close() seal a hole
            raise
        self.plaintext_bytes += len(view)
        return len(view)

    def _consume(self, view: memoryview, *, zero_copy: bool) -> None:
        """Cut `view` into segments; submit each full segment once more data follows it."""
        size, pos, seg = len(view), 0, self._segment_size
        while pos < size:
            if self._pending is not None:
                self._submit(*self._pending, last=False)
                self._pending = None
            if zero_copy and self._fill == 0 and size - pos >= seg:
                self._pending = (view[pos : pos + seg], None)
                pos += seg
                continue
            pos += self._copy_into_buffer(view[pos:])

    def _copy_into_buffer(self, view: memoryview) -> int:
        """Copy as much of `view` as fits into the current segment buffer; return bytes taken."""
        if self._buffer is None:
            self._buffer = self._spare.pop() if self._spare else bytearray(self._segment_size)
        take = min(self._segment_size - self._fill, len(view))
        self._buffer[self._fill : self._fill + take] = view[:take]
        self._fill += take
        if self._fill == self._segment_size:
            self._pending = (memoryview(self._buffer), self._buffer)
            self._buffer, self._fill = None, 0
        return take

    def _submit(self, plaintext: memoryview, owner: bytearray | None, *, last: bool) -> None:
        """Encrypt+write the next segment: inline, or on the pool with bounded lookahead."""
        index = self._next_index
        if index >= MAX_SEGMENTS:
            raise EnvelopeError("artifact exceeds 2**32 segments; use a larger segment_size")
        self._next_index += 1
        args = (
            self._keys.segment_cipher,
            segment_nonce(self.header.nonce_prefix, index, last),
            plaintext,
            self._aad,
            self._fd,
            len(self._aad) + index * self._stride,
            self._scratch,
        )
        if self._workers == 0 or last:
            _encrypt_and_write(*args)
            self._recycle(owner)
            return
        while len(self._inflight) >= 2 * self._workers:
            self._retire_oldest()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="envelope-enc")
        self._inflight.append((self._executor.submit(_encrypt_and_write, *args), owner))

    def _recycle(self, owner: bytearray | None) -> None:
        if owner is not None:
            self._spare.append(owner)

    def _retire_oldest(self) -> None:
        future, owner = self._inflight.popleft()
        future.result()
        self._recycle(owner)

    def close(self) -> None:
        """Write the final (last-flagged) segment, fsync, rename over `path`, fsync the directory.

        Idempotent. On any failure the `.part` file is removed and the error re-raised; `path`
        then still holds whatever it held before (or nothing).
        """
        if self._closed:
            return
        try:
            if self._pending is not None:
                final, owner = self._pending
            else:
                final, owner = memoryview(self._buffer or b"")[: self._fill], None
            self._pending = None
            self._submit(final, owner, last=True)
            while self._inflight:
                self._retire_oldest()
            os.fsync(self._fd)
            os.replace(self._part_path, self.path)  # still locked: see _open_locked_part
        except BaseException:
            self.abort()
            raise
        self._release()
        fsync_directory(self.path)

    def abort(self) -> None:
        """Discard everything written: stop workers, close and delete `<path>.part`. Idempotent."""
        if self._closed:
            return
        for future, _owner in self._inflight:
            future.cancel()
        self._release()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._part_path)

    def _release(self) -> None:
        """Join the workers (they pwrite to our fd) before closing the fd; drop buffers."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._inflight.clear()
        self._spare.clear()
        self._buffer = None
        os.close(self._fd)

    def _ensure_open(self) -> None:
        if self._closed:
            raise ValueError("write to a closed EncryptedWriter")

    @property
    def closed(self) -> bool:
        """True after close() or abort()."""
        return self._closed


def write_encrypted_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    key: bytes,
    *,
    key_id: str,
    artifact_id: str,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> None:
    """Encrypt `data` into `path` atomically (see EncryptedWriter); `bytes` are not copied.

    Raises EnvelopeError or OSError; on failure no file and no `.part` remain.
    """
    with EncryptedWriter(
        path, key, key_id=key_id, artifact_id=artifact_id, segment_size=segment_size
    ) as writer:
        writer.write(data)


__all__ = ["DEFAULT_SEGMENT_SIZE", "EncryptedWriter", "write_encrypted_bytes"]
