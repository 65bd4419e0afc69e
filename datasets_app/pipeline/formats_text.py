"""Plain text and Markdown readers: a record per file or per blank-line-separated block.

Markdown blocks respect code fences (blank lines inside ``` stay in the block) and a block
made only of headings is prepended to the block that follows it. No block ever exceeds
``options.max_record_bytes`` characters: longer ones are cut (with a notice) to bound memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from datasets_app.pipeline.records import ParseOptions, ParseReport, Record
from datasets_app.pipeline.textstream import LineDecoder, iter_raw_lines

_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s|$)")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


class _BlockBuilder:
    """Accumulates lines into blocks and emits (start line, text) pairs."""

    def __init__(self, *, markdown: bool, split_blank: bool, limit: int) -> None:
        self._markdown = markdown
        self._split_blank = split_blank
        self._limit = limit
        self._lines: list[str] = []
        self._size = 0
        self._start = 0
        self._in_fence = False
        self._pending_heading: tuple[int, str] | None = None
        self.cut_long_block = False

    def add(self, line_no: int, line: str) -> Iterator[tuple[int, str]]:
        """Feeds one line (without newline); yields any blocks it completes."""
        if self._markdown and _FENCE.match(line):
            self._in_fence = not self._in_fence
        if self._split_blank and not line.strip() and not self._in_fence:
            yield from self.flush()
            return
        if not self._lines:
            self._start = line_no
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size > self._limit:
            self.cut_long_block = True
            yield from self.flush()

    def flush(self) -> Iterator[tuple[int, str]]:
        """Emits the current block, if any (heading-only Markdown blocks wait for the next)."""
        if not self._lines:
            return
        start, text = self._start, "\n".join(self._lines)
        self._lines, self._size = [], 0
        if not text.strip():
            return
        if self._pending_heading is not None:
            start, text = self._pending_heading[0], self._pending_heading[1] + "\n\n" + text
            self._pending_heading = None
        if (
            self._markdown
            and self._split_blank
            and _only_headings(text)
            and len(text) < self._limit
        ):
            self._pending_heading = (start, text)
            return
        yield start, text

    def finish(self) -> Iterator[tuple[int, str]]:
        """Emits everything still held, including a trailing heading-only block."""
        yield from self.flush()
        if self._pending_heading is not None:
            yield self._pending_heading
            self._pending_heading = None


def _only_headings(text: str) -> bool:
    return all(_HEADING.match(line) for line in text.splitlines() if line.strip())


def iter_text(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields text records from a plain text file (see module docstring)."""
    return _iter_blocks(path, stream, options, report, markdown=False)


def iter_markdown(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields text records from a Markdown file (see module docstring)."""
    return _iter_blocks(path, stream, options, report, markdown=True)


def _iter_blocks(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport, *, markdown: bool
) -> Iterator[Record]:
    whole_file = options.text_split == "file"
    builder = _BlockBuilder(
        markdown=markdown, split_blank=not whole_file, limit=options.max_record_bytes
    )
    decoder = LineDecoder(path, report)
    for line_no, raw in iter_raw_lines(stream, path=path, options=options, report=report):
        for start, text in builder.add(line_no, decoder.decode(raw).rstrip("\r\n")):
            yield _record(path, start, text, whole_file and not builder.cut_long_block)
    for start, text in builder.finish():
        yield _record(path, start, text, whole_file and not builder.cut_long_block)
    if builder.cut_long_block:
        report.notice(
            f"{path}: a text block longer than {options.max_record_bytes} bytes was cut into pieces"
        )


def _record(path: str, start: int, text: str, whole_file: bool) -> Record:
    source = path if whole_file else f"{path}:{start}"
    return Record(kind="text", text=text, source=source)
