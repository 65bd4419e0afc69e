"""Byte-stream helpers for the parsers: peeking, bounded line reading, decoding, spooling.

Everything here works on arbitrary binary file-likes (the upload arrives decrypted on the
fly and is usually not seekable) and never holds more than one bounded line in memory,
except ``spool`` which is explicitly bounded by its caller.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from datasets_app.pipeline.records import ParseError, ParseOptions, ParseReport, reject_line

HEAD_BYTES = 8192
UTF8_BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 1 << 16
# Control bytes that do not occur in real text files (tab, CR/LF, form feed, escape excluded).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_MAX_CONTROL_SHARE = 0.05


class _ReadAdapter(io.RawIOBase):
    """Presents any object with ``read(n)`` as a RawIOBase, replaying ``prefix`` first."""

    def __init__(self, stream: BinaryIO, prefix: bytes = b"") -> None:
        super().__init__()
        self._stream = stream
        self._prefix = memoryview(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fills ``buffer`` from the prefix, then the wrapped stream; returns bytes written."""
        view = memoryview(buffer).cast("B")
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._stream.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)


def read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Reads until ``size`` bytes or EOF (raw streams may return short reads)."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK * 16))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def is_seekable(stream: BinaryIO) -> bool:
    """True when the stream reports itself seekable (objects without the method are not)."""
    seekable = getattr(stream, "seekable", None)
    return bool(seekable()) if callable(seekable) else False


def peek_head(stream: BinaryIO, size: int = HEAD_BYTES) -> tuple[bytes, BinaryIO]:
    """Returns the first ``size`` bytes and a stream that still starts at those bytes.

    Seekable streams are rewound; others are wrapped so the head is replayed.
    """
    if is_seekable(stream):
        start = stream.tell()
        head = read_up_to(stream, size)
        stream.seek(start)
        return head, stream
    head = read_up_to(stream, size)
    return head, io.BufferedReader(_ReadAdapter(stream, head), buffer_size=_READ_CHUNK)


def spool(stream: BinaryIO, *, limit: int, path: str, what: str) -> BinaryIO:
    """Returns a seekable view of ``stream``: itself if seekable, else an in-memory copy.

    Raises ParseError when a non-seekable stream is larger than ``limit`` bytes, because
    ``what`` (e.g. "Parquet files") needs random access and we refuse to buffer more.
    """
    if is_seekable(stream):
        return stream
    data = read_up_to(stream, limit + 1)
    if len(data) > limit:
        raise ParseError(
            f"{what} need random access; this one is larger than the "
            f"{limit // (1024 * 1024)} MiB that can be buffered in memory",
            path=path,
        )
    return io.BytesIO(data)


def iter_raw_lines(
    stream: BinaryIO, *, path: str, options: ParseOptions, report: ParseReport
) -> Iterator[tuple[int, bytes]]:
    """Yields (1-based line number, raw line bytes incl. newline), one line in memory at a time.

    A line longer than ``options.max_record_bytes`` is a bad line (skipped or ParseError);
    its remainder is drained without being kept.
    """
    reader = io.BufferedReader(_ReadAdapter(stream), buffer_size=_READ_CHUNK)
    limit = options.max_record_bytes
    line_no = 0
    while raw := reader.readline(limit + 1):
        line_no += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            _drain_line(reader, limit)
            reason = f"line is longer than {limit} bytes"
            reject_line(reason, path=path, line=line_no, options=options, report=report)
            continue
        yield line_no, raw


def _drain_line(reader: io.BufferedReader[_ReadAdapter], chunk: int) -> None:
    while part := reader.readline(chunk):
        if part.endswith(b"\n"):
            return


class LineDecoder:
    """Decodes lines as UTF-8 (BOM stripped), falling back per line to Windows-1252/Latin-1.

    Per-line fallback keeps decoding streaming: a UTF-8 byte sequence never spans a
    newline, so each line can be judged on its own. The first fallback adds a notice.
    """

    def __init__(self, path: str, report: ParseReport) -> None:
        self._path = path
        self._report = report
        self._first = True

    def decode(self, raw: bytes) -> str:
        """Returns the decoded line; never raises (Latin-1 maps every byte)."""
        if self._first:
            self._first = False
            if raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._report.notice(
                f"latin-1 fallback for {self._path}: not valid UTF-8, decoded as Windows-1252"
            )
            return decode_legacy(raw)


def decode_legacy(raw: bytes) -> str:
    """Decodes Windows-1252, or Latin-1 for the five bytes cp1252 leaves undefined."""
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def binary_reason(head: bytes) -> str | None:
    """Returns why ``head`` looks like binary rather than text, or None if it looks like text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 encoded; save it as UTF-8"
    if b"\x00" in head:
        return "it contains NUL bytes"
    sample = head[:HEAD_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        return "it contains control bytes that do not occur in text"
    return None
