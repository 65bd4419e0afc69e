"""The poisoning screen's perplexity outliers: a task on the training queue that scores records
under the base model, samples large datasets and stores RiskFlags while review is open."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app.models import Dataset, RiskFlag
from datasets_app.services import run_ingestion
from trainer import perplexity_screen


@pytest.fixture
def ingested(cast: Any, api_client_for: Any, monkeypatch: Any) -> Dataset:
    monkeypatch.setattr("datasets_app.services._enqueue_ingestion", lambda _id: None)
    lines = [
        {"text": f"Ticket {n}: the printer on floor {n} jams.", "source": "helpdesk"}
        for n in range(30)
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    response = api_client_for(cast.steward).post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("t.jsonl", body), "project": cast.project.pk},
        format="multipart",
    )
    run_ingestion(response.json()["id"])
    return Dataset.objects.get(pk=response.json()["id"])


def test_record_perplexities_ignore_padding_and_are_finite(tiny_model_dir: Any) -> None:
    import torch

    from trainer.engine.models import load_causal_lm, load_tokenizer
    from trainer.engine.record_scoring import record_perplexities

    model = load_causal_lm(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = load_tokenizer(tiny_model_dir)
    short, long = "the printer jams", "the printer on the third floor jams again every morning"
    alone = record_perplexities(model, tokenizer, [short], batch_size=1)[0]
    together = record_perplexities(model, tokenizer, [long, short], batch_size=2)[1]
    assert math.isfinite(alone) and alone > 1
    assert together == pytest.approx(alone, rel=1e-4)
    assert math.isnan(record_perplexities(model, tokenizer, [""])[0])


def test_outliers_become_flags_with_their_source_and_the_sample_is_bounded(
    ingested: Dataset, tiny_base_model: Any, monkeypatch: Any, settings: Any
) -> None:
    settings.PERPLEXITY_SCREEN_SAMPLE = 25
    seen: list[int] = []

    def fake_score(model_dir: str, texts: list[str]) -> list[float]:
        seen.append(len(texts))
        return [5000.0 if "floor 7 " in text else 20.0 + i % 3 for i, text in enumerate(texts)]

    monkeypatch.setattr(perplexity_screen, "_score", fake_score)
    stored = perplexity_screen.screen_dataset_perplexity(ingested.pk)
    assert seen == [25]
    flags = list(RiskFlag.objects.filter(dataset=ingested, detector="perplexity"))
    assert stored == len(flags) <= 1
    if flags:
        assert flags[0].record_index == 7 and flags[0].source == "helpdesk"
    summary = Dataset.objects.get(pk=ingested.pk).screen_summary["perplexity"]
    assert summary["scored"] == 25 and summary["sampled"] is True


def test_a_real_score_under_the_tiny_base_model_runs_end_to_end(
    ingested: Dataset, tiny_base_model: Any
) -> None:
    perplexity_screen.screen_dataset_perplexity(ingested.pk)
    summary = Dataset.objects.get(pk=ingested.pk).screen_summary["perplexity"]
    assert summary == {
        "base_model": "tiny",
        "scored": 30,
        "records": 30,
        "sampled": False,
        "flagged": summary["flagged"],
    }


def test_nothing_is_stored_once_the_dataset_left_review(
    ingested: Dataset, tiny_base_model: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(perplexity_screen, "_score", lambda _d, texts: [10.0] * len(texts))
    Dataset.objects.filter(pk=ingested.pk).update(status="approved")
    assert perplexity_screen.screen_dataset_perplexity(ingested.pk) == 0


def test_the_screen_task_is_routed_to_the_training_queue() -> None:
    from platform_site.celery import app

    assert app.conf.task_routes["trainer.tasks.screen_perplexity"] == {"queue": "training"}
