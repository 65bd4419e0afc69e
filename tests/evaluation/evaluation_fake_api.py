"""``/v1/completions`` answered in process with serving's functions, the way the endpoint
answers lm-eval (echo, token-id prompts, batches): lm-eval's own ``local-completions`` model is
run through it without a server, so its parsing is checked against ours."""

from __future__ import annotations

import copy
from typing import Any

from serving import generation, scoring
from serving.sampling import SamplingParams


def _prompts(raw: Any) -> list[Any]:
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        return [raw]
    return list(raw)


def answer_completions(loaded: generation.LoadedModel, body: dict[str, Any]) -> dict[str, Any]:
    """The response body of a completion request (``model``, ``seed`` read and ignored)."""
    prompts = [
        scoring.EchoPrompt(generation.completion_prompt_ids(loaded.tokenizer, p), p)
        if isinstance(p, str)
        else scoring.EchoPrompt(list(p))
        for p in _prompts(body["prompt"])
    ]
    stop = body.get("stop") or ()
    params = SamplingParams(
        max_tokens=body.get("max_tokens", 16),
        temperature=body.get("temperature", 1.0),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
    )
    wanted = [params.max_tokens or 0] * len(prompts)
    if body.get("echo"):
        answers = scoring.complete_with_echo(loaded, prompts, params, wanted, body.get("logprobs"))
        choices = [
            {
                "index": i,
                "text": a.text,
                "logprobs": scoring.completion_logprobs(a.logprobs)
                if a.logprobs is not None
                else None,
                "finish_reason": a.finish_reason,
            }
            for i, a in enumerate(answers)
        ]
    else:
        made = [
            generation.generate(loaded, p.ids, params, n)
            for p, n in zip(prompts, wanted, strict=True)
        ]
        choices = [
            {"index": i, "text": m.text, "logprobs": None, "finish_reason": m.finish_reason}
            for i, m in enumerate(made)
        ]
    return {"object": "text_completion", "choices": choices}


def local_completions(loaded: generation.LoadedModel, tokenizer_dir: str, **model_args: Any) -> Any:
    """lm-eval's ``local-completions`` model whose HTTP call is ``answer_completions``."""
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    api = LocalCompletionsAPI(
        base_url="http://127.0.0.1:9/v1/completions",
        model=loaded.name,
        tokenizer=tokenizer_dir,
        tokenizer_backend="huggingface",
        **model_args,
    )

    def model_call(
        messages: Any, *, generate: bool = True, gen_kwargs: dict | None = None, **kwargs: Any
    ) -> Any:
        body = api._create_payload(
            api.create_message(messages),
            generate=generate,
            gen_kwargs=copy.deepcopy(gen_kwargs),
            seed=api._seed,
            eos=api.eos_string,
            **kwargs,
        )
        return answer_completions(loaded, body)

    api.model_call = model_call
    return api
