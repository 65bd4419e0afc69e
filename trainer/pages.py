"""Sections other apps add to the job page and to the model-version page.

``trainer`` cannot import the apps above it, so they register a section renderer in their
``AppConfig.ready``: ``register_job_section`` for the job page (which also shows the job's
model version), ``register_model_version_section`` for the model-version page. ``privacy``
shows the model version's privacy audit on both. Each page renders its registered sections,
in registration order: the job page after the evaluation, the model-version page after the
version's facts.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

from trainer.models import ModelVersion, TrainingJob

JobSection = Callable[[HttpRequest, TrainingJob], SafeString | str]
ModelVersionSection = Callable[[HttpRequest, ModelVersion], SafeString | str]
_SECTIONS: dict[str, JobSection] = {}
_VERSION_SECTIONS: dict[str, ModelVersionSection] = {}


def register_job_section(name: str, render: JobSection) -> None:
    """Add (or replace, by ``name``) a section; ``render`` returns HTML, escaped by its own
    template, or "" to show nothing."""
    _SECTIONS[name] = render


def job_sections(request: HttpRequest, job: TrainingJob) -> list[SafeString | str]:
    """The registered sections of ``job``'s page, rendered for ``request``'s user."""
    return [html for render in list(_SECTIONS.values()) if (html := render(request, job))]


def register_model_version_section(name: str, render: ModelVersionSection) -> None:
    """Add (or replace, by ``name``) a section of the model-version page; same contract as
    ``register_job_section``. The page has already checked that the user may see the version."""
    _VERSION_SECTIONS[name] = render


def model_version_sections(request: HttpRequest, version: ModelVersion) -> list[SafeString | str]:
    """The registered sections of ``version``'s page, rendered for ``request``'s user."""
    renders = list(_VERSION_SECTIONS.values())
    return [html for render in renders if (html := render(request, version))]
