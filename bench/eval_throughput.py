"""lm-eval throughput: the in-process harness vs lm-eval's ``local-completions`` model over a
live ``/v1/completions``, same model, same tasks, same run. Goal: API overhead <= 20%.

The tasks are built in code: a multiple-choice task (``--questions`` questions, 4 choices:
4 log-likelihood requests each, the bulk of most lm-eval suites) and a generation task
(``--questions`` / 4 prompts, ``--max-gen-toks`` tokens, greedy). Both sides run
``evaluation.harness.run.run_tasks``: the in-process side with ``PlatformLM``, the API side with
lm-eval's ``LocalCompletionsAPI`` against the real Django app served on loopback (WSGI,
threaded server, bearer token, rate limit, audit and usage rows, SQLite in a throw-away data
dir), ``--batch-size`` prompts per request.

The API side needs ``/v1/completions`` to answer ``echo`` with prompt log probabilities and to
take token-id prompts; until it does, it is reported as unavailable (with the server's answer)
and ``--no-http`` measures lm-eval's own client path over serving's echo functions without HTTP.

Prints requests/s of each side, their ratio, and a last line of JSON.
Usage: python bench/eval_throughput.py [--tiny | --model-dir DIR] [--questions 64]
       [--batch-size 8] [--max-gen-toks 16] [--no-http]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-gen-toks", type=int, default=16)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--tiny", action="store_true", help="a tiny model built in code")
    parser.add_argument(
        "--no-http",
        action="store_true",
        help="API side through lm-eval's client code and serving's echo, without a server",
    )
    return parser.parse_args()


def _bench_serving() -> Any:
    """bench/serving.py's helpers (Django setup, a token, a threaded server, the model)."""
    spec = importlib.util.spec_from_file_location("bench_serving", ROOT / "bench" / "serving.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tasks(questions: int, max_gen_toks: int) -> list[Any]:
    """A multiple-choice and a generation task over made-up arithmetic."""
    from evaluation.harness.tasks import task_from_records

    def plain(messages: list[dict[str, str]]) -> str:
        return f"Question: {messages[-1]['content']}\nAnswer:"

    choice = [
        {
            "prompt": f"What is {i} plus {i + 3}?",
            "choices": [f" {2 * i + 3}", f" {2 * i + 4}", f" {i}", f" {3 * i}"],
            "answer": 0,
        }
        for i in range(questions)
    ]
    generation = [
        {"prompt": f"Write the number {i} in words.", "completion": str(i)}
        for i in range(max(1, questions // 4))
    ]
    return [
        task_from_records("bench_choice", choice, plain).task,
        task_from_records("bench_generation", generation, plain, max_gen_toks=max_gen_toks).task,
    ]


def in_thread(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on a short-lived thread. PyTorch's OpenMP workers belong to the thread
    that first ran a parallel operation and, for the main thread, outlive its work, competing
    for the cores with every other thread that runs the model (measured on 2 cores: 0.15 s per
    generation on any thread of a process whose main thread never touched a tensor, 0.25 s on
    a request thread once the main thread had). A server never runs the model on its main
    thread; so in this bench nothing does: the conversion, the load and both sides run on
    threads, and both sides get the same conditions."""
    out: dict[str, Any] = {}

    def run() -> None:
        out["value"] = fn(*args)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "value" not in out:
        raise RuntimeError(f"{fn.__name__} failed on its thread (see the traceback above)")
    return out["value"]


def timed(lm: Any, suite: list[Any]) -> tuple[float, list[Any]]:
    from evaluation.harness.run import run_tasks

    def run() -> tuple[float, list[Any]]:
        start = time.perf_counter()
        results = run_tasks(lm, suite)
        return time.perf_counter() - start, results

    return in_thread(run)


def probe_echo(base_url: str, token: str) -> str | None:
    """None when the endpoint answers lm-eval's scoring request as lm-eval needs, else why not."""
    import httpx2

    body = {
        "model": "bench",
        "prompt": [[1, 2, 3]],
        "max_tokens": 1,
        "logprobs": 1,
        "echo": True,
        "temperature": 0,
    }
    response = httpx2.post(
        f"{base_url}/v1/completions",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    logprobs = (response.json()["choices"][0].get("logprobs") or {}).get("token_logprobs") or []
    if len(logprobs) != 4:
        return f"echo is not honoured ({len(logprobs)} log probabilities for 3 prompt tokens + 1)"
    return None


def api_model(model_dir: Path, context: int, base_url: str, batch_size: int) -> Any:
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    return LocalCompletionsAPI(
        base_url=f"{base_url}/v1/completions",
        model="bench",
        tokenizer=str(model_dir),
        tokenizer_backend="huggingface",
        max_length=context,
        batch_size=batch_size,
    )


def no_http_model(loaded: Any, model_dir: Path, batch_size: int) -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "evaluation"))
    from evaluation_fake_api import local_completions

    return local_completions(
        loaded, str(model_dir), max_length=loaded.context_length, batch_size=batch_size
    )


def requests_of(questions: int) -> int:
    return 4 * questions + max(1, questions // 4)


def main() -> None:
    args = parse_args()
    bench = _bench_serving()
    work = Path(tempfile.mkdtemp(prefix="soberana-bench-eval-"))
    bench.setup_django(work / "data")
    os.environ["SOBERANA_LOG_LEVEL"] = "WARNING"
    model_dir = in_thread(bench.choose_model, args, work)
    token = bench.prepare(Path(model_dir))
    from evaluation.harness.lm import PlatformLM
    from serving import registry
    from trainer.models import BaseModel

    target = registry.ModelTarget(
        "bench", "bench-eval", base_model=BaseModel.objects.get(name="bench")
    )
    loaded = in_thread(registry.load_target, target)
    suite = tasks(args.questions, args.max_gen_toks)
    count = requests_of(args.questions)
    print(f"model {model_dir}, {count} lm-eval requests per side, batch size {args.batch_size}")
    timed(PlatformLM(loaded), tasks(4, 2))  # warm up: both task kinds, as the API side
    local_s, local_results = timed(PlatformLM(loaded), suite)
    print(f"  in-process: {count / local_s:8.1f} requests/s ({local_s:.1f} s)")
    figures: dict[str, Any] = {"requests": count, "inprocess_requests_per_s": count / local_s}
    if args.no_http:
        side, model = (
            "lm-eval client, no HTTP",
            no_http_model(loaded, Path(model_dir), args.batch_size),
        )
        missing = None
    else:
        base_url, server = bench.start_server()
        os.environ["OPENAI_API_KEY"] = token
        side, model = (
            "/v1 API",
            api_model(Path(model_dir), loaded.context_length, base_url, args.batch_size),
        )
        missing = probe_echo(base_url, token)
    if missing:
        print(f"  {side}: unavailable: /v1/completions {missing}")
        figures["api_unavailable"] = missing
    else:
        timed(model, tasks(4, 2))  # warm up: the server's first generation loads its code paths
        api_s, api_results = timed(model, suite)
        print(f"  {side}: {count / api_s:8.1f} requests/s ({api_s:.1f} s)")
        overhead = api_s / local_s - 1
        print(
            f"API overhead: {100 * overhead:.1f}% (goal <= 20%); same scores: {api_results == local_results}"
        )
        figures |= {
            "api_requests_per_s": count / api_s,
            "overhead": overhead,
            "same_scores": api_results == local_results,
        }
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
