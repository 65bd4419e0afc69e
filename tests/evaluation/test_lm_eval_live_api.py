"""lm-evaluation-harness's own ``local-completions`` model pointed at a live Soberana server,
unchanged (token-id prompts, ``echo``, ``logprobs``, ``seed``, ``stop``): the scores equal the
in-process harness's on the same model and tasks. This is what a user runs as
``lm_eval --model local-completions --model_args base_url=.../v1/completions,...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from evaluation_bundles import make_zip, standard_files

from evaluation.harness.bundle import read_bundle
from evaluation.harness.lm import PlatformLM
from evaluation.harness.run import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_key(cast: Any, tiny_base_model: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    from accounts.services import issue_api_token
    from audit.services import Actor

    raw = issue_api_token(Actor(user=cast.engineer), cast.engineer, scopes=["inference"]).raw
    monkeypatch.setenv("OPENAI_API_KEY", raw)  # where lm-eval's local-completions reads it
    return raw


@pytest.mark.parametrize("tokenized", [True, False], ids=["token-ids", "text"])
def test_lm_eval_local_completions_over_http_scores_like_the_in_process_harness(
    live_server: Any,
    api_key: str,
    tiny_model_dir: Path,
    tiny_loaded_model: Any,
    tokenized: bool,
) -> None:
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    api = LocalCompletionsAPI(
        base_url=live_server.url + "/v1/completions",
        model="tiny",
        tokenizer=str(tiny_model_dir),
        tokenizer_backend="huggingface",
        tokenized_requests=tokenized,
        max_length=2048,
        max_retries=1,
    )
    tasks = read_bundle(make_zip(standard_files()))
    over_http = run_tasks(api, tasks)
    in_process = run_tasks(PlatformLM(tiny_loaded_model, token_budget=1), tasks)
    if tokenized:
        assert over_http == in_process
    else:  # text prompts are tokenized by the server: the same tokenizer, the same numbers
        for a, b in zip(over_http, in_process, strict=True):
            assert a.task == b.task
            for metric in a.metrics:
                assert metric.value == pytest.approx(b.metric(metric.name).value, abs=1e-6)
