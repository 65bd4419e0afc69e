"""Public names and ids of the OpenAI-compatible API. Pure functions, no Django models.

* fine-tuned models: ``ft:<base>:<project slug>:<suffix or job<training job id>>``
* files: ``file-<dataset id>``; fine-tuning jobs: ``ftjob-<id>``; events ``ftevent-<id>``;
  checkpoints ``ftckpt-<job id>-<step>``.
"""

from __future__ import annotations

import re

from django.utils.text import slugify

SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


class BadId(ValueError):
    """The string is not an id of the expected kind."""


def fine_tuned_model_name(base_name: str, project_name: str, suffix: str, job_id: int) -> str:
    """The public name of a fine-tuned model; ``suffix`` (may be empty) replaces the job id."""
    project = slugify(project_name) or "project"
    return f"ft:{base_name}:{project}:{suffix or f'job{job_id}'}"


def valid_suffix(suffix: str) -> bool:
    """Letters, digits, ``-`` and ``_``, at most 40 characters (the empty suffix is valid)."""
    return suffix == "" or bool(SUFFIX_PATTERN.match(suffix))


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
