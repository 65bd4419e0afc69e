"""compile: regional torch.compile of the decoder layers changes speed, never the result."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from trainer.engine import ConfigError, TrainConfig
from trainer.engine.data import tokenize_split
from trainer.engine.distributed import DistContext
from trainer.engine.methods import prepare_model, resolve_compile
from trainer.engine.steps import build_run, flush_losses, train_step


@pytest.fixture
def fast_backend(monkeypatch):
    """aot_eager traces and differentiates the same graphs as inductor without generating C++,
    so the test checks capture (no graph break, no eager fallback) in seconds."""
    monkeypatch.setattr("trainer.engine.modeling.COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def _losses(cfg, data, steps=4):
    prepared = prepare_model(cfg, torch.device("cpu"), train_records=data.train)
    records, _ = tokenize_split(data.train, prepared.tokenizer)
    run = build_run(cfg, DistContext(), torch.device("cpu"), prepared, records, [], pad_id=0)
    for _ in range(steps):
        train_step(run)
    return flush_losses(run)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_compiled_layers_train_exactly_like_eager_ones(
    method, tiny_model_dir, text_data, small_config, fast_backend
):
    eager = _losses(small_config(tiny_model_dir, method=method, compile="off"), text_data)
    assert not counters["stats"]
    compiled = _losses(small_config(tiny_model_dir, method=method, compile="on"), text_data)
    assert counters["stats"]["calls_captured"] > 0  # the layers really ran through dynamo
    assert not counters["graph_break"]  # ...as whole graphs
    assert compiled == pytest.approx(eager, abs=1e-5)


def test_auto_compiles_on_cuda_only(small_config, tiny_model_dir):
    assert TrainConfig.__dataclass_fields__["compile"].default == "auto"
    cfg = small_config(tiny_model_dir, compile="auto")
    assert not resolve_compile(cfg, torch.device("cpu"))
    assert resolve_compile(cfg, torch.device("cuda", 0))
    assert resolve_compile(small_config(tiny_model_dir, compile="on"), torch.device("cpu"))
    assert not resolve_compile(small_config(tiny_model_dir, compile="off"), torch.device("cuda"))


def test_an_unknown_compile_mode_is_refused_by_name(small_config, tiny_model_dir):
    with pytest.raises(ConfigError) as excinfo:
        small_config(tiny_model_dir, compile="max")
    assert excinfo.value.field == "compile"
