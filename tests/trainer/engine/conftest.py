"""Shared fixtures of the engine tests: a tiny model directory, keys, stores, reporters, records."""

from __future__ import annotations

import pytest
import torch
from engine_testkit import QA, TEXTS, make_small_config, pair_splits, text_splits

from envelope import generate_data_key
from trainer.engine import CheckpointStore, TrainData, build_tiny_model


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
    return text_splits()


@pytest.fixture
def qa_data() -> TrainData:
    return TrainData(train=QA[:30], validation=QA[30:34], test=QA[34:])


@pytest.fixture
def pair_data() -> TrainData:
    return pair_splits()


@pytest.fixture
def small_config():
    """Factory of configs that train the tiny model in about a second."""
    return make_small_config
