"""ZIP archive reader with zip-slip, member-count, total-size and compression-bomb guards.

Checks before reading anything: every member name is relative and free of ``..``; the
member count, the declared total size and each declared compression ratio are within
``ParseOptions``. While streaming, the actual bytes are checked again against the declared
size, the total budget and the ratio, so a lying central directory cannot get past.
Members are parsed straight from the archive in memory; nothing is extracted to disk.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import IO, BinaryIO

from datasets_app.pipeline.records import ParseError, ParseOptions, ParseReport, Record
from datasets_app.pipeline.textstream import spool

MemberParser = Callable[[str, BinaryIO], Iterator[Record]]
_DRIVE = re.compile(r"^[A-Za-z]:")


class ByteBudget:
    """Uncompressed bytes left for the whole archive; ``spend`` raises once exhausted."""

    def __init__(self, limit: int, path: str) -> None:
        self.remaining = limit
        self._limit = limit
        self._path = path

    def spend(self, count: int) -> None:
        """Takes ``count`` bytes; raises ParseError when the archive total exceeds the limit."""
        self.remaining -= count
        if self.remaining < 0:
            raise ParseError(
                f"the archive expands to more than {self._limit} bytes (the limit)", path=self._path
            )


class GuardedMemberStream(io.RawIOBase):
    """Reads one member while enforcing its declared size, the budget and the ratio limit."""

    def __init__(
        self,
        raw: IO[bytes],
        info: zipfile.ZipInfo,
        options: ParseOptions,
        budget: ByteBudget,
        path: str,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._declared = info.file_size
        self._compressed = max(info.compress_size, 1)
        self._options = options
        self._budget = budget
        self._path = path
        self.actual = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Reads the next chunk; raises ParseError as soon as a limit is crossed."""
        data = self._raw.read(len(buffer))
        count = len(data)
        memoryview(buffer).cast("B")[:count] = data
        self.actual += count
        self._budget.spend(count)
        if self.actual > self._declared:
            raise ParseError("the member is larger than its declared size", path=self._path)
        if _ratio_exceeded(self.actual, self._compressed, self._options):
            raise ParseError(_bomb_message(self._options), path=self._path)
        return count


def _ratio_exceeded(uncompressed: int, compressed: int, options: ParseOptions) -> bool:
    if uncompressed < options.ratio_check_min_bytes:
        return False
    return uncompressed > options.max_compression_ratio * max(compressed, 1)


def _bomb_message(options: ParseOptions) -> str:
    limit = f"{options.max_compression_ratio:g}"
    return f"compression ratio above {limit}:1; refusing a possible zip bomb"


def unsafe_member_name(name: str) -> bool:
    """True for absolute paths, drive letters, backslash roots or any ``..`` component."""
    if not name or name.startswith(("/", "\\")) or _DRIVE.match(name) or "\x00" in name:
        return True
    return any(part == ".." for part in re.split(r"[\\/]", name))


def check_archive(infos: list[zipfile.ZipInfo], options: ParseOptions, path: str) -> None:
    """Validates the central directory before any member is read; raises ParseError."""
    if len(infos) > options.max_archive_members:
        raise ParseError(
            f"the archive has {len(infos)} members; the limit is {options.max_archive_members}",
            path=path,
        )
    for info in infos:
        member = f"{path}/{info.filename}"
        if unsafe_member_name(info.filename):
            raise ParseError(f'unsafe member path "{info.filename}" (absolute or "..")', path=path)
        if info.flag_bits & 0x1:
            raise ParseError("encrypted archive members are not supported", path=member)
        if _ratio_exceeded(info.file_size, info.compress_size, options):
            raise ParseError(_bomb_message(options), path=member)
    declared = sum(info.file_size for info in infos)
    if declared > options.max_uncompressed_bytes:
        raise ParseError(
            f"the archive declares {declared} uncompressed bytes; the limit is "
            f"{options.max_uncompressed_bytes}",
            path=path,
        )


def _is_metadata(name: str) -> bool:
    posix = PurePosixPath(name.replace("\\", "/"))
    return posix.parts[:1] == ("__MACOSX",) or posix.name.startswith(".")


def iter_zip(
    path: str,
    stream: BinaryIO,
    options: ParseOptions,
    report: ParseReport,
    parse_member: MemberParser,
) -> Iterator[Record]:
    """Yields the records of every supported member, in archive order.

    ``parse_member(member_path, stream)`` parses one member (``archive.zip/inner/name``).
    Non-seekable archives are buffered in memory up to ``options.max_spool_bytes``.
    """
    seekable = spool(stream, limit=options.max_spool_bytes, path=path, what="ZIP archives")
    try:
        archive = zipfile.ZipFile(seekable)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ParseError(f"not a readable ZIP archive ({exc})", path=path) from None
    with archive:
        infos = archive.infolist()
        check_archive(infos, options, path)
        budget = ByteBudget(options.max_uncompressed_bytes, path)
        for info in infos:
            if info.is_dir():
                continue
            if _is_metadata(info.filename):
                report.notice(f"{path}: skipped hidden or macOS metadata files")
                continue
            yield from _member_records(archive, info, options, budget, parse_member, path)


def _member_records(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    options: ParseOptions,
    budget: ByteBudget,
    parse_member: MemberParser,
    path: str,
) -> Iterator[Record]:
    member_path = f"{path}/{info.filename}"
    try:
        with archive.open(info) as raw:
            guarded = GuardedMemberStream(raw, info, options, budget, member_path)
            yield from parse_member(member_path, guarded)  # type: ignore[arg-type]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ParseError(
            f"corrupt or unsupported archive member ({exc})", path=member_path
        ) from None
