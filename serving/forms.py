"""Browser forms of the serving pages: deploy a version, issue a key, export a model.

They validate input only; the pages call ``serving.services`` and ``serving.export``, which
authorize and audit exactly as the API does.
"""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.roles import Action
from accounts.services import project_ids_allowing
from serving import export_bundle
from trainer.models import ModelVersion


class VersionChoice(forms.ModelChoiceField):
    """A model version shown with its project."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.project.name}, job #{obj.job_id})"


class DeployForm(forms.Form):
    """Deploy one of the versions the user may deploy (DEPLOY_MODEL in its project)."""

    model_version = VersionChoice(queryset=ModelVersion.objects.none())
    suffix = forms.CharField(
        required=False,
        max_length=40,
        help_text="Part of the model name; letters, digits, '-' and '_'. Empty: the job id.",
    )
    pii_filter = forms.BooleanField(required=False, label="Filter personal data out of the answers")

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = project_ids_allowing(user, Action.DEPLOY_MODEL)
        field = self.fields["model_version"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            ModelVersion.objects.filter(project_id__in=ids)
            .select_related("project")
            .order_by("-created_at")
        )


class KeyForm(forms.Form):
    """A new deployment key: its name, rate limit and optional lifetime."""

    name = forms.CharField(max_length=120, initial="app")
    rate_limit_rpm = forms.IntegerField(
        min_value=1, max_value=100_000, initial=60, label="Requests per minute"
    )
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, label="Expires after (days, empty: never)"
    )


class ExportForm(forms.Form):
    """An export request: which weights, sealed or plain, and the owner's password again."""

    weights = forms.ChoiceField(
        choices=[
            ("safetensors", "safetensors (Transformers)"),
            ("gguf", "GGUF (llama.cpp, Ollama)"),
        ]
    )
    format = forms.ChoiceField(
        choices=[("encrypted", "Encrypted bundle (passphrase)"), ("plain", "Plain zip")],
        initial="encrypted",
    )
    passphrase = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"At least {export_bundle.MIN_PASSPHRASE} characters; needed for the encrypted bundle.",
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        label="Your password, typed again",
    )
