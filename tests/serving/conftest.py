"""Fixtures of the serving tests: the official ``openai`` client pointed at the live server,
raw tokens and deployment keys, a fake PII detector (fast ingestion) and a fine-tuned tiny
model version produced in-process."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import run_training_job

from audit.services import Actor


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Any:
    """Each test starts with no model in memory (ids are reused after a flush)."""
    from serving.registry import CACHE

    CACHE.clear()
    yield
    CACHE.clear()


@pytest.fixture
def raw_token(db: Any) -> Callable[..., str]:
    """``make(user, scopes=None)`` -> a raw user API token."""
    from accounts.services import issue_api_token

    def make(user: Any, scopes: list[str] | None = None) -> str:
        return issue_api_token(Actor(user=user), user, scopes=scopes).raw

    return make


@pytest.fixture
def openai_for(live_server: Any) -> Callable[..., Any]:
    """``make(api_key, project=None)`` -> an ``openai.OpenAI`` client on the live server
    (no retries, so a 429 surfaces at once)."""
    import openai

    def make(api_key: str, project: str | None = None) -> Any:
        return openai.OpenAI(
            base_url=live_server.url + "/v1",
            api_key=api_key,
            max_retries=0,
            timeout=120,
            project=project,
        )

    return make


class FakeDetector:
    """Finds e-mail addresses only, without loading spaCy (ingestion in milliseconds)."""

    def detect(self, texts: list[str], languages: list[str]) -> list[list[Any]]:
        import re

        from datasets_app.pipeline.pii_types import Finding

        pattern = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
        return [
            [
                Finding(m.start(), m.end(), "EMAIL_ADDRESS", 1.0, "fake")
                for m in pattern.finditer(text)
            ]
            for text in texts
        ]

    def new_value_index(self) -> Any:
        class Index:
            def add(self, text: str, findings: Any) -> None:
                return None

            def __len__(self) -> int:
                return 0

        return Index()

    def versions(self) -> dict[str, Any]:
        return {"detector": "fake"}


@pytest.fixture
def fake_detector(monkeypatch: pytest.MonkeyPatch) -> FakeDetector:
    detector = FakeDetector()
    monkeypatch.setattr("datasets_app.ingestion.detector_for", lambda _options, **_kwargs: detector)
    monkeypatch.setattr("datasets_app.pipeline.language.detect_language", lambda _text: "en")
    return detector


@pytest.fixture
def inline_ingestion(monkeypatch: pytest.MonkeyPatch, fake_detector: FakeDetector) -> None:
    """Uploads are ingested in the request (through the Celery task, as a worker runs it) and
    training messages go nowhere (tests run jobs in-process)."""
    from datasets_app.tasks import ingest_dataset

    monkeypatch.setattr(
        "datasets_app.services._enqueue_ingestion",
        lambda dataset_id: ingest_dataset.apply(args=[dataset_id]),
    )
    monkeypatch.setattr("trainer.services.enqueue_job", lambda _id: None)


_TRAINED: dict[str, Any] = {}


@pytest.fixture(scope="session")
def _trained_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trained-model")


@pytest.fixture
def fine_tuned_version(
    cast: Any,
    tiny_base_model: Any,
    approved_version: Any,
    tiny_hyperparameters: dict,
    monkeypatch: pytest.MonkeyPatch,
    _trained_copy: Path,
) -> Any:
    """A succeeded LoRA job on the tiny model and its encrypted ModelVersion.

    The first use trains for real (~5 s); later uses recreate the rows around the same
    encrypted store (same data key, re-wrapped; blobs restored from a pristine copy, since a
    test may shred them), which is what training would have left behind.
    """
    from trainer import services

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    if not _TRAINED:
        return _train_once(
            cast,
            tiny_base_model,
            approved_version,
            tiny_hyperparameters | {"eval_generate_records": 0},
            _trained_copy,
        )
    return _restore(cast, tiny_base_model, approved_version)


def _train_once(cast: Any, base: Any, version: Any, hyperparameters: dict, copy: Path) -> Any:
    from trainer import services
    from trainer.models import ModelVersion
    from vault import services as vault

    job = services.create_job(
        Actor(user=cast.engineer),
        version,
        base_model=base,
        method="lora",
        hyperparameters=hyperparameters,
    )
    job = run_training_job(job.pk)
    assert job.status == "succeeded", job.error
    model_version = ModelVersion.objects.get(job=job)
    shutil.copytree(vault.blob_dir(job.data_key), copy / "blobs")
    _TRAINED.update(
        key_id=job.data_key.pk,
        raw=vault.unwrap_data_key(job.data_key),
        hyperparameters=job.hyperparameters,
        evaluation=job.evaluation,
        progress=job.progress,
        artifact_dir=model_version.artifact_dir,
        metrics=model_version.metrics,
        lineage=model_version.lineage,
        copy=copy,
    )
    return model_version


def _restore(cast: Any, base: Any, version: Any) -> Any:
    from django.utils import timezone

    from trainer.models import ModelVersion, TrainingJob
    from vault import services as vault
    from vault.models import DataKey

    provider = vault.master_key_provider()
    key = DataKey(
        id=_TRAINED["key_id"], purpose="job", parent=version.data_key, master_key_id=provider.key_id
    )
    key.wrapped_key = provider.wrap(_TRAINED["raw"], context=key.artifact_id)
    key.save()
    target = vault.blob_dir(key)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(_TRAINED["copy"] / "blobs", target)
    job = TrainingJob.objects.create(
        project=cast.project,
        dataset_version=version,
        base_model=base,
        method="lora",
        hyperparameters=_TRAINED["hyperparameters"],
        status="succeeded",
        created_by=cast.engineer,
        data_key=key,
        evaluation=_TRAINED["evaluation"],
        progress=_TRAINED["progress"],
        finished_at=timezone.now(),
        attempts=1,
    )
    return ModelVersion.objects.create(
        project=cast.project,
        job=job,
        name=f"tiny-lora-job{job.pk}",
        data_key=key,
        artifact_dir=_TRAINED["artifact_dir"],
        metrics=_TRAINED["metrics"],
        lineage=_TRAINED["lineage"],
    )
