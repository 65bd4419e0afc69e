"""Public names of deployed models: ``ft:<base>:<project slug>:<suffix or job<training job
id>>``, as OpenAI names fine-tuned models. Pure functions, no Django models. The ids of files
and fine-tuning jobs are ``openai_api.naming``'s."""

from __future__ import annotations

import re

from django.utils.text import slugify

SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def fine_tuned_model_name(base_name: str, project_name: str, suffix: str, job_id: int) -> str:
    """The public name of a fine-tuned model; ``suffix`` (may be empty) replaces the job id."""
    project = slugify(project_name) or "project"
    return f"ft:{base_name}:{project}:{suffix or f'job{job_id}'}"


def valid_suffix(suffix: str) -> bool:
    """Letters, digits, ``-`` and ``_``, at most 40 characters (the empty suffix is valid)."""
    return suffix == "" or bool(SUFFIX_PATTERN.match(suffix))
