"""The default base model: SmolLM2-135M-Instruct converted once from the packaged GGUF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.services import Actor
from trainer import evaluations, runner, services
from trainer import lease as leases
from trainer.base_models import BaseModelError, ensure_default_base_model, register_base_model
from trainer.models import JobStatus, ModelVersion
from trainer.tasks import evaluate_model_version

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_default_model_is_converted_once_registered_and_trains_on_real_weights(
    cast: Any, approved_version: Any, monkeypatch: Any
) -> None:
    model = ensure_default_base_model()
    weights = sorted(Path(model.path).glob("*.safetensors"))
    assert model.is_default and weights
    assert 130_000_000 < model.parameters < 140_000_000
    mtime = weights[0].stat().st_mtime_ns
    again = ensure_default_base_model()  # no second conversion
    assert again.pk == model.pk and weights[0].stat().st_mtime_ns == mtime

    monkeypatch.setattr(services, "enqueue_job", lambda _id: None)
    monkeypatch.setattr(evaluations, "enqueue_evaluation", lambda _id: None)
    job = services.create_job(
        Actor(user=cast.engineer),
        approved_version,
        base_model=model,
        method="lora",
        hyperparameters={
            "max_steps": 2,
            "batch_size": 1,
            "seq_len": 64,
            "checkpoint_every": 2,
            "eval_every": 2,
            "device": "cpu",
        },
    )
    lease = leases.claim_job(job.pk, "test")
    runner.run_claimed_job(lease)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    evaluate_model_version(ModelVersion.objects.get(job=job).pk)
    job.refresh_from_db()
    assert job.evaluation_status == "done", job.evaluation_error
    assert job.evaluation["base"]["perplexity"] > 1


def test_a_directory_that_is_not_a_causal_lm_is_refused(tmp_path: Path, db: Any) -> None:
    (tmp_path / "config.json").write_text('{"architectures": ["BertForMaskedLM"]}')
    with pytest.raises(BaseModelError, match="not a causal language model"):
        register_base_model("bert", tmp_path)


def test_a_directory_with_pickled_weights_only_is_refused(tmp_path: Path, db: Any) -> None:
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(BaseModelError, match="pickled weights are refused"):
        register_base_model("pickled", tmp_path)
