"""``/v1/completions`` with the semantics lm-evaluation-harness and vLLM use, through the
official ``openai`` client on a live server: ``echo`` with prompt log probabilities, ``max_tokens``
0, token-id prompts and batches of them, ``seed``; and the 400s naming the parameter."""

from __future__ import annotations

from typing import Any

import openai
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(cast: Any, tiny_base_model: Any, raw_token: Any, openai_for: Any) -> Any:
    return openai_for(raw_token(cast.engineer, ["inference"]))


def _ids(tiny_loaded_model: Any, text: str) -> list[int]:
    return list(tiny_loaded_model.tokenizer(text)["input_ids"])


def test_echo_scores_every_prompt_token_and_max_tokens_zero_generates_nothing(
    client: Any, tiny_loaded_model: Any
) -> None:
    prompt = "The quick brown fox"
    reply = client.completions.create(
        model="tiny", prompt=prompt, echo=True, max_tokens=0, logprobs=1, temperature=0
    )
    choice = reply.choices[0]
    assert choice.text == prompt and reply.usage.completion_tokens == 0
    logprobs = choice.logprobs
    ids = _ids(tiny_loaded_model, prompt)
    assert len(logprobs.tokens) == len(ids) == reply.usage.prompt_tokens
    assert logprobs.token_logprobs[0] is None and logprobs.top_logprobs[0] is None
    assert all(v is not None and v <= 0 for v in logprobs.token_logprobs[1:])
    assert logprobs.text_offset[0] == 0
    assert all(len(top) >= 1 for top in logprobs.top_logprobs[1:])


def test_echo_with_one_token_adds_exactly_one_entry(client: Any) -> None:
    reply = client.completions.create(
        model="tiny", prompt="Hello there", echo=True, max_tokens=1, logprobs=1, temperature=0
    )
    scored = client.completions.create(
        model="tiny", prompt="Hello there", echo=True, max_tokens=0, logprobs=1, temperature=0
    )
    assert len(reply.choices[0].logprobs.tokens) == len(scored.choices[0].logprobs.tokens) + 1
    assert (
        reply.choices[0].logprobs.token_logprobs[:-1] == scored.choices[0].logprobs.token_logprobs
    )
    assert reply.choices[0].text.startswith("Hello there")


def test_token_id_prompts_and_batches_of_them_answer_like_text(
    client: Any, tiny_loaded_model: Any
) -> None:
    texts = ["Once upon a time", "In a galaxy far"]
    ids = [_ids(tiny_loaded_model, t) for t in texts]
    as_text = client.completions.create(model="tiny", prompt=texts, max_tokens=4, temperature=0)
    as_ids = client.completions.create(model="tiny", prompt=ids, max_tokens=4, temperature=0)
    assert [c.text for c in as_ids.choices] == [c.text for c in as_text.choices]
    single = client.completions.create(model="tiny", prompt=ids[0], max_tokens=4, temperature=0)
    assert single.choices[0].text == as_text.choices[0].text


def test_the_same_seed_samples_the_same_answer(client: Any) -> None:
    def sample(seed: int) -> str:
        return (
            client.completions.create(
                model="tiny", prompt="Tell me", max_tokens=12, temperature=1.5, seed=seed
            )
            .choices[0]
            .text
        )

    assert sample(7) == sample(7)
    assert len({sample(s) for s in range(6)}) > 1  # sampling does sample


@pytest.mark.parametrize(
    ("request_args", "param"),
    [
        ({"prompt": "x", "max_tokens": 0}, "max_tokens"),  # 0 only with echo
        ({"prompt": "x", "echo": True, "stream": True}, "echo"),
        ({"prompt": "x", "echo": "yes"}, "echo"),
        ({"prompt": [1, "a"]}, "prompt"),
        ({"prompt": [[1, 2], []]}, "prompt"),
        ({"prompt": [10**9]}, "prompt"),  # outside the vocabulary
        ({"prompt": [-1, 2]}, "prompt"),
        ({"prompt": [True, 2]}, "prompt"),
        ({"prompt": "x", "seed": "abc"}, "seed"),
        ({"prompt": "x", "seed": -1}, "seed"),
    ],
)
def test_malformed_completion_requests_are_400_naming_the_parameter(
    client: Any, request_args: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="tiny", **request_args)
    assert caught.value.body["param"] == param
