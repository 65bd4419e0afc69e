"""Shared fixtures of the engine tests: a tiny model directory, keys, stores, reporters, records."""

from __future__ import annotations

import pytest

from envelope import generate_data_key
from trainer.engine import CheckpointStore, TrainConfig, TrainData, build_tiny_model

TEXTS = [
    f"Invoice {i}: the customer in Valencia paid {i * 7} euros for the quick brown fox service."
    * (1 + i % 3)
    for i in range(40)
]
QA = [{"prompt": f"What is {i} plus {i}?", "completion": f"It is {2 * i}."} for i in range(40)]


class RecordingReporter:
    """Reporter that records everything; stops after `stop_after` should_stop() calls, or raises
    `crash` on the given call (simulates a worker dying mid-run)."""

    def __init__(self, stop_after: int | None = None, crash_at: int | None = None) -> None:
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.events: list[tuple[str, str]] = []
        self.calls = 0
        self.stop_after, self.crash_at = stop_after, crash_at

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self.logs.append((step, dict(metrics)))

    def event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def should_stop(self) -> bool:
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise RuntimeError("simulated worker crash")
        return self.stop_after is not None and self.calls > self.stop_after


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
