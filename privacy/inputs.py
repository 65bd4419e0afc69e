"""What the audit reads, gathered on the platform side as plain data, decrypted in memory only:
the trained model and its base (the reference of the calibrated attack), the approved version's
train and test records, the job's canary plan, and the keyed digests of the personal values the
ingestion found in the raw data, with the function that digests a candidate value the same way
and the platform's detector to find candidates in the model's outputs.

Nothing here is written anywhere; the caller audits the decryption.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datasets_app.digests import RECORDS_BLOB, dataset_finding_secret, finding_digest
from datasets_app.ingestion import detector_for, record_fields
from datasets_app.models import Dataset, Finding
from datasets_app.options import IngestOptions
from trainer.canaries import read_plan
from trainer.engine_io import iter_engine_records
from trainer.models import ModelVersion, TrainingJob
from vault import services as vault

Detect = Callable[[list[str]], list[list[tuple[str, int, int]]]]
PII_PROMPTS = 64  # findings whose preceding text becomes a prompt (the engine samples these)
PROMPT_CHARS = 200


@dataclass
class PlatformInputs:
    """The audit's inputs. ``known_digests``: ``value_digest`` of every personal value found in
    the raw data; ``digest(entity_type, value)`` computes one the same way; ``detect(texts)``
    returns, per text, the ``(entity_type, start, end)`` spans the platform's detector finds;
    ``pii_prompts``: the raw text just before places where a personal value was found."""

    model: Any
    tokenizer: Any
    reference: Any | None
    train: list[dict[str, Any]]
    test: list[dict[str, Any]]
    canary_plan: Any | None
    known_digests: set[str]
    pii_prompts: list[str]
    digest: Callable[[str, str], str]
    detect: Detect


def gather(version: ModelVersion, job: TrainingJob) -> PlatformInputs:
    """Load everything the audit of ``version`` needs (see the module docstring)."""
    model, tokenizer = _trained_model(version)
    train, test = _records(job)
    dataset = job.dataset_version.dataset
    secret = _digest_secret(dataset)
    return PlatformInputs(
        model=model,
        tokenizer=tokenizer,
        reference=_reference_model(job),
        train=train,
        test=test,
        canary_plan=read_plan(job),
        known_digests=set(
            Finding.objects.filter(dataset=dataset)
            .exclude(value_digest="")
            .values_list("value_digest", flat=True)
        ),
        pii_prompts=_pii_prompts(dataset),
        digest=lambda entity_type, value: finding_digest(secret, entity_type, value),
        detect=_detector(dataset),
    )


def _trained_model(version: ModelVersion) -> tuple[Any, Any]:
    from trainer.checkpoints import open_version_store
    from trainer.engine import load_final_model

    model, tokenizer, _config = load_final_model(
        open_version_store(version), device="cpu", merge_adapter=True
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


def _reference_model(job: TrainingJob) -> Any | None:
    """The base model the job started from (None for a model trained from scratch)."""
    import torch

    from trainer.engine.models import load_causal_lm

    if job.base_model is None:
        return None
    return load_causal_lm(job.base_model.path, dtype=torch.float32).eval()


def _records(job: TrainingJob) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, test) records of the approved version; validation counts as held out when the
    test split is empty (small datasets), as in evaluation. Canaries are not among them."""
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for record in iter_engine_records(job):
        splits.setdefault(record.pop("split"), []).append(record)
    return splits["train"], splits["test"] or splits["validation"]


def _digest_secret(dataset: Dataset) -> bytes:
    return dataset_finding_secret(dataset) if dataset.data_key is not None else b""


def _pii_prompts(dataset: Dataset) -> list[str]:
    """The raw (cleaned, unredacted) text before up to ``PII_PROMPTS`` findings, spread over
    the dataset, read from its encrypted records in memory."""
    findings = Finding.objects.filter(dataset=dataset).order_by("record_index", "start")
    total = findings.count()
    if not total or dataset.data_key is None:
        return []
    stride = max(1, total // PII_PROMPTS)
    wanted: dict[int, list[tuple[str, int]]] = {}
    rows = findings.values_list("record_index", "field", "start").iterator()
    for position, (record_index, field, start) in enumerate(rows):
        if position % stride == 0 and position // stride < PII_PROMPTS:
            wanted.setdefault(record_index, []).append((field, start))
    prompts: list[str] = []
    with vault.open_blob(dataset.data_key, RECORDS_BLOB) as stream:
        for index, line in enumerate(stream):
            if index in wanted:
                fields = dict(record_fields(json.loads(line)))
                for field, start in wanted[index]:
                    before = (fields.get(field) or "")[:start][-PROMPT_CHARS:].strip()
                    if before:
                        prompts.append(before)
    return prompts


def _detector(dataset: Dataset) -> Detect:
    detector = detector_for(IngestOptions.from_dict(dataset.options or {}))

    def detect(texts: list[str]) -> list[list[tuple[str, int, int]]]:
        found = detector.detect(texts, ["en"] * len(texts))
        return [[(f.entity_type, f.start, f.end) for f in findings] for findings in found]

    return detect
