"""Generation without the web layer: stop strings, token budgets, streaming and request
validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openai_api.errors import OpenAIError
from openai_api.requests import parse_chat, parse_completion
from serving import generation


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path) -> generation.LoadedModel:
    import torch

    from trainer.engine.models import load_causal_lm, load_tokenizer

    model = load_causal_lm(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = load_tokenizer(tiny_model_dir)
    return generation.LoadedModel(
        "tiny",
        model,
        tokenizer,
        generation.context_length_of(model, tokenizer),
        torch.device("cpu"),
    )


def test_stop_scanner_never_emits_any_part_of_a_stop_string() -> None:
    scanner = generation.StopScanner(("STOP",))
    emitted = [scanner.feed(p) for p in ("Hel", "lo S", "TO", "P and more")]
    assert emitted == ["Hel", "lo ", "", ""] and scanner.stopped
    assert scanner.finish() == ""


def test_stop_scanner_releases_a_held_tail_that_did_not_become_a_stop() -> None:
    scanner = generation.StopScanner(("STOP", "\n\n"))
    assert scanner.feed("one ST") == "one "
    assert scanner.feed("ART\n") == "START"
    assert scanner.finish() == "\n"


def test_token_budget_fills_the_context_or_refuses() -> None:
    assert generation.plan_max_new_tokens(100, None, 2048, 1024) == 1024
    assert generation.plan_max_new_tokens(2000, None, 2048, 1024) == 48
    assert generation.plan_max_new_tokens(10, 20, 2048, 1024) == 20
    with pytest.raises(generation.ContextLengthExceeded):
        generation.plan_max_new_tokens(2048, None, 2048, 1024)
    with pytest.raises(generation.ContextLengthExceeded):
        generation.plan_max_new_tokens(2000, 100, 2048, 1024)


def test_chat_prompt_uses_the_chat_template(loaded: generation.LoadedModel) -> None:
    ids = generation.chat_prompt_ids(loaded.tokenizer, [{"role": "user", "content": "hi"}])
    text = loaded.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user\nhi") and text.endswith("<|im_start|>assistant\n")


def test_greedy_generation_respects_max_tokens_and_reports_length(
    loaded: generation.LoadedModel,
) -> None:
    ids = generation.completion_prompt_ids(loaded.tokenizer, "The quick brown fox")
    params = generation.SamplingParams(max_tokens=5, temperature=0)
    first = generation.generate(loaded, ids, params, 5)
    second = generation.generate(loaded, ids, params, 5)
    assert first == second and first.completion_tokens <= 5
    if first.completion_tokens == 5:
        assert first.finish_reason == "length"


def test_stream_matches_whole_generation_and_stops_when_closed(
    loaded: generation.LoadedModel,
) -> None:
    ids = generation.completion_prompt_ids(loaded.tokenizer, "The quick brown fox")
    params = generation.SamplingParams(temperature=0)
    whole = generation.generate(loaded, ids, params, 24)
    result = generation.StreamResult()
    assert "".join(generation.stream(loaded, ids, params, 24, result)) == whole.text
    assert (result.completion_tokens, result.finish_reason) == (
        whole.completion_tokens,
        whole.finish_reason,
    )
    early = generation.StreamResult()
    pieces = generation.stream(loaded, ids, params, 400, early)
    next(pieces, None)
    pieces.close()  # the client went away: generation stops at the next step
    assert early.completion_tokens < 400


def test_chat_request_accepts_text_parts_and_maps_developer_to_system() -> None:
    request = parse_chat(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            ],
            "max_completion_tokens": 7,
            "stop": "x",
            "temperature": 0,
        }
    )
    assert request.messages == (
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "ab"},
    )
    assert request.params.max_tokens == 7 and request.params.stop == ("x",)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"x": 1}]},
            "tools",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ],
)
def test_bad_chat_requests_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(OpenAIError) as caught:
        parse_chat(body)
    assert caught.value.status_code == 400 and caught.value.param == param


def test_completion_request_defaults_to_sixteen_tokens_and_takes_batches() -> None:
    assert parse_completion({"model": "m", "prompt": "hi"}).params.max_tokens == 16
    assert parse_completion({"model": "m", "prompt": ["a", "b"]}).prompts == ("a", "b")
    # Token ids, as lm-evaluation-harness sends them: one prompt, or a batch.
    assert parse_completion({"model": "m", "prompt": [1, 2]}).prompts == ((1, 2),)
    assert parse_completion({"model": "m", "prompt": [[1], [2, 3]]}).prompts == ((1,), (2, 3))
    for bad in ([], ["a"] * 17, None, [[1]] * 17, [1, [2]], [[]], 3, [1.5]):
        with pytest.raises(OpenAIError) as caught:
            parse_completion({"model": "m", "prompt": bad})
        assert caught.value.param == "prompt"


def test_concurrent_requests_on_one_model_do_not_disturb_each_other(
    loaded: generation.LoadedModel,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    prompts = ["The quick brown fox", "Our organization trains", "El zorro marrón"]
    params = generation.SamplingParams(temperature=0)

    def run(prompt: str) -> str:
        ids = generation.completion_prompt_ids(loaded.tokenizer, prompt)
        return generation.generate(loaded, ids, params, 12).text

    alone = [run(p) for p in prompts]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(run, prompts * 2))
    assert together == alone * 2
