"""Helpers shared by the serving tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

import json
from typing import Any


def run_training_job(job_id: int) -> Any:
    """Claim and run a queued training job in this process; return it refreshed. Its
    evaluation (a task of its own) is not sent: these tests do not need the scores."""
    from unittest import mock

    from trainer import lease as leases
    from trainer import runner
    from trainer.models import TrainingJob

    lease = leases.claim_job(job_id, "test")
    assert lease is not None
    with mock.patch("trainer.evaluations.enqueue_evaluation"):
        runner.run_claimed_job(lease)
    return TrainingJob.objects.get(pk=job_id)


def chat_jsonl(n: int = 30) -> bytes:
    """A chat fine-tuning file in OpenAI's format, with one e-mail address per record."""
    lines = []
    for i in range(n):
        messages = [
            {"role": "user", "content": f"Where is order {i}? Mail me at c{i}@example.org"},
            {"role": "assistant", "content": f"Order {i} ships on Monday."},
        ]
        lines.append(json.dumps({"messages": messages}))
    return ("\n".join(lines) + "\n").encode()
