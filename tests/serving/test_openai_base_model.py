"""The OpenAI-compatible API against a base model, driven by the official ``openai`` client
over a live server: listing, chat and completions (whole and streamed), and the errors an
OpenAI client must see."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from audit.models import AuditEvent
from serving.models import UsageDay

pytestmark = pytest.mark.django_db(transaction=True)
HELLO = [{"role": "user", "content": "Hello, how can I help you today?"}]


@pytest.fixture
def client(cast: Any, tiny_base_model: Any, raw_token: Any, openai_for: Any) -> Any:
    return openai_for(raw_token(cast.engineer, ["inference"]))


def test_models_list_holds_the_base_models_by_name(client: Any) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]
    assert models.data[0].object == "model" and models.data[0].owned_by == "soberana"
    assert client.models.retrieve("tiny").id == "tiny"


def test_chat_completion_answers_with_usage_and_is_audited_without_content(client: Any) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=8, temperature=0
    )
    assert reply.object == "chat.completion" and reply.model == "tiny"
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    event = AuditEvent.objects.get(action="inference.query", outcome="allowed")
    assert event.actor_username == "engineer"
    assert event.details["completion_tokens"] == reply.usage.completion_tokens
    assert "Hello" not in str(event.details) and choice.message.content not in str(event.details)
    usage = UsageDay.objects.get()
    assert (usage.requests, usage.completion_tokens) == (1, reply.usage.completion_tokens)


def test_greedy_decoding_is_deterministic_and_streaming_yields_the_same_text(client: Any) -> None:
    whole = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=12, temperature=0
    )
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=HELLO,
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    finals = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == (
        whole.usage.completion_tokens
    )


def test_stream_ends_with_done_in_server_sent_events(
    live_server: Any, cast: Any, tiny_base_model: Any, raw_token: Any
) -> None:
    import httpx2

    body = {"model": "tiny", "messages": HELLO, "max_tokens": 4, "stream": True}
    response = httpx2.post(
        live_server.url + "/v1/chat/completions",
        json=body,
        timeout=60,
        headers={"Authorization": f"Bearer {raw_token(cast.viewer)}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_legacy_completions_whole_and_streamed(client: Any) -> None:
    whole = client.completions.create(
        model="tiny", prompt="The quick brown fox", max_tokens=6, temperature=0
    )
    assert whole.object == "text_completion" and whole.usage.completion_tokens <= 6
    parts = list(
        client.completions.create(
            model="tiny", prompt="The quick brown fox", max_tokens=6, temperature=0, stream=True
        )
    )
    assert "".join(p.choices[0].text for p in parts) == whole.choices[0].text


def test_stop_string_cuts_the_answer_before_it(client: Any) -> None:
    whole = client.completions.create(
        model="tiny", prompt="The quick", max_tokens=20, temperature=0
    )
    text = whole.choices[0].text
    if len(text.strip()) < 2:
        pytest.skip("the random tiny model produced too little text to pick a stop string")
    stop = text.strip()[1:3]
    cut = client.completions.create(
        model="tiny", prompt="The quick", max_tokens=20, temperature=0, stop=[stop]
    )
    assert stop not in cut.choices[0].text
    assert text.startswith(cut.choices[0].text) and cut.choices[0].finish_reason == "stop"


def test_unknown_model_is_404_model_not_found(client: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-9", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert caught.value.body["param"] == "model"


def test_bad_or_revoked_key_is_401(cast: Any, tiny_base_model: Any, openai_for: Any) -> None:
    from accounts.services import issue_api_token, revoke_api_token
    from audit.services import Actor

    with pytest.raises(openai.AuthenticationError) as caught:
        openai_for("sob_not-a-real-token").models.list()
    assert caught.value.code == "invalid_api_key"
    issued = issue_api_token(Actor(user=cast.engineer), cast.engineer, scopes=["inference"])
    revoke_api_token(Actor(user=cast.engineer), issued.token)
    with pytest.raises(openai.AuthenticationError):
        openai_for(issued.raw).chat.completions.create(model="tiny", messages=HELLO)


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "wizard", "content": "hi"}],
        [{"role": "user"}],
        "hello",
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
    ],
)
def test_malformed_messages_are_400(client: Any, messages: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=messages)
    assert caught.value.body["type"] == "invalid_request_error"
    assert caught.value.body["param"].startswith("messages")


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("temperature", 3),
        ("top_p", -1),
        ("max_tokens", 0),
        ("n", 9),
        ("response_format", {"type": "json_object"}),
        ("top_logprobs", 3),
        ("stop", ["a"] * 5),
    ],
)
def test_bad_sampling_parameters_are_400_naming_the_parameter(
    client: Any, param: str, value: Any
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, **{param: value})
    assert caught.value.body["param"] == param


def test_body_that_is_not_json_is_400(
    live_server: Any, cast: Any, tiny_base_model: Any, raw_token: Any
) -> None:
    import httpx2

    response = httpx2.post(
        live_server.url + "/v1/chat/completions",
        content=b"{nope",
        headers={
            "Authorization": f"Bearer {raw_token(cast.viewer)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_prompt_longer_than_the_context_is_400_context_length_exceeded(client: Any) -> None:
    long_prompt = [{"role": "user", "content": "dog " * 3000}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=long_prompt)
    assert caught.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=5000)
    assert caught.value.code == "context_length_exceeded"


def test_token_over_its_rate_limit_gets_429(
    client: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.utils import timezone

    now = timezone.now().replace(second=10)
    monkeypatch.setattr("serving.services.clock", lambda: now)  # one window for the whole test
    settings.SERVING_TOKEN_RPM = 2
    for _ in range(2):
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "50"


def test_read_only_token_may_query_but_not_upload_files(
    cast: Any, tiny_base_model: Any, raw_token: Any, openai_for: Any
) -> None:
    client = openai_for(raw_token(cast.steward, ["inference"]))
    assert client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1)
    with pytest.raises(openai.PermissionDeniedError):
        client.files.create(
            file=("a.jsonl", b'{"prompt": "a", "completion": "b"}\n'), purpose="fine-tune"
        )


def test_body_over_the_size_limit_is_413(
    client: Any, live_server: Any, cast: Any, raw_token: Any
) -> None:
    import httpx2

    huge = (
        b'{"model": "tiny", "messages": [{"role": "user", "content": "'
        + b"a" * (11 * 1024 * 1024)
        + b'"}]}'
    )
    response = httpx2.post(
        live_server.url + "/v1/chat/completions",
        content=huge,
        timeout=60,
        headers={
            "Authorization": f"Bearer {raw_token(cast.viewer)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_n_choices_are_numbered_and_counted_once_per_prompt(client: Any) -> None:
    one = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=6, temperature=0)
    two = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, temperature=0, n=2
    )
    assert [c.index for c in two.choices] == [0, 1]
    assert {c.message.content for c in two.choices} == {one.choices[0].message.content}
    assert two.usage.prompt_tokens == one.usage.prompt_tokens
    assert two.usage.completion_tokens == 2 * one.usage.completion_tokens


def test_streamed_n_choices_rebuild_the_whole_ones(client: Any) -> None:
    whole = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, temperature=0, n=2
    )
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=HELLO,
            max_tokens=6,
            temperature=0,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = {0: "", 1: ""}
    finished = []
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.append(choice.index)
    assert texts == {c.index: c.message.content for c in whole.choices}
    assert finished == [0, 1]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_completions_take_a_batch_of_prompts(client: Any) -> None:
    prompts = ["The quick brown fox", "Our organization"]
    alone = [
        client.completions.create(model="tiny", prompt=p, max_tokens=5, temperature=0)
        for p in prompts
    ]
    batch = client.completions.create(
        model="tiny", prompt=prompts, max_tokens=5, temperature=0, n=2
    )
    assert [c.index for c in batch.choices] == [0, 1, 2, 3]
    expected = [a.choices[0].text for a in alone for _ in range(2)]
    assert [c.text for c in batch.choices] == expected
    assert batch.usage.prompt_tokens == sum(a.usage.prompt_tokens for a in alone)


def test_chat_logprobs_report_the_greedy_token_as_the_most_likely(client: Any) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3
    )
    content = reply.choices[0].logprobs.content
    assert content and len(content) <= reply.usage.completion_tokens
    assert "".join(t.token for t in content).startswith(reply.choices[0].message.content[:1])
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token
        assert abs(token.top_logprobs[0].logprob - token.logprob) < 1e-6
        assert bytes(token.bytes).decode("utf-8", "replace") == token.token
    plain = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, temperature=0
    )
    assert plain.choices[0].logprobs is None


def test_legacy_logprobs_cover_the_completion_text(client: Any) -> None:
    prompt = "The quick brown fox"
    reply = client.completions.create(
        model="tiny", prompt=prompt, max_tokens=6, temperature=0, logprobs=2
    )
    logprobs = reply.choices[0].logprobs
    assert "".join(logprobs.tokens).startswith(reply.choices[0].text)
    assert logprobs.text_offset[0] == len(prompt)
    assert all(len(top) <= 2 for top in logprobs.top_logprobs)


def test_logprobs_with_stream_are_refused_naming_the_parameter(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, logprobs=True, stream=True)
    assert caught.value.body["param"] == "logprobs"


def test_plain_text_response_format_is_accepted(client: Any) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=2, response_format={"type": "text"}
    )
    assert reply.choices[0].message.content is not None
