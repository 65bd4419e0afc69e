"""End-to-end acceptance with the official ``openai`` package against a running Soberana.

Uploads a chat JSONL file (``/v1/files``), creates a fine-tuning job, approves the file as a
data steward would (``POST /api/v1/datasets/{id}/approve/``; skipped with ``--no-approve`` for a
project that auto-approves redaction), follows the job's events until it ends, lists its
checkpoints, then chats with the fine-tuned model, whole and streamed. Exit status 0 only when
every step worked; each step prints one line.

    make run                                   # in another terminal
    TOKEN=$(.venv/bin/python manage.py create_api_token admin --scopes read,write,inference | tail -1)
    .venv/bin/python scripts/openai_acceptance.py --token "$TOKEN"

Needs a token whose user may upload, approve and launch jobs (the bootstrap admin may).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from typing import Any

SUPPORT_CHATS = [
    ("How do I reset my password?", "Open Settings, choose Security, then Reset password."),
    ("Where can I download my invoice?", "Invoices are under Billing, in the Documents tab."),
    ("Can I change the delivery address?", "Yes, until the order ships: open the order and edit."),
    ("The app crashes when I upload a photo.", "Update to the latest version and try again."),
    ("How do I add a colleague to my team?", "Go to Team, choose Invite and enter their e-mail."),
    ("¿Cómo cambio mi contraseña?", "Abra Ajustes, elija Seguridad y luego Cambiar contraseña."),
    ("My name is Laura Pérez and my card was charged twice.", "We refunded the second charge."),
    ("Please call me at +1 415 555 0132 about the outage.", "An engineer will call you today."),
]
TERMINAL = ("succeeded", "failed", "cancelled")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a Soberana API token")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="base model name")
    parser.add_argument("--records", type=int, default=48)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the job")
    parser.add_argument("--no-approve", dest="approve", action="store_false")
    return parser.parse_args()


def training_file(records: int) -> bytes:
    lines = []
    for i in range(records):
        question, answer = SUPPORT_CHATS[i % len(SUPPORT_CHATS)]
        messages = [
            {"role": "system", "content": "You are Acme's support assistant."},
            {"role": "user", "content": f"{question} (ticket {1000 + i})"},
            {"role": "assistant", "content": answer},
        ]
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_until_processed(native: Any, dataset_id: int, timeout: float) -> dict[str, Any]:
    """Poll the native dataset until ingestion ends (cleaned, PII found)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dataset = native.get(f"/api/v1/datasets/{dataset_id}/").raise_for_status().json()
        if dataset["status"] != "processing":
            return dataset
        time.sleep(2)
    raise SystemExit(f"dataset {dataset_id} still processing after {timeout:.0f} s")


def follow(client: Any, job_id: str, timeout: float) -> Any:
    """Print new events until the job ends; returns the finished job."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = client.fine_tuning.jobs.list_events(job_id, limit=100).data
        for event in reversed(events):
            if event.id not in seen:
                seen.add(event.id)
                step(f"  event: {event.message}")
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in TERMINAL:
            return job
        time.sleep(3)
    raise SystemExit(f"job {job_id} did not finish within {timeout:.0f} s")


def main() -> int:
    import httpx2
    import openai

    args = parse_args()
    client = openai.OpenAI(base_url=f"{args.base_url}/v1", api_key=args.token, max_retries=0)
    native = httpx2.Client(
        base_url=args.base_url, headers={"Authorization": f"Bearer {args.token}"}, timeout=60
    )
    models = [m.id for m in client.models.list().data]
    step(f"models: {', '.join(models)}")
    if args.model not in models:
        raise SystemExit(f"base model {args.model!r} is not served here")
    upload = io.BytesIO(training_file(args.records))
    upload.name = "support-chats.jsonl"
    uploaded = client.files.create(file=upload, purpose="fine-tune")
    step(f"uploaded {uploaded.id} ({uploaded.bytes} bytes)")
    job = client.fine_tuning.jobs.create(
        training_file=uploaded.id,
        model=args.model,
        suffix="acceptance",
        hyperparameters={"n_epochs": 1, "batch_size": 2, "max_steps": args.max_steps},
    )
    step(f"created {job.id}: {job.status}")
    dataset_id = int(uploaded.id.removeprefix("file-"))
    dataset = wait_until_processed(native, dataset_id, args.timeout)
    step(f"file processed: {dataset['status']}, {dataset.get('record_count')} records")
    if args.approve and dataset["status"] != "approved":
        native.post(f"/api/v1/datasets/{dataset_id}/approve/").raise_for_status()
        step("file approved by a data steward")
    done = follow(client, job.id, args.timeout)
    step(f"job {done.id}: {done.status}, trained tokens {done.trained_tokens}")
    if done.status != "succeeded":
        raise SystemExit(f"fine-tuning ended {done.status}: {done.error}")
    checkpoints = client.fine_tuning.jobs.checkpoints.list(done.id).data
    step(f"checkpoints: {[c.step_number for c in checkpoints]}")
    ask = [{"role": "user", "content": "How do I reset my password?"}]
    reply = client.chat.completions.create(model=done.fine_tuned_model, messages=ask, max_tokens=24)
    step(f"chat ({done.fine_tuned_model}): {reply.choices[0].message.content!r}")
    stream = client.chat.completions.create(
        model=done.fine_tuned_model, messages=ask, max_tokens=24, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    step(f"streamed: {text!r}")
    if not checkpoints or not reply.choices[0].message.content or not text:
        raise SystemExit("missing checkpoints or empty answers")
    step("acceptance passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
