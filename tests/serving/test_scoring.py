"""Prompt scoring and echo, checked against a direct forward pass and against the way
lm-evaluation-harness's ``local-completions`` model reads an answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from serving import generation, scoring
from serving.sampling import SamplingParams

GREEDY = SamplingParams(temperature=0)
PROMPTS = ["The quick brown fox", "Record 3: the lazy dog jumps", "Hello", "The"]


@pytest.fixture(scope="module")
def loaded(tiny_loaded_model: generation.LoadedModel) -> generation.LoadedModel:
    return tiny_loaded_model


def _ids(loaded: generation.LoadedModel, text: str) -> list[int]:
    return generation.completion_prompt_ids(loaded.tokenizer, text)


def _direct(loaded: generation.LoadedModel, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        logits = loaded.model(input_ids=torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.float(), dim=-1)


def test_prompt_scores_equal_a_direct_forward_pass(loaded: generation.LoadedModel) -> None:
    ids = _ids(loaded, PROMPTS[1])
    [scores] = scoring.score_prompts(loaded, [ids], top=3)
    logp = _direct(loaded, ids)
    expected = [float(logp[j - 1, ids[j]]) for j in range(1, len(ids))]
    assert scores.logprobs[0] is None and scores.top[0] == []
    assert scores.logprobs[1:] == pytest.approx(expected, abs=1e-5)
    assert scores.greedy[1:] == [int(logp[j - 1].argmax()) == ids[j] for j in range(1, len(ids))]
    assert [i for i, _ in scores.top[2]] == torch.topk(logp[1], 3).indices.tolist()
    assert scores.next_top[0][0] == int(logp[-1].argmax())


def test_a_batch_scores_like_each_prompt_alone_and_keeps_its_order(
    loaded: generation.LoadedModel,
) -> None:
    prompts = [_ids(loaded, p) for p in PROMPTS]
    # A budget of 8 tokens forces several forward passes of different widths.
    batch = scoring.score_prompts(loaded, prompts, top=2, token_budget=8)
    wide = scoring.score_prompts(loaded, prompts, top=2, token_budget=10_000)
    for ids, one, other in zip(prompts, batch, wide, strict=True):
        [alone] = scoring.score_prompts(loaded, [ids], top=2)
        assert one.token_ids == other.token_ids == ids
        for got in (one, other):
            assert got.logprobs[1:] == pytest.approx(alone.logprobs[1:], abs=1e-5)
            assert got.greedy == alone.greedy


def test_a_token_id_prompt_echoes_like_the_same_text(loaded: generation.LoadedModel) -> None:
    text = PROMPTS[0]
    ids = _ids(loaded, text)
    as_text, as_ids = scoring.complete_with_echo(
        loaded,
        [scoring.EchoPrompt(ids, text), scoring.EchoPrompt(ids)],
        GREEDY,
        [1, 1],
        logprobs=1,
    )
    assert as_text.text == as_ids.text and as_text.text.startswith(text)
    assert as_text.logprobs == as_ids.logprobs


def test_echo_with_one_greedy_token_is_what_generate_would_produce(
    loaded: generation.LoadedModel,
) -> None:
    ids = _ids(loaded, PROMPTS[0])
    [echo] = scoring.complete_with_echo(
        loaded, [scoring.EchoPrompt(ids, PROMPTS[0])], GREEDY, [1], logprobs=2
    )
    made = generation.generate(loaded, ids, SamplingParams(temperature=0, max_tokens=1), 1, 2)
    assert echo.prompt_tokens == len(ids) and echo.completion_tokens == 1
    assert echo.logprobs is not None and len(echo.logprobs) == len(ids) + 1
    assert echo.text == PROMPTS[0] + made.text
    last = echo.logprobs[-1]
    assert made.logprobs and last.token == made.logprobs[0].token
    assert last.logprob == pytest.approx(made.logprobs[0].logprob, abs=1e-5)
    # The token itself comes first among the alternatives, then the best ones (up to k + 1).
    assert last.top is not None and last.top[0] == (last.token, last.logprob)
    assert 2 <= len(last.top) <= 3


def test_echo_without_generation_returns_the_prompt_alone(loaded: generation.LoadedModel) -> None:
    ids = _ids(loaded, PROMPTS[1])
    [echo] = scoring.complete_with_echo(loaded, [scoring.EchoPrompt(ids)], GREEDY, [0], 0)
    assert echo.completion_tokens == 0 and echo.finish_reason == "length"
    assert echo.logprobs is not None and len(echo.logprobs) == len(ids)
    assert echo.text == loaded.tokenizer.decode(ids)
    assert echo.logprobs[0].logprob is None and echo.logprobs[0].top is None
    assert all(len(t.top or ()) == 1 for t in echo.logprobs[1:])


def test_echo_of_a_longer_answer_scores_every_generated_token(
    loaded: generation.LoadedModel,
) -> None:
    ids = _ids(loaded, PROMPTS[2])
    params = SamplingParams(temperature=0, max_tokens=4)
    [echo] = scoring.complete_with_echo(loaded, [scoring.EchoPrompt(ids)], params, [4], 0)
    made = generation.generate(loaded, ids, params, 4, 0)
    assert echo.completion_tokens == made.completion_tokens == len(made.token_ids)
    assert echo.logprobs is not None
    assert len(echo.logprobs) == len(ids) + echo.completion_tokens
    generated = [t.logprob for t in echo.logprobs[len(ids) :]]
    assert made.logprobs is not None
    # generate() trims the logprobs to the text; the echo keeps every generated token.
    within = [t.logprob for t in made.logprobs]
    assert generated[: len(within)] == pytest.approx(within, abs=1e-4)


def test_echo_without_logprobs_is_the_prompt_then_the_answer(
    loaded: generation.LoadedModel,
) -> None:
    ids = _ids(loaded, PROMPTS[0])
    [echo] = scoring.complete_with_echo(
        loaded, [scoring.EchoPrompt(ids, PROMPTS[0])], GREEDY, [3], None
    )
    made = generation.generate(loaded, ids, GREEDY, 3)
    assert echo.text == PROMPTS[0] + made.text and echo.logprobs is None


class _EndsAtOnce(torch.nn.Module):
    """The tiny model with the end-of-sequence token made the most likely next token."""

    def __init__(self, inner: Any, eos: int) -> None:
        super().__init__()
        self.inner = inner
        self.eos = eos

    def get_input_embeddings(self) -> Any:
        return self.inner.get_input_embeddings()

    def forward(self, **kwargs: Any) -> Any:
        logits = self.inner(**kwargs).logits.clone()
        logits[..., self.eos] += 1000.0
        return SimpleNamespace(logits=logits)


def test_an_end_of_sequence_token_is_scored_though_it_adds_no_text(
    loaded: generation.LoadedModel,
) -> None:
    eos = loaded.tokenizer.eos_token_id
    ending = generation.LoadedModel(
        "ending", _EndsAtOnce(loaded.model, eos), loaded.tokenizer, 2048, loaded.device
    )
    ids = _ids(loaded, PROMPTS[0])
    [echo] = scoring.complete_with_echo(ending, [scoring.EchoPrompt(ids)], GREEDY, [1], 1)
    # lm-eval drops the last entry as the generated token: it must be there, text or not.
    assert echo.logprobs is not None and len(echo.logprobs) == len(ids) + 1
    assert echo.text == loaded.tokenizer.decode(ids)
    assert echo.finish_reason == "stop" and echo.completion_tokens == 1


def test_lm_eval_reads_the_continuation_from_an_echoed_answer(
    loaded: generation.LoadedModel,
) -> None:
    """``local-completions`` parses ``token_logprobs[ctxlen:-1]``: with our answer it must get
    the continuation's log probability and is_greedy of a direct forward pass."""
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    context, continuation = _ids(loaded, "The quick brown"), _ids(loaded, " fox jumps")
    ids = context + continuation
    answers = scoring.complete_with_echo(
        loaded, [scoring.EchoPrompt(ids), scoring.EchoPrompt(context)], GREEDY, [1, 1], 1
    )
    body = {
        "choices": [
            {"index": i, "text": a.text, "logprobs": scoring.completion_logprobs(a.logprobs or [])}
            for i, a in enumerate(answers)
        ]
    }
    parsed = LocalCompletionsAPI.parse_logprobs(body, ctxlens=[len(context), 1])
    logp = _direct(loaded, ids)
    expected = sum(float(logp[j - 1, ids[j]]) for j in range(len(context), len(ids)))
    greedy = all(int(logp[j - 1].argmax()) == ids[j] for j in range(len(context), len(ids)))
    assert parsed[0][0] == pytest.approx(expected, abs=1e-4) and parsed[0][1] == greedy
    [scores] = scoring.score_prompts(loaded, [ids])
    assert scores.continuation_logprob(len(context)) == (pytest.approx(expected, abs=1e-4), greedy)


def test_logprobs_block_has_offsets_into_the_echoed_text() -> None:
    tokens = [
        scoring.ScoredToken("The", None, None),
        scoring.ScoredToken(" fox", -1.5, ((" fox", -1.5), (" dog", -0.5))),
    ]
    block = scoring.completion_logprobs(tokens)
    assert block == {
        "tokens": ["The", " fox"],
        "token_logprobs": [None, -1.5],
        "top_logprobs": [None, {" fox": -1.5, " dog": -0.5}],
        "text_offset": [0, 3],
    }


def test_unknown_or_missing_token_ids_are_refused(loaded: generation.LoadedModel) -> None:
    size = scoring.vocabulary_size(loaded)
    for bad in ([], [1, size], [-1], [True]):
        with pytest.raises(scoring.InvalidTokenIds):
            scoring.score_prompts(loaded, [[1, 2], bad])


def test_scoring_a_prompt_needs_no_room_to_generate() -> None:
    assert generation.plan_max_new_tokens(2048, 0, 2048, 1024) == 0
    with pytest.raises(generation.ContextLengthExceeded):
        generation.plan_max_new_tokens(2049, 0, 2048, 1024)
