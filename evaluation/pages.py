"""The evaluation app's section of the model-version page (``trainer.pages``): where the
version's evaluation report and model card are, and the project's versions side by side.

Registered from ``EvaluationConfig.ready``; ``trainer`` imports nothing of ``evaluation``.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from accounts.roles import Action
from accounts.services import project_ids_allowing
from trainer.models import ModelVersion
from trainer.pages import register_model_version_section


def register() -> None:
    """Add the section to the model-version page."""
    register_model_version_section("evaluation", render_report_links)


def render_report_links(request: HttpRequest, version: ModelVersion) -> SafeString | str:
    """Links to the report page, the Markdown model card and the side-by-side page, for a
    user who may read the project's results (the report's own rule); "" for anyone else."""
    if version.project_id not in project_ids_allowing(request.user, Action.VIEW_RESULTS):
        return ""
    return render_to_string(
        "evaluation/_model_version_section.html", {"version": version}, request=request
    )
