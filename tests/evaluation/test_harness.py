"""lm-eval inside the platform on a tiny model: the LM's three request types, tasks from a
bundle and from records, offline and without writing a file, and the same numbers as lm-eval's
own ``local-completions`` model reading the OpenAI-shaped answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from evaluation_bundles import make_zip, standard_files
from evaluation_fake_api import local_completions
from evaluation_guard import offline_and_in_memory
from lm_eval.api.instance import Instance

from evaluation.harness.bundle import read_bundle
from evaluation.harness.lm import HarnessCancelled, HarnessError, PlatformLM
from evaluation.harness.run import run_tasks
from evaluation.harness.sandbox import harden_lm_eval
from evaluation.harness.tasks import RecordsUnusable, task_from_records
from serving import generation
from serving.sampling import SamplingParams


def _instance(kind: str, args: tuple[Any, ...], index: int = 0) -> Instance:
    return Instance(request_type=kind, doc={}, arguments=args, idx=index)


def _logp(loaded: generation.LoadedModel, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return torch.log_softmax(loaded.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)


def test_loglikelihood_is_the_continuations_log_probability(tiny_loaded_model: Any) -> None:
    lm = PlatformLM(tiny_loaded_model)
    [(value, greedy)] = lm.loglikelihood([_instance("loglikelihood", ("The quick", " brown fox"))])
    context, whole = lm.tok_encode("The quick"), lm.tok_encode("The quick brown fox")
    logp = _logp(tiny_loaded_model, whole)
    expected = sum(float(logp[j - 1, whole[j]]) for j in range(len(context), len(whole)))
    assert value == pytest.approx(expected, abs=1e-4)
    assert greedy == all(
        int(logp[j - 1].argmax()) == whole[j] for j in range(len(context), len(whole))
    )


def test_rolling_loglikelihood_scores_every_token_after_the_prefix(tiny_loaded_model: Any) -> None:
    lm = PlatformLM(tiny_loaded_model)
    text = "Record 3: the quick brown fox jumps over the lazy dog."
    [value] = lm.loglikelihood_rolling([_instance("loglikelihood_rolling", (text,))])
    ids = [lm.prefix_token_id, *lm.tok_encode(text)]
    logp = _logp(tiny_loaded_model, ids)
    assert value == pytest.approx(
        sum(float(logp[j - 1, ids[j]]) for j in range(1, len(ids))), abs=1e-3
    )


def test_a_short_context_window_still_scores_every_token(tiny_loaded_model: Any) -> None:
    text = "Record 3: the quick brown fox jumps over the lazy dog."
    whole = PlatformLM(tiny_loaded_model).loglikelihood_rolling([_instance("x", (text,))])
    windows = PlatformLM(tiny_loaded_model, max_length=6).loglikelihood_rolling(
        [_instance("x", (text,))]
    )
    # Less context makes a different number, but a finite one over the same tokens.
    assert windows[0] < 0 and windows[0] != pytest.approx(whole[0], abs=1e-6)


def test_generate_until_cuts_at_the_stop_sequences(tiny_loaded_model: Any) -> None:
    lm = PlatformLM(tiny_loaded_model)
    settings = {"until": ["fox"], "max_gen_toks": 12, "do_sample": False}
    [answer] = lm.generate_until([_instance("generate_until", ("The quick brown", settings))])
    ids = lm.tok_encode("The quick brown")
    stops = ("fox", tiny_loaded_model.tokenizer.eos_token)
    made = generation.generate(tiny_loaded_model, ids, SamplingParams(12, 0.0, 1.0, stops), 12)
    assert answer == made.text and "fox" not in answer


def test_generation_settings_it_cannot_honour_are_refused(tiny_loaded_model: Any) -> None:
    lm = PlatformLM(tiny_loaded_model)
    with pytest.raises(HarnessError, match="num_beams"):
        lm.generate_until([_instance("generate_until", ("x", {"until": [], "num_beams": 4}))])
    with pytest.raises(HarnessError, match="no room"):
        lm.generate_until([_instance("generate_until", ("x", {"max_gen_toks": 4096}))])


def test_a_continuation_longer_than_the_window_is_refused(tiny_loaded_model: Any) -> None:
    lm = PlatformLM(tiny_loaded_model, max_length=4)
    with pytest.raises(HarnessError, match="leaves no context"):
        lm.loglikelihood([_instance("loglikelihood", ("The", " quick brown fox jumps over"))])


class _StopAtOnce:
    def __init__(self) -> None:
        self.reports: list[tuple[str, int, int]] = []

    def progress(self, kind: str, done: int, total: int) -> None:
        self.reports.append((kind, done, total))

    def should_stop(self) -> bool:
        return True


def test_a_run_stops_when_its_reporter_asks(tiny_loaded_model: Any) -> None:
    lm = PlatformLM(tiny_loaded_model, reporter=_StopAtOnce())
    with pytest.raises(HarnessCancelled):
        lm.loglikelihood([_instance("loglikelihood", ("a", " b"))])


def test_a_bundle_runs_offline_without_writing_a_file(tiny_loaded_model: Any) -> None:
    payload = make_zip(standard_files())
    with offline_and_in_memory() as attempts:
        tasks = read_bundle(payload)
        results = {r.task: r for r in run_tasks(PlatformLM(tiny_loaded_model), tasks)}
    assert attempts == []
    accuracy = results["capitals_mc"].metric("acc,none")
    assert accuracy is not None and 0 <= accuracy.value <= 1 and accuracy.stderr is not None
    assert accuracy.higher_is_better is True and results["capitals_mc"].samples == 6
    assert results["arithmetic_gen"].metric("exact_match,none") is not None


def test_lm_eval_local_completions_scores_like_the_in_process_harness(
    tiny_loaded_model: Any, tiny_model_dir: Path
) -> None:
    """lm-eval's own API model, reading echo/logprobs answers built by serving, gets the
    numbers the in-process harness gets (one prompt per forward pass on both sides)."""
    tasks = read_bundle(make_zip(standard_files()))
    api = local_completions(tiny_loaded_model, str(tiny_model_dir), max_length=2048)
    over_api = run_tasks(api, tasks)
    in_process = run_tasks(PlatformLM(tiny_loaded_model, token_budget=1), tasks)
    assert over_api == in_process


def test_batched_api_requests_score_like_single_ones(
    tiny_loaded_model: Any, tiny_model_dir: Path
) -> None:
    requests = [
        _instance("loglikelihood", (f"Question {i}: the capital is", choice), i)
        for i, choice in enumerate([" Paris", " Madrid of Spain", " Rome", " a long answer here"])
    ]
    api = local_completions(tiny_loaded_model, str(tiny_model_dir), batch_size=4)
    batched = api.loglikelihood(requests)
    alone = PlatformLM(tiny_loaded_model).loglikelihood(requests)
    for (a, greedy_a), (b, greedy_b) in zip(batched, alone, strict=True):
        assert a == pytest.approx(b, abs=1e-4) and greedy_a == greedy_b


CHOICE_RECORDS = [
    {"prompt": f"Capital of {c}?", "choices": ["Paris", "Madrid", "Rome"], "answer": capital}
    for c, capital in [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome")]
] + [{"prompt": "No choices here", "completion": "x"}]
CHAT_RECORDS = [
    {"messages": [{"role": "user", "content": f"Say {w}"}, {"role": "assistant", "content": w}]}
    for w in ("yes", "no", "maybe")
] + [{"text": "plain text is left out of a generation task"}]


def _render(loaded: Any) -> Any:
    def render(messages: list[dict[str, str]]) -> str:
        return loaded.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    return render


def test_tasks_built_from_records_run(tiny_loaded_model: Any) -> None:
    render = _render(tiny_loaded_model)
    choice = task_from_records("support_mc", CHOICE_RECORDS, render)
    chat = task_from_records("support_gen", CHAT_RECORDS, render, max_gen_toks=4)
    text = task_from_records(
        "support_ppl", [{"text": "Record one."}, {"text": "Record two."}], render
    )
    assert (choice.kind, choice.used, choice.skipped) == ("multiple_choice", 3, 1)
    assert (chat.kind, chat.used, chat.skipped) == ("generation", 3, 1)
    assert text.kind == "perplexity"
    prompt = choice.task.splits["test"].column("prompt").to_pylist()[0]
    assert prompt.endswith("<|im_start|>assistant\n")
    results = run_tasks(PlatformLM(tiny_loaded_model), [choice.task, chat.task, text.task])
    names = {r.task: {m.name for m in r.metrics} for r in results}
    assert names["support_mc"] >= {"acc,none", "acc_norm,none"}
    assert names["support_gen"] == {"exact_match,none"}
    assert "bits_per_byte,none" in names["support_ppl"]


def test_records_that_cannot_be_scored_are_refused() -> None:
    with pytest.raises(RecordsUnusable):
        task_from_records("nothing", [{"prompt": "no answer"}], lambda m: m[0]["content"])
    with pytest.raises(ValueError, match="not valid"):
        task_from_records("bad name!", CHAT_RECORDS, lambda m: m[0]["content"])


def test_templates_render_sandboxed_once_hardened() -> None:
    from jinja2.exceptions import SecurityError
    from lm_eval import utils as lm_utils

    harden_lm_eval()
    assert lm_utils.apply_template("{{ q | regex_replace('a', 'b') }}", {"q": "aa"}) == "bb"
    with pytest.raises(SecurityError):
        lm_utils.apply_template("{{ q.__class__.__mro__ }}", {"q": "x"})


def test_the_guard_sees_writes_and_refuses_remote_connections(tmp_path: Path) -> None:
    import socket

    from evaluation_guard import EgressRefused

    with offline_and_in_memory() as attempts:
        (tmp_path / "plain.txt").write_text("x")
        with socket.socket() as sock, pytest.raises(EgressRefused):
            sock.connect(("192.0.2.1", 80))
    assert [kind for kind, _ in attempts] == ["write", "connect"]
