"""Encrypted checkpoint store: round trip, retention, and refusal of tampered / foreign files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from envelope import generate_data_key
from trainer.engine import (
    CheckpointError,
    CheckpointTamperedError,
    CheckpointWrongKeyError,
    container,
)
from trainer.engine.state import (
    learning_rate_at,
    load_optimizer_state,
    optimizer_state,
    restore_rng_state,
    rng_state,
)


def _save(store, step, val_loss=None):
    tensors = {"trainable": {"w": torch.full((3, 2), float(step))}}
    return store.save(
        step, {"note": f"step {step}"}, tensors, train_loss=1.0 / step, val_loss=val_loss
    )


def test_checkpoint_round_trips_manifest_tensors_and_blobs(make_store):
    store = make_store()
    tensors = {"trainable": {"a.weight": torch.randn(4, 3)}, "rng": {"cpu": torch.get_rng_state()}}
    info = store.save(
        7, {"loop": {"epoch": 2}}, tensors, train_loss=0.5, val_loss=0.25, blobs={"tok": b"{}"}
    )
    loaded = store.load(info)
    assert loaded.step == 7 and loaded.manifest["loop"] == {"epoch": 2}
    assert torch.equal(loaded.tensors["trainable"]["a.weight"], tensors["trainable"]["a.weight"])
    assert torch.equal(loaded.tensors["rng"]["cpu"], tensors["rng"]["cpu"])
    assert loaded.blobs == {"tok": b"{}"}
    assert (info.step, info.train_loss, info.val_loss, info.path.name) == (
        7,
        0.5,
        0.25,
        "step-000007.ckpt",
    )


def test_files_on_disk_hold_no_plaintext(make_store):
    store = make_store()
    info = store.save(
        1,
        {"secret": "customer-record-XYZ"},
        {"t": {"x": torch.ones(2)}},
        train_loss=1.0,
        val_loss=None,
    )
    assert b"customer-record-XYZ" not in info.path.read_bytes()
    assert not list(store.directory.glob("*.part"))


def test_keeps_last_k_plus_the_best_by_validation_loss(make_store):
    store = make_store(keep_last=2)
    for step, val in [(1, 3.0), (2, 1.0), (3, 2.0), (4, 2.5), (5, None)]:
        _save(store, step, val)
    infos = store.list()
    assert [i.step for i in infos] == [2, 4, 5]
    assert [i.step for i in infos if i.is_best] == [2]
    assert store.latest().step == 5 and store.best().step == 2


def test_tampered_checkpoint_is_refused(make_store):
    store = make_store()
    info = _save(store, 3)
    data = bytearray(info.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    info.path.write_bytes(bytes(data))
    with pytest.raises(CheckpointTamperedError, match="step-000003"):
        store.load(info)


def test_truncated_checkpoint_is_refused(make_store):
    store = make_store()
    info = _save(store, 3)
    info.path.write_bytes(info.path.read_bytes()[:-40])
    with pytest.raises(CheckpointTamperedError):
        store.load(info)


def test_wrong_key_is_refused_with_a_readable_message(make_store):
    info = _save(make_store(), 4)
    other = make_store(key=generate_data_key())
    with pytest.raises(CheckpointWrongKeyError, match="data key"):
        other.load(info)


def test_a_checkpoint_renamed_to_another_step_is_refused(make_store):
    store = make_store()
    old, new = _save(store, 1), _save(store, 2)
    new.path.write_bytes(old.path.read_bytes())  # swap the content of step 2 for step 1's
    with pytest.raises(CheckpointError):
        store.load(store.latest())


def test_files_missing_from_the_index_are_still_listed(make_store):
    store = make_store()
    _save(store, 1)
    (store.directory / "index.ckpt").unlink()
    assert [(i.step, i.val_loss) for i in store.list()] == [(1, None)]


def test_empty_store_has_no_latest(make_store):
    assert make_store().latest() is None and make_store().list() == []


def test_container_rejects_garbage():
    with pytest.raises(container.ContainerError):
        container.unpack(b"definitely not a container")


def test_optimizer_state_round_trips_without_pickle():
    torch.manual_seed(0)
    params = {"a": torch.nn.Parameter(torch.randn(3, 3)), "b": torch.nn.Parameter(torch.randn(3))}
    opt = torch.optim.AdamW(params.values(), lr=0.1, betas=(0.8, 0.9))
    (params["a"].sum() * params["b"].sum()).backward()
    opt.step()
    tensors, manifest = optimizer_state(opt, list(params))
    fresh = torch.optim.AdamW(params.values(), lr=0.5)
    load_optimizer_state(fresh, tensors, manifest, list(params))
    original, restored = opt.state_dict(), fresh.state_dict()
    assert restored["param_groups"] == original["param_groups"]
    for index in original["state"]:
        for key, value in original["state"][index].items():
            assert torch.equal(restored["state"][index][key], value)
    with pytest.raises(ValueError):
        load_optimizer_state(fresh, tensors, manifest, ["x", "y"])


def test_rng_state_round_trips():
    tensors, manifest = rng_state()
    expected = (torch.rand(3), random.random(), np.random.rand())
    restore_rng_state(tensors, manifest)
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_learning_rate_warms_up_then_decays(schedule):
    from trainer.engine import TrainConfig

    cfg = TrainConfig(
        base_model_dir="/m",
        max_steps=100,
        warmup_steps=10,
        learning_rate=1e-3,
        lr_schedule=schedule,
        min_lr_ratio=0.1,
    )
    rates = [learning_rate_at(s, cfg) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a <= b + 1e-15 for a, b in zip(rates[:10], rates[1:10], strict=False))
    if schedule == "constant":
        assert rates[-1] == pytest.approx(1e-3)
    else:
        assert rates[-1] < rates[10] and rates[-1] >= 1e-4 - 1e-12
