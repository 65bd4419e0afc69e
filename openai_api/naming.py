"""Ids of the OpenAI-compatible API. Pure functions, no Django models.

* files: ``file-<dataset id>``; fine-tuning jobs: ``ftjob-<id>``; events ``ftevent-<id>``;
  checkpoints ``ftckpt-<job id>-<step>``.
* fine-tuned model names are the deployments' (``serving.naming``).
"""

from __future__ import annotations


class BadId(ValueError):
    """The string is not an id of the expected kind."""


def file_id(dataset_id: int) -> str:
    return f"file-{dataset_id}"


def job_id(fine_tune_id: int) -> str:
    return f"ftjob-{fine_tune_id}"


def parse_id(raw: str, prefix: str) -> int:
    """The integer behind ``<prefix>-<n>``; raises BadId for anything else."""
    head, _, tail = str(raw).partition("-")
    if head != prefix or not tail.isdigit() or len(tail) > 18:
        raise BadId(f"{raw!r} is not a valid {prefix} id")
    return int(tail)
