"""Shared fixtures: a cast of users around one project, API clients with real tokens, and a
tiny model built in code (registered as a base model)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Fallbacks for running pytest directly (make test sets both). Django reads them at import.
os.environ.setdefault("SOBERANA_ENV", "test")
os.environ.setdefault("SOBERANA_DATA_DIR", tempfile.mkdtemp(prefix="soberana-test-"))

import pytest

CAST_ROLES = ("owner", "steward", "engineer", "viewer")


@dataclass
class Cast:
    """A project and one user per role, plus an outsider and a platform admin."""

    project: Any
    users: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.users[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@pytest.fixture
def cast(db: Any) -> Cast:
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Project

    users_model = get_user_model()
    project = Project.objects.create(name="Acme support")
    users: dict[str, Any] = {}
    for role in CAST_ROLES:
        users[role] = users_model.objects.create_user(role, f"{role}@example.org", "pw-Long-123!")
        Membership.objects.create(project=project, user=users[role], role=role)
    users["outsider"] = users_model.objects.create_user("outsider", "", "pw-Long-123!")
    users["admin"] = users_model.objects.create_superuser("root", "", "pw-Long-123!")
    return Cast(project=project, users=users)


@pytest.fixture
def api_client_for(db: Any) -> Callable[..., Any]:
    """Returns ``make(user, scopes=...)`` -> an APIClient sending a real bearer token."""
    from rest_framework.test import APIClient

    from accounts.services import issue_api_token
    from audit.services import Actor

    def make(user: Any, scopes: list[str] | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            scopes = scopes or (["read", "write", "admin"] if user.is_superuser else None)
            raw = issue_api_token(Actor(user=user), user, scopes=scopes).raw
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama + byte-level BPE tokenizer, built in code (no downloads)."""
    from trainer.engine import build_tiny_model

    return Path(build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model"))


@pytest.fixture(scope="session")
def tiny_loaded_model(tiny_model_dir: Path) -> Any:
    """The tiny model loaded on the CPU as serving loads it (``serving.generation.LoadedModel``)."""
    import torch

    from serving import generation
    from trainer.engine.models import load_causal_lm, load_tokenizer

    model = load_causal_lm(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = load_tokenizer(tiny_model_dir)
    context = generation.context_length_of(model, tokenizer)
    return generation.LoadedModel("tiny", model, tokenizer, context, torch.device("cpu"))


@pytest.fixture
def tiny_base_model(db: Any, tiny_model_dir: Path) -> Any:
    from trainer.base_models import register_base_model

    return register_base_model("tiny", tiny_model_dir, source="tests", default=True)


TINY_HYPERPARAMETERS = {
    "max_steps": 6,
    "batch_size": 2,
    "seq_len": 64,
    "checkpoint_every": 3,
    "eval_every": 3,
    "warmup_steps": 1,
    "learning_rate": 5e-3,
    "lora_r": 4,
    "lora_alpha": 8,
    "device": "cpu",
}


@pytest.fixture
def tiny_hyperparameters() -> dict[str, Any]:
    return dict(TINY_HYPERPARAMETERS)


def make_approved_version(project: Any, records: list[dict[str, Any]], uploader: Any = None) -> Any:
    """An approved dataset version holding ``records`` (each needs a ``split``), written
    through the real encrypted store but skipping ingestion (fast)."""
    import hashlib
    import json

    from datasets_app.models import Dataset, DatasetStatus, DatasetVersion
    from vault.services import create_data_key, write_blob

    raw_key, _ = create_data_key("upload")
    data_key, _ = create_data_key("dataset-records", parent=raw_key)
    version_key, _ = create_data_key("dataset-version", parent=data_key)
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    write_blob(version_key, "records.jsonl", payload)
    dataset = Dataset.objects.create(
        project=project,
        name="fixture",
        status=DatasetStatus.APPROVED,
        uploaded_by=uploader,
        source_name="fixture.jsonl",
        raw_key=raw_key,
        data_key=data_key,
        raw_sha256="0" * 64,
        record_count=len(records),
    )
    splits: dict[str, int] = {}
    for record in records:
        splits[record["split"]] = splits.get(record["split"], 0) + 1
    return DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        data_key=version_key,
        content_hash=hashlib.sha256(payload).hexdigest(),
        record_count=len(records),
        split_counts=splits,
        lineage={},
    )


def fixture_records(n: int = 40) -> list[dict[str, Any]]:
    splits = ["train"] * 8 + ["validation", "test"]
    return [
        {
            "kind": "text",
            "text": f"Record {i}: the quick brown fox {i % 7} jumps over the lazy dog.",
            "split": splits[i % 10],
        }
        for i in range(n)
    ]


@pytest.fixture
def approved_version_of() -> Any:
    """``make(project, records, uploader=None)`` -> an approved dataset version holding
    ``records`` (``make_approved_version``), for tests outside this file."""
    return make_approved_version


@pytest.fixture
def approved_version(cast: Cast) -> Any:
    return make_approved_version(cast.project, fixture_records(), uploader=cast.steward)


def make_review_dataset(
    project: Any,
    records: list[dict[str, Any]],
    findings: list[tuple[int, int, int, str, float]],
    *,
    uploader: Any = None,
    name: str = "tickets",
    raw_too: bool = False,
) -> Any:
    """A dataset in ``needs_review`` holding ``records`` in its encrypted records blob (and as
    its raw upload when ``raw_too``), with ``findings`` given as ``(record_index, start, end,
    entity_type, score)`` pending on the ``text`` field; skips ingestion (fast)."""
    import json

    from datasets_app.ingestion import RECORDS_BLOB
    from datasets_app.models import Dataset, DatasetStatus, Finding
    from vault.services import create_data_key, write_blob

    lines = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    raw_key, _ = create_data_key("upload")
    if raw_too:
        write_blob(raw_key, "raw", lines)
    data_key, _ = create_data_key("dataset-records", parent=raw_key)
    write_blob(data_key, RECORDS_BLOB, lines)
    dataset = Dataset.objects.create(
        project=project,
        name=name,
        status=DatasetStatus.NEEDS_REVIEW,
        uploaded_by=uploader,
        source_name=f"{name.replace(' ', '-')}.jsonl",
        raw_key=raw_key,
        data_key=data_key,
        raw_sha256="0" * 64,
        record_count=len(records),
    )
    for record_index, start, end, entity_type, score in findings:
        Finding.objects.create(
            dataset=dataset,
            record_index=record_index,
            start=start,
            end=end,
            entity_type=entity_type,
            score=score,
            recognizer="test",
        )
    return dataset


@pytest.fixture
def review_dataset_from(cast: Cast) -> Any:
    """``make(records, findings, **options)`` -> ``make_review_dataset`` in the cast's project,
    uploaded by the steward."""

    def make(records: list[dict[str, Any]], findings: list[Any], **options: Any) -> Any:
        return make_review_dataset(
            cast.project, records, findings, uploader=cast.steward, **options
        )

    return make


@pytest.fixture
def version_from_records(cast: Cast) -> Any:
    """``make(records)`` -> an approved version of the cast's project holding ``records``;
    ``make.default_records()`` gives the standard fixture records to tweak."""

    def make(records: list[dict[str, Any]]) -> Any:
        return make_approved_version(cast.project, records, uploader=cast.steward)

    make.default_records = fixture_records  # type: ignore[attr-defined]
    return make


@pytest.fixture
def received() -> Any:
    """``listen(signal)`` -> a list that gets the arguments of each send of ``signal`` (a dict,
    ``sender`` included, ``signal`` left out) for the rest of the test."""
    connected: list[tuple[Any, Callable[..., None]]] = []

    def listen(signal: Any) -> list[dict[str, Any]]:
        sends: list[dict[str, Any]] = []

        def record(signal: Any, **arguments: Any) -> None:
            sends.append(arguments)

        signal.connect(record, weak=False)
        connected.append((signal, record))
        return sends

    yield listen
    for signal, record in connected:
        signal.disconnect(record)
