"""Preference objectives in the engine: training moves the margin, pairs pack without leaking,
the reference model is the base (adapters) or an encrypted cache (full), resume and stop."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from engine_testkit import PAIRS, RecordingReporter, answer_splits, pair_splits

from envelope import generate_data_key
from trainer.engine import CheckpointError, DataError, TrainData, evaluate, train
from trainer.engine.models import load_causal_lm, load_tokenizer
from trainer.engine.recipes import recipe_for
from trainer.engine.recipes.preference import PreferenceLoss
from trainer.engine.recipes.preference_data import (
    TokenSequence,
    collate_examples,
    fit_pair,
    fixed_rows,
)
from trainer.engine.reference import CACHE_DIR, CACHE_FILE


def _dpo(small_config, model_dir, **overrides):
    settings = dict(objective="dpo", beta=0.5, learning_rate=1e-2, max_steps=12)
    return small_config(model_dir, **{**settings, **overrides})


def test_dpo_with_lora_raises_the_held_out_margin_and_reports_reward_accuracy(
    tiny_model_dir, pair_data, make_store, small_config
):
    cfg = _dpo(small_config, tiny_model_dir, eval_generate_records=2)
    reporter = RecordingReporter()
    result = train(cfg, pair_data, reporter, make_store())
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-4)  # policy == reference
    assert result.losses[-1] < result.losses[0] - 0.2
    last = reporter.logs[-1][1]
    assert last["val_reward_accuracy"] >= 0.75 and last["val_reward_margin"] > 0
    scores = evaluate(cfg, pair_data, result, RecordingReporter())
    tuned = scores["tuned"]
    assert tuned["test_pairs"] == len(pair_data.test)
    assert tuned["reward_accuracy"] >= 0.75 and tuned["reward_margin"] > 0.1
    assert scores["base"]["perplexity"] > tuned["perplexity"]  # of the preferred answers
    assert scores["samples"][0]["reference"] == pair_data.test[0]["chosen"]


def test_dpo_trains_dora_adapters_against_the_base(
    tiny_model_dir, pair_data, make_store, small_config
):
    cfg = _dpo(small_config, tiny_model_dir, method="dora", max_steps=6)
    result = train(cfg, pair_data, RecordingReporter(), make_store())
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-4)
    assert result.losses[-1] < result.losses[0] - 0.1


def test_dpo_with_full_fine_tuning_caches_the_reference_encrypted(
    tiny_model_dir, pair_data, make_store, small_config
):
    cfg = _dpo(small_config, tiny_model_dir, method="full", learning_rate=3e-4)
    store = make_store()
    reporter = RecordingReporter()
    result = train(cfg, pair_data, reporter, store)
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-4)
    assert result.losses[-1] < result.losses[0] - 0.05
    assert any(kind == "reference" for kind, _ in reporter.events)
    cache = store.directory / CACHE_DIR / CACHE_FILE
    assert cache.is_file()
    with pytest.raises(CheckpointError):  # encrypted under the job's key
        train(cfg, pair_data, RecordingReporter(), make_store("ckpt", key=generate_data_key()))
    scores = evaluate(cfg, pair_data, result, RecordingReporter())
    assert scores["tuned"]["reward_accuracy"] >= 0.75 and scores["tuned"]["reward_margin"] > 0


@pytest.mark.parametrize("method", ["lora", "full"])
def test_a_dpo_run_resumed_after_a_crash_reproduces_the_uninterrupted_curve(
    method, tiny_model_dir, pair_data, make_store, small_config
):
    cfg = _dpo(
        small_config,
        tiny_model_dir,
        method=method,
        learning_rate=1e-2 if method == "lora" else 3e-4,
        checkpoint_every=5,
        eval_every=4,
        grad_accum=2,
        lora_dropout=0.1 if method == "lora" else 0.0,
    )
    whole = train(cfg, pair_data, RecordingReporter(), make_store("whole"))
    store = make_store("crashed")
    # should_stop is polled once per reference batch (full fine-tuning), then once per step.
    crash_at = 7 + (_reference_batches(cfg, tiny_model_dir, pair_data) if method == "full" else 0)
    with pytest.raises(RuntimeError, match="crash"):
        train(cfg, pair_data, RecordingReporter(crash_at=crash_at), store)
    assert store.latest().step == 5
    resumed = train(cfg, pair_data, RecordingReporter(), store)
    assert resumed.resumed_from_step == 5 and resumed.step == 12
    torch.testing.assert_close(
        torch.tensor(resumed.losses), torch.tensor(whole.losses), atol=1e-5, rtol=0
    )
    resumed_vals, whole_vals = ([v for _, v in r.val_losses] for r in (resumed, whole))
    assert resumed_vals == pytest.approx(whole_vals, abs=1e-5)


def _reference_batches(cfg, model_dir, data) -> int:
    """Micro-batches of the reference pass over the train and validation splits."""
    recipe, tokenizer = recipe_for(cfg), load_tokenizer(model_dir)
    splits = (recipe.prepare(records, tokenizer, "x") for records in (data.train, data.validation))
    return sum(-(-len(fixed_rows(split, cfg.seq_len)) // cfg.batch_size) for split in splits)


def test_a_full_dpo_run_resumed_without_its_reference_cache_is_refused(
    tiny_model_dir, pair_data, make_store, small_config
):
    cfg = _dpo(small_config, tiny_model_dir, method="full", max_steps=4, checkpoint_every=2)
    store = make_store()
    train(cfg, pair_data, RecordingReporter(stop_after=20), store)
    (store.directory / CACHE_DIR / CACHE_FILE).unlink()
    with pytest.raises(CheckpointError, match="reference log-probabilities"):
        train(cfg, pair_data, RecordingReporter(), store)


def test_a_tampered_reference_cache_is_refused(tiny_model_dir, pair_data, make_store, small_config):
    cfg = _dpo(small_config, tiny_model_dir, method="full", max_steps=2)
    store = make_store()
    train(cfg, pair_data, RecordingReporter(), store)
    cache = store.directory / CACHE_DIR / CACHE_FILE
    data = bytearray(cache.read_bytes())
    data[-40] ^= 1
    cache.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="authentication"):
        train(cfg, pair_data, RecordingReporter(), store)


def test_a_stop_during_the_reference_pass_stops_before_training_and_saves_nothing(
    tiny_model_dir, pair_data, make_store, small_config
):
    store = make_store()
    cfg = _dpo(small_config, tiny_model_dir, method="full")
    result = train(cfg, pair_data, RecordingReporter(stop_after=0), store)
    assert result.stopped and result.step == 0 and result.final_model is None
    assert not (store.directory / CACHE_DIR / CACHE_FILE).exists() and store.latest() is None
    resumed = train(cfg, pair_data, RecordingReporter(), store)  # starts afresh
    assert resumed.step == 12 and resumed.resumed_from_step is None


@pytest.mark.parametrize("objective", ["dpo", "kto"])  # kto: the KL over the whole step
def test_preference_gradient_accumulation_matches_one_big_batch(
    objective, tiny_model_dir, make_store, small_config
):
    make = _dpo if objective == "dpo" else _kto
    data = pair_splits() if objective == "dpo" else answer_splits()
    losses = [
        train(
            make(small_config, tiny_model_dir, max_steps=4, **settings),
            data,
            RecordingReporter(),
            make_store(name),
        ).losses
        for name, settings in (
            ("big", {"batch_size": 2}),
            ("acc", {"batch_size": 1, "grad_accum": 2}),
        )
    ]
    torch.testing.assert_close(
        torch.tensor(losses[1]), torch.tensor(losses[0]), atol=1e-5, rtol=1e-5
    )


def test_packed_pairs_give_each_sequence_the_log_probability_it_has_alone(
    tiny_model_dir, small_config
):
    cfg = _dpo(small_config, tiny_model_dir, seq_len=128)
    tokenizer = load_tokenizer(tiny_model_dir)
    records = [*PAIRS[:6], _chat_pair()]
    split = recipe_for(cfg).prepare(records, tokenizer, "train")
    rows = fixed_rows(split, cfg.seq_len)
    assert len(rows) < len(split)  # several pairs share a row
    batch = collate_examples(rows, split, cfg.seq_len, tokenizer.pad_token_id, all_targets=False)
    model = load_causal_lm(tiny_model_dir, dtype=torch.float32).eval()
    packed = PreferenceLoss(model, recipe_for(cfg), varlen=False, adapter=False)
    logps = packed(batch, phase="reference")
    for k, index in enumerate(batch.example_index.tolist()):
        for j, sequence in enumerate(split[index].sequences):
            assert logps[k, j] == pytest.approx(_alone(model, sequence), abs=1e-4)


def _chat_pair():
    return {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi there"},
            {"role": "user", "content": "What is 3 plus 3?"},
        ],
        "chosen": "It is 6.",
        "rejected": "It is 7, I think.",
    }


def _alone(model, sequence: TokenSequence) -> float:
    ids = torch.tensor([sequence.ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    token = -F.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
    return float(token[sequence.prompt_len - 1 :].sum())


def test_only_the_last_answer_of_a_chat_prompt_is_scored(tiny_model_dir, small_config):
    cfg = _dpo(small_config, tiny_model_dir, seq_len=256)
    tokenizer = load_tokenizer(tiny_model_dir)
    example = recipe_for(cfg).prepare([_chat_pair()], tokenizer, "train")[0]
    chosen, rejected = example.sequences
    assert tokenizer.decode(chosen.ids[chosen.prompt_len :]).startswith("It is 6.")
    assert "hi there" in tokenizer.decode(chosen.ids[: chosen.prompt_len])
    assert chosen.ids[: chosen.prompt_len] == rejected.ids[: rejected.prompt_len]


def test_a_pair_longer_than_a_row_is_cut_to_share_one():
    chosen = TokenSequence(tuple(range(30)), 10)
    rejected = TokenSequence(tuple(range(50)), 10)
    c, r = fit_pair(chosen, rejected, 64)
    assert len(c) + len(r) == 64 and len(c) == 30 and r.ids == rejected.ids[:34]
    c, r = fit_pair(TokenSequence(tuple(range(60)), 10), rejected, 64)
    assert (len(c), len(r)) == (32, 32)


def test_pairs_whose_answers_do_not_fit_are_dropped_and_counted(tiny_model_dir, small_config):
    cfg = _dpo(small_config, tiny_model_dir, seq_len=64)
    long_prompt = {**PAIRS[0], "prompt": "the quick brown fox " * 20}
    split = recipe_for(cfg).prepare(
        [long_prompt, PAIRS[1]], load_tokenizer(tiny_model_dir), "train"
    )
    assert split.dropped == 1 and len(split) == 1


def test_objectives_refuse_records_of_the_wrong_shape(
    tiny_model_dir, text_data, pair_data, make_store, small_config
):
    with pytest.raises(DataError, match="record 0: objective dpo trains on records shaped"):
        train(_dpo(small_config, tiny_model_dir), text_data, RecordingReporter(), make_store("a"))
    with pytest.raises(DataError, match="preference record, not an example"):
        train(small_config(tiny_model_dir), pair_data, RecordingReporter(), make_store("b"))
    broken = TrainData(train=[{"prompt": "q", "chosen": "a"}])
    with pytest.raises(DataError, match="'chosen', 'rejected'"):
        train(_dpo(small_config, tiny_model_dir), broken, RecordingReporter(), make_store("c"))


@pytest.mark.parametrize("method", ["lora", "full"])
def test_orpo_needs_no_reference_and_raises_the_held_out_margin(
    method, tiny_model_dir, pair_data, make_store, small_config
):
    cfg = small_config(
        tiny_model_dir,
        method=method,
        objective="orpo",
        orpo_lambda=1.0,
        learning_rate=1e-2 if method == "lora" else 1e-3,
        max_steps=12,
        eval_generate_records=0,
    )
    store = make_store()
    reporter = RecordingReporter()
    result = train(cfg, pair_data, reporter, store)
    assert not (store.directory / CACHE_DIR).exists()  # no reference model, no cache
    assert not any(kind == "reference" for kind, _ in reporter.events)
    assert result.losses[-1] < result.losses[0] - 0.5
    tuned = evaluate(cfg, pair_data, result, RecordingReporter())["tuned"]
    assert tuned["reward_accuracy"] >= 0.75
    assert tuned["reward_margin"] > tuned["base_reward_margin"]


def _kto(small_config, model_dir, **overrides):
    settings = dict(objective="kto", beta=0.5, learning_rate=1e-2, max_steps=12)
    return small_config(model_dir, **{**settings, **overrides})


def test_kto_learns_from_unpaired_answers_and_reports_kl_and_reward_accuracy(
    tiny_model_dir, make_store, small_config
):
    data = answer_splits()
    cfg = _kto(small_config, tiny_model_dir, eval_generate_records=0)
    reporter = RecordingReporter()
    result = train(cfg, data, reporter, make_store())
    assert result.losses[-1] < result.losses[0] - 0.05
    last = reporter.logs[-1][1]
    assert last["kl"] >= 0 and last["reward_chosen"] > last["reward_rejected"]
    tuned = evaluate(cfg, data, result, RecordingReporter())["tuned"]
    assert tuned["test_answers"] == len(data.test)
    assert tuned["reward_accuracy"] > 0.5 and tuned["reward_margin"] > 0


def test_kto_splits_pairs_into_a_good_and_a_bad_answer_with_mismatched_kl_sequences(
    tiny_model_dir, small_config
):
    cfg = _kto(small_config, tiny_model_dir)
    tokenizer = load_tokenizer(tiny_model_dir)
    split = recipe_for(cfg).prepare(PAIRS[:3], tokenizer, "train")
    assert [e.label for e in split.examples] == [True, True, True, False, False, False]
    for example in split.examples:  # each KL sequence: its prompt, another prompt's answer
        kl, own = example.kl, example.sequences[0]
        assert kl.ids[: kl.prompt_len] == own.ids[: own.prompt_len]
        assert kl.ids[kl.prompt_len :] != own.ids[own.prompt_len :]
    answers = [tokenizer.decode(e.sequences[0].ids[e.sequences[0].prompt_len :]) for e in split]
    assert answers[0].startswith(PAIRS[0]["chosen"]) and answers[3].startswith(PAIRS[0]["rejected"])


def test_kto_with_full_fine_tuning_resumes_to_the_uninterrupted_curve(
    tiny_model_dir, make_store, small_config
):
    data = answer_splits()
    cfg = _kto(small_config, tiny_model_dir, method="full", learning_rate=3e-4, checkpoint_every=5)
    whole = train(cfg, data, RecordingReporter(), make_store("whole"))
    store = make_store("crashed")
    crash_at = 7 + _reference_batches(cfg, tiny_model_dir, data)
    with pytest.raises(RuntimeError, match="crash"):
        train(cfg, data, RecordingReporter(crash_at=crash_at), store)
    resumed = train(cfg, data, RecordingReporter(), store)
    assert resumed.resumed_from_step == 5
    torch.testing.assert_close(
        torch.tensor(resumed.losses), torch.tensor(whole.losses), atol=1e-5, rtol=0
    )
