"""Where each record came from: its provenance and the source key trust and the screen use.

Every stored record carries ``provenance`` (inside the encrypted records blob, never in a
database row)::

    {"source": <source key>, "file": <file it was read from>, "upload": <upload's file name>,
     "dataset": <dataset id>, "uploader": <uploader's username>, "origin": <what the data says>,
     "time": <when it was written, ISO 8601, when the data says: a JSONL timestamp, an e-mail's Date>}

The **source key** is what stewards mark trusted, untrusted or blocked, what the screen
groups by, and the only part that may appear in plaintext rows (``RiskFlag.source``,
``SourceTrust.source``, the dataset's per-source summary). It is, in order:

* the record's origin, when the data names one: a JSONL ``source`` field or the steward's
  source column (``IngestOptions.source_column``), or ``email:<sender's domain>`` for
  e-mail (an address is always reduced to its domain: the domain names an organization,
  the address a person);
* ``file:<archive>/<member>`` for a record read from an archive member;
* ``uploader:<username>`` otherwise (the whole upload is one source: its uploader's).

Imports no Django: ingestion calls it per record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_SOURCE_CHARS = 200
_LINE_SUFFIX = re.compile(r":\d+$")


@dataclass(frozen=True)
class UploadOrigin:
    """The upload a dataset's records come from."""

    dataset_id: int
    filename: str
    uploader: str


def file_of(location: str) -> str:
    """The file a parser location names: ``t.jsonl:17`` -> ``t.jsonl``,
    ``a.zip/x/b.csv:3`` -> ``a.zip/x/b.csv``."""
    return _LINE_SUFFIX.sub("", location)


def source_key(origin: str, location: str, upload: UploadOrigin) -> str:
    """The source key of a record (see the module docstring), at most MAX_SOURCE_CHARS."""
    if origin:
        return origin[:MAX_SOURCE_CHARS]
    file = file_of(location)
    if "/" in file:
        return f"file:{file}"[:MAX_SOURCE_CHARS]
    return f"uploader:{upload.uploader or '(unknown)'}"[:MAX_SOURCE_CHARS]


def record_provenance(
    origin: str, location: str, upload: UploadOrigin, when: str = ""
) -> dict[str, Any]:
    """The ``provenance`` dict a stored record carries (quotes data: store it encrypted);
    ``time`` when the data says when the record was written."""
    return {
        "time": when,
        "source": source_key(origin, location, upload),
        "file": file_of(location),
        "upload": upload.filename,
        "dataset": upload.dataset_id,
        "uploader": upload.uploader,
        "origin": origin,
    }


def stored_source(record: dict[str, Any]) -> str:
    """The source key of a stored record ("" for records stored before provenance)."""
    provenance = record.get("provenance")
    return str(provenance.get("source", "")) if isinstance(provenance, dict) else ""
