"""Sections other apps add to the job page (which also shows the job's model version).

``trainer`` cannot import the apps above it, so they register a section renderer in their
``AppConfig.ready`` (``register_job_section``): ``privacy`` shows the model version's privacy
audit. The job page renders every registered section, in registration order, after the
evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

from trainer.models import TrainingJob

JobSection = Callable[[HttpRequest, TrainingJob], SafeString | str]
_SECTIONS: dict[str, JobSection] = {}


def register_job_section(name: str, render: JobSection) -> None:
    """Add (or replace, by ``name``) a section; ``render`` returns HTML, escaped by its own
    template, or "" to show nothing."""
    _SECTIONS[name] = render


def job_sections(request: HttpRequest, job: TrainingJob) -> list[SafeString | str]:
    """The registered sections of ``job``'s page, rendered for ``request``'s user."""
    return [html for render in list(_SECTIONS.values()) if (html := render(request, job))]
