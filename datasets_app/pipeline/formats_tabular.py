"""CSV, TSV and Parquet readers sharing one column-selection rule.

Column rule: ``options.text_columns`` when given (all must exist; joined by a blank line
into a text record); otherwise a ``text`` column, otherwise ``prompt`` + ``completion``.
Header names match exactly first, then case-insensitively.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from datasets_app.pipeline.records import (
    ParseError,
    ParseOptions,
    ParseReport,
    Record,
    origin_value,
    reject_line,
)
from datasets_app.pipeline.textstream import LineDecoder, iter_raw_lines, spool

PARQUET_BATCH_ROWS = 1024


@dataclass(frozen=True)
class ColumnPlan:
    """Which header positions feed a record, and as which kind."""

    kind: str  # "text" or "prompt_completion"
    indices: tuple[int, ...]
    origin_index: int | None = None  # the steward's source column

    def build(self, values: Sequence[str | None], source: str) -> Record:
        """Returns the record for one row of values (None counts as empty)."""
        picked = [values[i] or "" for i in self.indices]
        origin = "" if self.origin_index is None else origin_value(values[self.origin_index])
        if self.kind == "prompt_completion":
            return Record(
                kind="prompt_completion",
                prompt=picked[0],
                completion=picked[1],
                source=source,
                origin=origin,
            )
        text = "\n\n".join(part for part in picked if part)
        return Record(kind="text", text=text, source=source, origin=origin)


def with_origin_column(
    plan: ColumnPlan, header: Sequence[str], column: str | None, path: str
) -> ColumnPlan:
    """``plan`` reading each row's origin from ``column`` too (unchanged when None); a missing
    column raises ParseError naming the columns present."""
    if column is None:
        return plan
    index = _find_column(header, column)
    if index is None:
        raise ParseError(f'source column "{column}" not found; {_present(header)}', path=path)
    return dataclasses.replace(plan, origin_index=index)


def plan_columns(header: Sequence[str], text_columns: list[str] | None, path: str) -> ColumnPlan:
    """Chooses the columns to read; ParseError names a missing column and the columns present."""
    if text_columns:
        indices = []
        for column in text_columns:
            index = _find_column(header, column)
            if index is None:
                raise ParseError(f'column "{column}" not found; {_present(header)}', path=path)
            indices.append(index)
        return ColumnPlan("text", tuple(indices))
    text = _find_column(header, "text")
    if text is not None:
        return ColumnPlan("text", (text,))
    prompt, completion = _find_column(header, "prompt"), _find_column(header, "completion")
    if prompt is not None and completion is not None:
        return ColumnPlan("prompt_completion", (prompt, completion))
    raise ParseError(
        'no "text" column and no "prompt"+"completion" columns; choose the text columns '
        f"to use; {_present(header)}",
        path=path,
    )


def _find_column(header: Sequence[str], wanted: str) -> int | None:
    names = [name.strip() for name in header]
    if wanted in names:
        return names.index(wanted)
    folded = [name.casefold() for name in names]
    return folded.index(wanted.casefold()) if wanted.casefold() in folded else None


def _present(header: Sequence[str]) -> str:
    shown = ", ".join(f'"{name}"' for name in list(header)[:50])
    return f"columns present: {shown}" if shown else "the file has no columns"


def iter_csv(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields one record per CSV row (comma-separated); see module docstring for columns."""
    return _iter_delimited(path, stream, options, report, delimiter=",")


def iter_tsv(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields one record per TSV row (tab-separated); see module docstring for columns."""
    return _iter_delimited(path, stream, options, report, delimiter="\t")


def _iter_delimited(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport, *, delimiter: str
) -> Iterator[Record]:
    # Quoted fields may span lines, so the csv module gets decoded lines and tracks line_num.
    decoder = LineDecoder(path, report)
    raw_lines = iter_raw_lines(stream, path=path, options=options, report=report)
    reader = csv.reader((decoder.decode(raw) for _, raw in raw_lines), delimiter=delimiter)
    _raise_field_limit(options.max_record_bytes)
    header = _read_header(reader, path)
    plan = plan_columns(header, options.text_columns, path)
    plan = with_origin_column(plan, header, options.source_column, path)
    for start, row in _rows(reader, path, options, report):
        if len(row) != len(header):
            reason = f"expected {len(header)} columns, found {len(row)}"
            reject_line(reason, path=path, line=start, options=options, report=report)
            continue
        yield plan.build(row, f"{path}:{start}")


def _rows(
    reader: Any, path: str, options: ParseOptions, report: ParseReport
) -> Iterator[tuple[int, list[str]]]:
    """Yields (first line, row) for non-blank rows of a csv reader (its type is private);
    csv errors become bad lines."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = f"malformed row ({exc})"
            reject_line(reason, path=path, line=start, options=options, report=report)
            continue
        if any(cell.strip() for cell in row):
            yield start, row


def _read_header(reader: Iterator[list[str]], path: str) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ParseError(f"malformed header row ({exc})", path=path, line=1) from None
    if not header or not any(name.strip() for name in header):
        raise ParseError(
            "the first line must be a header row naming the columns", path=path, line=1
        )
    return header


def _raise_field_limit(limit: int) -> None:
    # The csv module refuses fields above a process-wide limit (128 KiB by default). We only
    # ever raise it, to our own per-record bound, so long documents in one cell still parse.
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


def iter_parquet(
    path: str, stream: BinaryIO, options: ParseOptions, report: ParseReport
) -> Iterator[Record]:
    """Yields one record per Parquet row, reading batch by batch within row groups.

    Parquet needs random access: non-seekable streams are buffered in memory up to
    ``options.max_spool_bytes``, larger ones raise ParseError. Sources are ``file:row``.
    """
    import pyarrow as pa  # imported lazily: pyarrow is heavy and most uploads are not Parquet
    import pyarrow.parquet as pq

    source = spool(stream, limit=options.max_spool_bytes, path=path, what="Parquet files")
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        raise ParseError(f"not a readable Parquet file ({exc})", path=path) from None
    header = parquet.schema_arrow.names
    plan = with_origin_column(
        plan_columns(header, options.text_columns, path), header, options.source_column, path
    )
    columns = [header[i] for i in plan.indices]
    _check_string_columns(parquet.schema_arrow, columns, path)
    if plan.origin_index is not None:
        columns.append(header[plan.origin_index])
    yield from _parquet_rows(parquet, columns, plan, path)


def _check_string_columns(schema: object, columns: list[str], path: str) -> None:
    import pyarrow as pa

    for name in columns:
        kind = schema.field(name).type  # type: ignore[attr-defined]
        if not (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        ):
            raise ParseError(f'column "{name}" holds {kind}, not text', path=path)


def _parquet_rows(
    parquet: object, columns: list[str], plan: ColumnPlan, path: str
) -> Iterator[Record]:
    import pyarrow as pa

    # Rows hold the plan's columns in order, then the origin column when there is one.
    count = len(plan.indices)
    origin = None if plan.origin_index is None else count
    row_plan = ColumnPlan(plan.kind, tuple(range(count)), origin)
    row_number = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):  # type: ignore[attr-defined]
            values = [batch.column(i).to_pylist() for i in range(len(columns))]
            for row in zip(*values, strict=True):
                row_number += 1
                yield row_plan.build(row, f"{path}:{row_number}")
    except (pa.ArrowException, OSError) as exc:
        raise ParseError(f"corrupt Parquet data ({exc})", path=path, line=row_number + 1) from None
