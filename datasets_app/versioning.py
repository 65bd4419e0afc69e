"""Building approved dataset versions: redaction applied, splits assigned, content hashed.

A version's records blob holds one JSON object per line: the record fields (redacted), ``lang``
and ``split``. Its ``content_hash`` is the SHA-256 of that plaintext, so two versions with the
same hash trained on exactly the same text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import Actor
from datasets_app import ingestion, risk
from datasets_app.models import Dataset, DatasetStatus, DatasetVersion, Decision, Finding
from datasets_app.options import IngestOptions
from vault import services as vault
from vault.models import DataKey

logger = logging.getLogger(__name__)

VERSION_BLOB = "records.jsonl"
FORMAT_VERSION = 1


def redaction_secret(dataset: Dataset) -> bytes:
    """Per-dataset HMAC key for pseudonyms, derived from the records' data key."""
    raw = vault.unwrap_data_key(dataset.data_key)
    return hashlib.sha256(raw + b"pseudonym-secret").digest()


def _findings_by_record(dataset: Dataset) -> Iterator[tuple[int, list[Finding]]]:
    """(record index, applicable findings) in index order; rejected findings are skipped."""
    rows = (
        dataset.findings.exclude(decision=Decision.REJECTED)
        .order_by("record_index", "field", "start")
        .iterator(chunk_size=2000)
    )
    current: list[Finding] = []
    index = -1
    for row in rows:
        if row.record_index != index and current:
            yield index, current
            current = []
        index = row.record_index
        current.append(row)
    if current:
        yield index, current


REIDENTIFICATION_BLOB = "reidentification.json"
REVERSIBLE_OPERATORS = ("placeholder", "surrogate")
# Keys of a stored record that say where it came from; never copied into a redacted record.
PROVENANCE_KEYS = frozenset({"provenance", "origin", "origin_time"})


def redact_record(
    record: dict[str, Any],
    findings: list[Finding],
    options: IngestOptions,
    secret: bytes,
    reid: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any] | None:
    """Apply the findings to each field of one record; None when an operator drops it.

    With ``reid`` (a dict), each placeholder or surrogate written is mapped to its original
    value there, for the encrypted re-identification map. Provenance and origin are left out:
    they may name people and are not redacted (the raw records keep them, encrypted)."""
    from datasets_app.pipeline.pii import Finding as Span
    from datasets_app.pipeline.redaction import redact_text

    _require_applicable(record, findings)
    operators = {**{"DEFAULT": options.operator}, **options.operators_by_type}
    redacted = {k: v for k, v in record.items() if k not in PROVENANCE_KEYS}
    if record.get("messages"):
        redacted["messages"] = [dict(m) for m in record["messages"]]
    for path, text in ingestion.record_fields(record):
        spans = [
            Span(f.start, f.end, f.entity_type, f.score, f.recognizer)
            for f in findings
            if f.field == path and f.end <= len(text)
        ]
        if not spans:
            continue
        by_type = {s.entity_type: operators.get(s.entity_type, options.operator) for s in spans}
        value = redact_text(
            text, spans, operators=by_type, secret=secret, language=record.get("lang") or "en"
        )
        if value is None:
            return None
        if reid is not None:
            _remember(reid, text, spans, by_type, secret, record.get("lang") or "en")
        ingestion.set_field(redacted, path, value)
    return redacted


class UnappliedFinding(ValueError):
    """A kept finding points outside its record's text: redaction fails closed, so no version
    is frozen with a value the reviewer marked still in clear."""


def _require_applicable(record: dict[str, Any], findings: list[Finding]) -> None:
    fields = dict(ingestion.record_fields(record))
    for f in findings:
        text = fields.get(f.field)
        if text is None or not 0 <= f.start < f.end <= len(text):
            raise UnappliedFinding(
                f"Finding {f.pk} ({f.entity_type}) on record {f.record_index} field "
                f"{f.field!r} [{f.start}, {f.end}) cannot be applied; fix or reject it."
            )


def _remember(
    reid: dict, text: str, spans: list, operators: dict, secret: bytes, language: str
) -> None:
    from datasets_app.pipeline.redaction import replacement_for

    for span in spans:
        operator = operators[span.entity_type]
        if operator in REVERSIBLE_OPERATORS:
            value = text[span.start : span.end]
            token = replacement_for(operator, span, value, secret=secret, language=language)
            reid.setdefault(token, {"type": span.entity_type, "value": value})


def iter_redacted(
    dataset: Dataset, options: IngestOptions, reid: dict | None = None, *, withhold: bool = False
) -> Iterator[tuple[int, dict | None]]:
    """Every record of the dataset with the current decisions applied, in order. With
    ``withhold`` a record whose finding cannot be applied is shown as ``{"withheld": reason}``
    instead of raising UnappliedFinding (previews only; versions always fail closed)."""
    for index, _, redacted in iter_original_and_redacted(dataset, options, reid, withhold):
        yield index, redacted


def iter_original_and_redacted(
    dataset: Dataset,
    options: IngestOptions,
    reid: dict | None = None,
    withhold: bool = False,
    skip: Container[int] = (),
) -> Iterator[tuple[int, dict, dict | None]]:
    """(index, original record, redacted record or None when dropped), in order. Records
    whose index is in ``skip`` are not redacted at all (None): they never reach a version."""
    secret = redaction_secret(dataset)
    findings = _findings_by_record(dataset)
    pending = next(findings, None)
    with vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB) as stream:
        for index, line in enumerate(stream):
            record = json.loads(line)
            applicable: list[Finding] = []
            if pending is not None and pending[0] == index:
                applicable = pending[1]
                pending = next(findings, None)
            if index in skip:
                yield index, record, None
                continue
            try:
                redacted = redact_record(record, applicable, options, secret, reid)
            except UnappliedFinding as exc:
                if not withhold:
                    raise
                redacted = {"withheld": str(exc)}
            yield index, record, redacted


@dataclass(frozen=True)
class VersionDraft:
    """A version's blobs, written under their own data key, before its row exists."""

    key: DataKey
    content_hash: str
    split_counts: dict[str, int]
    record_kinds: dict[str, int]
    lineage: dict[str, Any]
    token_stats: dict[str, Any]


def write_version(
    actor: Actor, dataset: Dataset, options: IngestOptions, *, pending_redacted: int
) -> VersionDraft:
    """Write the redacted, split records (and the re-identification map) under a new data key.

    Creates no version row: ``store_version`` does, in the caller's transaction, so the row
    and the approval's audit entry commit together. A caller that fails before then discards
    ``draft.key`` (``vault.discard_data_key``).
    """
    from datasets_app.pipeline.splits import assign_split, normalize_for_split

    key, _ = vault.create_data_key("dataset-version", parent=dataset.data_key)
    digest = hashlib.sha256()
    splits: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    dropped = 0
    reid: dict[str, dict[str, str]] | None = {} if options.reidentification_map else None
    # Records with an accepted risk flag (dropped or quarantined) never reach a version.
    excluded = risk.excluded_records(dataset)
    left_out: Counter[str] = Counter()
    with vault.blob_writer(key, VERSION_BLOB) as out:
        for index, original, record in iter_original_and_redacted(
            dataset, options, reid, skip=excluded
        ):
            if index in excluded:
                left_out[excluded[index]] += 1
                continue
            if record is None:
                dropped += 1
                continue
            # The split hashes the text before redaction: pseudonyms depend on the dataset's
            # key, and the same data must land in the same split on every upload.
            text = ingestion.split_text(original)
            record["split"] = assign_split(
                normalize_for_split(text), seed=options.split_seed, ratios=options.split_ratios
            )
            line = json.dumps(record, ensure_ascii=False, sort_keys=True).encode() + b"\n"
            digest.update(line)
            out.write(line)
            splits[record["split"]] += 1
            kinds[record["kind"]] += 1
    decisions = Counter(dataset.findings.values_list("decision", flat=True))
    lineage = {
        "format_version": FORMAT_VERSION,
        "raw_sha256": dataset.raw_sha256,
        "source_name": dataset.source_name,
        "cleaning": options.cleaning,
        "detector": dataset.pii_summary.get("detector", {}),
        "decisions": dict(decisions),
        "pending_redacted": pending_redacted,
        "dropped_by_operator": dropped,
        "operator": options.operator,
        "operators_by_type": options.operators_by_type,
        "split_seed": options.split_seed,
        "reidentification_map": reid is not None,
        "split_ratios": list(options.split_ratios),
        "screen": {**risk.lineage(dataset), "left_out": dict(left_out)},
        "approver": actor.username,
        "approved_at": timezone.now().isoformat(),
    }
    if reid is not None:
        vault.write_blob(key, REIDENTIFICATION_BLOB, json.dumps(reid, ensure_ascii=False).encode())
    return VersionDraft(
        key=key,
        content_hash=digest.hexdigest(),
        split_counts=dict(splits),
        record_kinds=dict(kinds),
        lineage=lineage,
        token_stats=compute_token_stats(key),
    )


class ConcurrentApproval(Exception):
    """The dataset left review while its version was written: another approval won."""


def store_version(actor: Actor, dataset: Dataset, draft: VersionDraft) -> DatasetVersion:
    """Create the next version row from ``draft`` and mark the dataset approved, claimed
    with a conditional update (ConcurrentApproval when the dataset is no longer in review).

    Must run inside the caller's ``transaction.atomic()`` (checked), the one that also writes
    the approval's audit entry: the version exists if and only if its approval is audited.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("store_version must run inside the approval's transaction.")
    # Claim the approval first (conditional update): of two approvals racing, one wins.
    if not Dataset.objects.filter(pk=dataset.pk, status=DatasetStatus.NEEDS_REVIEW).update(
        status=DatasetStatus.APPROVED
    ):
        raise ConcurrentApproval("The dataset is no longer in review; it was not approved again.")
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = DatasetVersion.objects.create(
        token_stats=draft.token_stats,
        dataset=dataset,
        number=number,
        data_key=draft.key,
        content_hash=draft.content_hash,
        record_count=sum(draft.split_counts.values()),
        split_counts=draft.split_counts,
        record_kinds=draft.record_kinds,
        lineage=draft.lineage,
        approved_by=actor.user,
    )
    return version


STATS_SAMPLE = 20_000
# Rough CPU training speed of the default base model, for the per-epoch time estimate.
DEFAULT_TOKENS_PER_SECOND = 400.0


@dataclass(frozen=True)
class StatsTokenizer:
    """The tokenizer a new version's tokens are counted with: a local model directory."""

    name: str
    path: str
    max_seq_len: int


StatsTokenizerSource = Callable[[], StatsTokenizer | None]
_stats_tokenizer: list[StatsTokenizerSource] = []


def use_stats_tokenizer(source: StatsTokenizerSource) -> None:
    """Count tokens with the tokenizer ``source()`` names (None: no statistics). The app that
    owns base models calls this once from its ``AppConfig.ready`` (``trainer``: the default
    base model's), so that datasets_app never imports it."""
    _stats_tokenizer[:] = [source]


def stats_tokenizer() -> StatsTokenizer | None:
    """The tokenizer to count with, or None when no app provides one."""
    return _stats_tokenizer[0]() if _stats_tokenizer else None


def compute_token_stats(key: Any, *, seq_len: int = 1024) -> dict[str, Any]:
    """Token statistics of a version's records with the default base model's tokenizer (on up
    to ``STATS_SAMPLE`` records, scaled up); empty when no base model is registered or its
    tokenizer cannot be loaded (the statistics inform, they must not block an approval)."""
    from datasets_app.pipeline.stats import token_stats

    base = stats_tokenizer()
    if base is None:
        return {}
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base.path, local_files_only=True)
    except (OSError, ValueError) as exc:
        logger.warning("no token statistics: the tokenizer of %s did not load: %s", base.name, exc)
        return {}
    texts: list[str] = []
    with vault.open_blob(key, VERSION_BLOB) as stream:
        for line in stream:
            record = json.loads(line)
            texts.append(ingestion.trained_text(record))
            if len(texts) >= STATS_SAMPLE:
                break
    stats = token_stats(
        texts,
        tokenizer,
        max_seq_len=min(seq_len, base.max_seq_len),
        tokens_per_second=DEFAULT_TOKENS_PER_SECOND,
    )
    stats["tokenizer"] = base.name
    stats["sampled"] = len(texts) >= STATS_SAMPLE
    return stats


def iter_version_records(version: DatasetVersion) -> Iterator[dict[str, Any]]:
    """Decrypt and yield every record of a version (memory: one segment at a time)."""
    with vault.open_blob(version.data_key, VERSION_BLOB) as stream:
        for line in stream:
            yield json.loads(line)


def read_version_records(version: DatasetVersion, offset: int, limit: int) -> list[dict]:
    """A page of a version's records."""
    return ingestion.read_slice(vault.open_blob(version.data_key, VERSION_BLOB), offset, limit)


def preview_redacted(dataset: Dataset, offset: int, limit: int) -> list[dict]:
    """A page of records as they would be redacted with the current decisions."""
    if dataset.data_key_id is None:
        return []
    options = IngestOptions.from_dict(dataset.options)
    page: list[dict] = []
    for index, record in iter_redacted(dataset, options, withhold=True):
        if index < offset:
            continue
        if index >= offset + limit:
            break
        page.append(record if record is not None else {"dropped": True})
    return page
