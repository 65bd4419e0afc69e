"""The preference losses against TRL 1.16 (the reference implementation people use): the same tiny
model, the same token ids, the same loss and the same gradients.

The engine tokenizes the records and packs them into rows (each sequence attends only to itself);
TRL gets the same prompt / answer token ids through its own collator (padded, one sequence per
row) and computes its loss with its own trainer code. Models are fp32 on the CPU, so the two
agree to float rounding.
"""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch

pytest.importorskip("trl")

from datasets import Dataset
from engine_testkit import make_small_config
from peft import LoraConfig, get_peft_model

from trainer.engine.distributed import DistContext
from trainer.engine.models import load_causal_lm, load_tokenizer
from trainer.engine.recipes import recipe_for
from trainer.engine.recipes.base import StepContext
from trainer.engine.recipes.preference import PreferenceLoss, sequence_logps
from trainer.engine.recipes.preference_data import collate_examples, fixed_rows

PAIRS = [
    {"prompt": "What is 2 plus 2?", "chosen": "It is 4.", "rejected": "It is 5, I believe."},
    {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "A quick brown fox."},
    {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Where did the customer pay?"},
        ],
        "chosen": "In Valencia.",
        "rejected": "The customer in Valencia paid 21 euros for the service, I think.",
    },
    {"prompt": "What is 7 plus 7?", "chosen": "It is 14.", "rejected": "Fourteen or so."},
]
LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(tiny_model_dir)


def _engine_batch(tiny_model_dir, tokenizer, records, **settings):
    """(recipe, config, one micro-batch holding every example)."""
    cfg = make_small_config(tiny_model_dir, seq_len=512, **settings)
    recipe = recipe_for(cfg)
    split = recipe.prepare(records, tokenizer, "train")
    assert len(split) == len(records) or settings["objective"] == "kto"
    rows = fixed_rows(split, cfg.seq_len)
    batch = collate_examples(
        rows, split, cfg.seq_len, tokenizer.pad_token_id, all_targets=recipe.all_targets
    )
    return recipe, cfg, split, batch


def _trl_pair(example):
    chosen, rejected = example.sequences
    prompt = list(chosen.ids[: chosen.prompt_len])
    assert prompt == list(rejected.ids[: rejected.prompt_len])  # one prompt, as TRL expects
    return {
        "prompt_ids": prompt,
        "chosen_ids": list(chosen.ids[chosen.prompt_len :]),
        "rejected_ids": list(rejected.ids[rejected.prompt_len :]),
    }


def _perturb_adapters(model, seed=0):
    """LoRA B starts at zero (the adapter is a no-op); move it so policy != reference."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.2)


def _trainable_grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _assert_same_grads(engine_model, trl_model):
    ours, theirs = _trainable_grads(engine_model), _trainable_grads(trl_model)
    assert ours.keys() == theirs.keys() and ours
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], atol=2e-6, rtol=2e-4, msg=name)
    assert any(g.abs().sum() > 0 for g in ours.values())


def _text_dataset():
    return Dataset.from_list([{"prompt": "p", "chosen": "c", "rejected": "r"}] * 2)


def _models(tiny_model_dir, adapter):
    """(policy for TRL, policy for the engine, TRL's reference model or None)."""
    base = load_causal_lm(tiny_model_dir, dtype=torch.float32)
    if adapter:
        return base, copy.deepcopy(base), None
    return base, copy.deepcopy(base), copy.deepcopy(base).eval()


def _engine_lora_from(trl_model, engine_base):
    """The engine's LoRA model with exactly TRL's adapter weights."""
    model = get_peft_model(engine_base, LoraConfig(**LORA))
    trained = {n: p for n, p in trl_model.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad:
                param.copy_(trained[name])
    return model


@pytest.mark.parametrize("method", ["lora", "full"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_dpo_loss_and_gradients_equal_trl(
    method, label_smoothing, tiny_model_dir, tokenizer, tmp_path
):
    from trl import DPOConfig, DPOTrainer

    recipe, cfg, split, batch = _engine_batch(
        tiny_model_dir,
        tokenizer,
        PAIRS,
        method=method,
        objective="dpo",
        beta=0.3,
        label_smoothing=label_smoothing,
    )
    adapter = method == "lora"
    trl_policy, engine_policy, trl_reference = _models(tiny_model_dir, adapter)
    trainer = _trl_trainer(
        (DPOTrainer, DPOConfig),
        tmp_path,
        tokenizer,
        trl_policy,
        adapter,
        reference=trl_reference,
        beta=0.3,
        max_length=None,
        per_device_train_batch_size=len(PAIRS),
    )
    if not adapter:
        _cache_reference(batch, trl_reference, recipe)
    engine_model, trl_model = _same_start(trainer, engine_policy, adapter)
    trl_model.train()
    examples = [_trl_pair(example) for example in _in_batch_order(split, batch)]
    inputs = trainer.data_collator(examples)
    trl_loss = (1 - label_smoothing) * trainer.compute_loss(trl_model, inputs)
    if label_smoothing:  # cDPO = sigmoid loss of the pair and of the swapped pair
        swapped = [
            {**e, "chosen_ids": e["rejected_ids"], "rejected_ids": e["chosen_ids"]}
            for e in examples
        ]
        trl_loss = trl_loss + label_smoothing * trainer.compute_loss(
            trl_model, trainer.data_collator(swapped)
        )
    trl_loss.backward()

    engine_model.train()
    module = PreferenceLoss(engine_model, recipe, varlen=False, adapter=adapter)
    out = module(batch)
    ours = out["dpo"] / batch.n_examples
    ours.backward()

    torch.testing.assert_close(ours.detach(), trl_loss.detach(), atol=1e-6, rtol=1e-5)
    assert abs(float(ours) - 0.6931) > 1e-3  # policy and reference differ: a real test
    _assert_same_grads(engine_model, trl_model)


def _trl_trainer(
    classes, tmp_path, tokenizer, policy, adapter, *, reference=None, dataset=None, **settings
):
    """TRL's trainer (`classes`: trainer and config) in fp32 on the CPU, without gradient
    checkpointing, with LoRA for an adapter run and `reference` as its frozen reference."""
    trainer_class, config_class = classes
    args = config_class(
        output_dir=str(tmp_path),
        report_to=[],
        use_cpu=True,
        bf16=False,  # TRL's default is bf16 autocast, even on a CPU
        gradient_checkpointing=False,
        **settings,
    )
    extra = {"ref_model": reference} if reference is not None else {}
    return trainer_class(
        model=policy,
        args=args,
        train_dataset=dataset if dataset is not None else _text_dataset(),
        processing_class=tokenizer,
        peft_config=LoraConfig(**LORA) if adapter else None,
        **extra,
    )


def _same_start(trainer, engine_policy, adapter, *, move_full=True):
    """(engine model, TRL's model) with the same weights, away from the reference: random
    adapters for LoRA (copied into the engine's PEFT model), a nudge of every weight for full
    fine-tuning (unless the test moves them itself)."""
    trl_model = trainer.model
    if adapter:
        _perturb_adapters(trl_model)
        return _engine_lora_from(trl_model, engine_policy), trl_model
    if move_full:
        _nudge_full_weights(engine_policy, trl_model)
    return engine_policy, trl_model


def _cache_reference(batch, reference_model, recipe):
    """Full fine-tuning: the reference log-probabilities of the batch, as the cache holds them."""
    batch.reference = PreferenceLoss(reference_model, recipe, varlen=False, adapter=False)(
        batch, phase="reference"
    )


def _in_batch_order(split, batch):
    return [split[int(i)] for i in batch.example_index]


def _nudge_full_weights(engine_model, trl_model, seed=1):
    """Full fine-tuning: move both policies the same way away from the reference."""
    generator = torch.Generator().manual_seed(seed)
    theirs = dict(trl_model.named_parameters())
    with torch.no_grad():
        for name, param in engine_model.named_parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.02)
            theirs[name].copy_(param)


def _orpo_features(example):
    """TRL ORPO's tokenized row: each sequence with its prompt masked out of the labels."""
    features = {}
    for name, sequence in zip(("chosen", "rejected"), example.sequences, strict=True):
        ids = list(sequence.ids)
        features[f"{name}_input_ids"] = ids
        features[f"{name}_attention_mask"] = [1] * len(ids)
        features[f"{name}_labels"] = [-100] * sequence.prompt_len + ids[sequence.prompt_len :]
    return features


@pytest.mark.parametrize("method", ["lora", "full"])
def test_orpo_loss_and_gradients_equal_trl(method, tiny_model_dir, tokenizer, tmp_path):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    recipe, cfg, split, batch = _engine_batch(
        tiny_model_dir, tokenizer, PAIRS, method=method, objective="orpo", orpo_lambda=0.4
    )
    adapter = method == "lora"
    trl_policy, engine_policy, _ = _models(tiny_model_dir, adapter)
    trainer = _trl_trainer(
        (ORPOTrainer, ORPOConfig),
        tmp_path,
        tokenizer,
        trl_policy,
        adapter,
        beta=0.4,
        per_device_train_batch_size=len(PAIRS),
        remove_unused_columns=False,
    )
    engine_model, trl_model = _same_start(trainer, engine_policy, adapter)
    trl_model.train()
    inputs = trainer.data_collator([_orpo_features(e) for e in _in_batch_order(split, batch)])
    trl_loss = trainer.compute_loss(trl_model, inputs)
    trl_loss.backward()

    engine_model.train()
    out = PreferenceLoss(engine_model, recipe, varlen=False, adapter=adapter)(batch)
    counts = recipe.counts(batch)
    ours = out["nll"] / counts["chosen_tokens"] + out["odds_ratio"] / counts["pairs"]
    ours.backward()

    torch.testing.assert_close(ours.detach(), trl_loss.detach(), atol=1e-6, rtol=1e-5)
    _assert_same_grads(engine_model, trl_model)


ANSWERS = [
    {"prompt": "What is 2 plus 2?", "completion": "It is 4.", "label": True},
    {"prompt": "Name a colour.", "completion": "A quick brown fox.", "label": False},
    {
        "messages": [{"role": "user", "content": "Where did the customer pay?"}],
        "completion": "In Valencia.",
        "label": True,
    },
    {"prompt": "What is 7 plus 7?", "completion": "Fifteen, I believe.", "label": False},
    {"prompt": "What is 1 plus 1?", "completion": "It is 2.", "label": True},
]


def _trl_answer(example):
    sequence, kl = example.sequences[0], example.kl
    return {
        "prompt_ids": list(sequence.ids[: sequence.prompt_len]),
        "completion_ids": list(sequence.ids[sequence.prompt_len :]),
        "KL_completion_ids": list(kl.ids[kl.prompt_len :]),
        "label": example.label,
    }


@pytest.mark.parametrize("method", ["lora", "full"])
def test_kto_loss_and_gradients_equal_trl(method, tiny_model_dir, tokenizer, tmp_path):
    from trl import KTOConfig, KTOTrainer

    weights = dict(beta=0.4, desirable_weight=1.3, undesirable_weight=0.8)
    recipe, cfg, split, batch = _engine_batch(
        tiny_model_dir, tokenizer, ANSWERS, method=method, objective="kto", **weights
    )
    adapter = method == "lora"
    trl_policy, engine_policy, trl_reference = _models(tiny_model_dir, adapter)
    dataset = Dataset.from_list([{"prompt": "p", "completion": "c", "label": b} for b in (1, 0)])
    trainer = _trl_trainer(
        (KTOTrainer, KTOConfig),
        tmp_path,
        tokenizer,
        trl_policy,
        adapter,
        reference=trl_reference,
        dataset=dataset.cast_column("label", _bool_feature()),
        **weights,
        max_length=None,
        per_device_train_batch_size=len(ANSWERS),
    )
    if not adapter:
        _cache_reference(batch, trl_reference, recipe)
    engine_model, trl_model = _same_start(trainer, engine_policy, adapter, move_full=False)
    # Moves the policy away from the reference (gently for full fine-tuning: every weight).
    _favour_kl_answers(engine_model, trl_model, batch, lr=0.5 if adapter else 0.01)
    trl_model.train()
    inputs = trainer.data_collator([_trl_answer(e) for e in _in_batch_order(split, batch)])
    trl_loss = trainer.compute_loss(trl_model, inputs)
    trl_loss.backward()

    engine_model.train()
    module = PreferenceLoss(engine_model, recipe, varlen=False, adapter=adapter)
    recipe.before_batches(
        StepContext(module, DistContext(), torch.device("cpu"), _no_autocast), [batch]
    )
    assert float(batch.kl_value) > 0.01  # the KL term is live, not clamped away
    out = module(batch)
    ours = out["kto"] / recipe.counts(batch)["answers"]
    ours.backward()

    torch.testing.assert_close(ours.detach(), trl_loss.detach(), atol=1e-6, rtol=1e-5)
    _assert_same_grads(engine_model, trl_model)


def _favour_kl_answers(engine_model, trl_model, batch, lr, steps=10):
    """Make the policy like the mismatched answers more than the reference does, so the KL
    estimate is positive (a clamped estimate would not test it); TRL's model gets the result."""
    trainable = [p for p in engine_model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=lr)
    for _ in range(steps):
        loss = -sequence_logps(engine_model, batch.kl, varlen=False).answer.sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    theirs = dict(trl_model.named_parameters())
    with torch.no_grad():
        for name, param in engine_model.named_parameters():
            if param.requires_grad:
                theirs[name].copy_(param)


def _bool_feature():
    from datasets import Value

    return Value("bool")


def _no_autocast():
    return contextlib.nullcontext()
