"""The one keyed digest of a personal value, as findings keep it.

A finding stores ``value_digest``: the first 128 bits, in hex, of
``pipeline.redaction.value_digest`` (HMAC-SHA256 over the type and the *normalized* value,
the same normalization pseudonyms use: case and blanks folded, separators dropped from
structured identifiers, so "612 34 56 78" and "612345678" are one value for review, for
redaction and for the privacy audit's regurgitation count). The key is per dataset, derived
from its records' data key, so digests of two datasets never compare and a shredded dataset's
digests become meaningless.

Ingestion computed a second digest (case and blanks folded only) until 2026-12;
``recompute_digests`` rewrites a dataset's stored digests (the data migration
``0005_one_value_digest`` runs it on every dataset whose records can still be read).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vault import services as vault

FINDING_DIGEST_LABEL = b"finding-digest"
RECORDS_BLOB = "records.jsonl"


def finding_secret(raw_key: bytes) -> bytes:
    """The HMAC key of a dataset's finding digests, from its records' raw data key."""
    return hashlib.sha256(raw_key + FINDING_DIGEST_LABEL).digest()


def dataset_finding_secret(dataset: Any) -> bytes:
    """``finding_secret`` of a stored dataset (unwraps its records' key: raises when shredded)."""
    return finding_secret(vault.unwrap_data_key(dataset.data_key))


def finding_digest(secret: bytes, entity_type: str, value: str) -> str:
    """What ``Finding.value_digest`` holds for ``value`` found as ``entity_type``."""
    # Imported here: the pipeline package loads spaCy and Presidio, which a web process that
    # imports ingestion's module must not pay for at start.
    from datasets_app.pipeline.redaction import value_digest

    return value_digest(secret, entity_type, value).hex()[:32]


def recompute_digests(dataset: Any, finding_model: Any) -> int:
    """Rewrite the digests of the dataset's findings from its stored records; returns how many
    changed. ``finding_model`` is the Finding model (the migration passes its historical one).
    A dataset without readable records (never ingested, or shredded) is left as it is."""
    from datasets_app.ingestion import record_fields
    from vault.models import DataKey

    # The current DataKey row (vault's functions need it), also under a historical Dataset.
    data_key = DataKey.objects.filter(pk=dataset.data_key_id).first()
    if data_key is None or data_key.is_destroyed:
        return 0
    secret = finding_secret(vault.unwrap_data_key(data_key))
    findings = finding_model.objects.filter(dataset_id=dataset.pk).order_by("record_index")
    by_record: dict[int, list[Any]] = {}
    for finding in findings.iterator():
        by_record.setdefault(finding.record_index, []).append(finding)
    changed: list[Any] = []
    with vault.open_blob(data_key, RECORDS_BLOB) as stream:
        for index, line in enumerate(stream):
            if index not in by_record:
                continue
            fields = dict(record_fields(json.loads(line)))
            for finding in by_record[index]:
                text = fields.get(finding.field)
                if text is None or not 0 <= finding.start < finding.end <= len(text):
                    continue  # a span that no longer fits keeps its digest
                digest = finding_digest(
                    secret, finding.entity_type, text[finding.start : finding.end]
                )
                if digest != finding.value_digest:
                    finding.value_digest = digest
                    changed.append(finding)
    finding_model.objects.bulk_update(changed, ["value_digest"], batch_size=1000)
    return len(changed)
