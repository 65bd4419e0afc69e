"""Shared fixtures of the engine tests: a tiny model directory, keys, stores, reporters, records."""

from __future__ import annotations

import pytest
import torch
from engine_testkit import QA, TEXTS

from envelope import generate_data_key
from trainer.engine import CheckpointStore, TrainConfig, TrainData, build_tiny_model


@pytest.fixture(scope="session", autouse=True)
def _single_cpu_thread():
    """The tiny model gains nothing from intra-op threads, and on a shared CI box OpenMP threads
    contending for cores make every matmul orders of magnitude slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    corpus = TEXTS + [q["prompt"] + " " + q["completion"] for q in QA]
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", vocab_corpus=corpus))


@pytest.fixture(scope="session")
def data_key() -> bytes:
    return generate_data_key()


@pytest.fixture
def make_store(tmp_path, data_key):
    def make(name: str = "ckpt", key: bytes | None = None, keep_last: int = 2) -> CheckpointStore:
        return CheckpointStore(
            tmp_path / name,
            key or data_key,
            key_id="test-key",
            artifact_id="job-1",
            keep_last=keep_last,
        )

    return make


@pytest.fixture
def text_data() -> TrainData:
    return TrainData(
        train=[{"text": t} for t in TEXTS[:32]],
        validation=[{"text": t} for t in TEXTS[32:36]],
        test=[{"text": t} for t in TEXTS[36:]],
    )


@pytest.fixture
def qa_data() -> TrainData:
    return TrainData(train=QA[:30], validation=QA[30:34], test=QA[34:])


@pytest.fixture
def small_config():
    """Factory of configs that train the tiny model in about a second."""
    return make_small_config


def make_small_config(model_dir: str | None, **overrides) -> TrainConfig:
    settings = dict(
        method="lora",
        base_model_dir=model_dir,
        max_steps=12,
        batch_size=2,
        seq_len=96,
        learning_rate=3e-3,
        eval_every=6,
        checkpoint_every=6,
        log_interval_s=0.0,
        scratch_vocab_size=320,
        device="cpu",
    )
    settings.update(overrides)
    return TrainConfig(**settings)
