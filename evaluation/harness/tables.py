"""Task data read from bytes in memory into Arrow tables: JSON Lines, JSON, CSV, Parquet.

Hugging Face ``datasets`` can only ``load_dataset("json" | "csv" | "parquet", data_files=...)``
from paths: its builders open the files and write an Arrow cache next to them. A bundle's data
is decrypted in memory and must stay there, so each file is parsed here with the library the
``datasets`` builder itself uses (``json`` + Arrow, pandas for CSV, pyarrow for Parquet) and the
split becomes an in-memory ``datasets.Dataset`` (see ``harness.tasks``): no file is written.

Pure (pyarrow, pandas; no torch, no Django).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# Rows decoded at a time: a dictionary value is at most the column chunk's declared size, so
# one batch can hold at most this many copies of it before the running total is checked.
PARQUET_BATCH_ROWS = 8
EXTENSIONS = {"json": (".json", ".jsonl"), "csv": (".csv",), "parquet": (".parquet",)}


class DataFileError(ValueError):
    """A data file cannot be read as its task says; the message says where and why."""


@dataclass(frozen=True)
class DataLimits:
    """Bounds on what one data file may expand to in memory."""

    max_rows: int = 1_000_000
    max_uncompressed_bytes: int = 512 * 1024 * 1024


def read_table(name: str, payload: bytes, data_format: str, limits: DataLimits) -> pa.Table:
    """The rows of one data file. Raises DataFileError for a file that does not parse, has no
    rows, does not match ``data_format`` or would exceed ``limits``."""
    if not name.endswith(EXTENSIONS[data_format]):
        raise DataFileError(
            f"{name}: a '{data_format}' task needs {' or '.join(EXTENSIONS[data_format])} files"
        )
    try:
        if data_format == "parquet":
            table = _parquet(payload, limits)
        elif data_format == "csv":
            table = _csv(payload)
        else:
            table = _json(name, payload)
    except DataFileError:
        raise
    except (ValueError, TypeError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise DataFileError(f"{name}: {exc}") from exc
    if table.num_rows == 0:
        raise DataFileError(f"{name}: no records")
    if table.num_rows > limits.max_rows:
        raise DataFileError(f"{name}: more than {limits.max_rows} records")
    return table


def _json(name: str, payload: bytes) -> pa.Table:
    text = payload.decode("utf-8-sig")
    if name.endswith(".jsonl"):
        records = [
            _record(json.loads(line), i) for i, line in enumerate(text.splitlines()) if line.strip()
        ]
    else:
        loaded = json.loads(text)
        if not isinstance(loaded, list):
            raise DataFileError(f"{name}: a .json data file must hold a list of records")
        records = [_record(r, i) for i, r in enumerate(loaded)]
    return pa.Table.from_pylist(records)


def _record(value: Any, index: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataFileError(f"record {index} is not an object")
    return value


def _csv(payload: bytes) -> pa.Table:
    import pandas as pd

    frame = pd.read_csv(io.BytesIO(payload))
    return pa.Table.from_pandas(frame, preserve_index=False)


def _parquet(payload: bytes, limits: DataLimits) -> pa.Table:
    """A Parquet file, its declared size checked before anything is decompressed, then read a
    few rows at a time so that a dictionary-encoded value repeated on every row (small on
    disk, huge once decoded) is caught before it fills the memory."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(io.BytesIO(payload))
    metadata = parquet.metadata
    declared = sum(
        metadata.row_group(g).column(c).total_uncompressed_size
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    )
    if metadata.num_rows > limits.max_rows or declared > limits.max_uncompressed_bytes:
        raise DataFileError("Parquet file larger than allowed once decompressed")
    batches, size = [], 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        size += batch.nbytes
        if size > limits.max_uncompressed_bytes:
            raise DataFileError("Parquet file larger than allowed once decompressed")
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=parquet.schema_arrow)


def concat_tables(tables: list[pa.Table], where: str) -> pa.Table:
    """The rows of several files of one split, which must share their columns."""
    try:
        return pa.concat_tables(tables, promote_options="default")
    except pa.ArrowException as exc:
        raise DataFileError(
            f"{where}: the split's files do not share their columns ({exc})"
        ) from exc
