from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Project
from accounts.roles import Action
from accounts.services import project_ids_allowing


class UploadForm(forms.Form):
    """Upload a file into a project where the user may upload."""

    project = forms.ModelChoiceField(queryset=Project.objects.none())
    name = forms.CharField(max_length=200, required=False)
    file = forms.FileField()
    skip_bad_lines = forms.BooleanField(required=False)
    source_column = forms.CharField(
        max_length=200,
        required=False,
        help_text="CSV/Parquet column (or JSONL field) naming where each record came from.",
    )
    operator = forms.ChoiceField(
        choices=[
            ("placeholder", "Typed placeholders <PERSON_12>"),
            ("surrogate", "Realistic surrogates"),
            ("mask", "Mask"),
            ("drop", "Drop the record"),
        ],
        initial="placeholder",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = project_ids_allowing(user, Action.UPLOAD_DATA)
        self.fields["project"].queryset = Project.objects.filter(pk__in=ids)
        if len(ids) == 1:
            self.fields["project"].initial = ids[0]


class BulkDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accepted", "accept"), ("rejected", "reject")])
    entity_type = forms.CharField(required=False)


class RiskDecisionForm(forms.Form):
    """A bulk decision on data-risk flags: every filter given must match."""

    decision = forms.ChoiceField(
        choices=[("accepted", "accept"), ("dismissed", "dismiss"), ("pending", "reset")]
    )
    action = forms.ChoiceField(
        choices=[("quarantine", "quarantine"), ("drop", "drop")], required=False
    )
    detector = forms.CharField(max_length=32, required=False)
    source = forms.CharField(max_length=200, required=False)
    group = forms.CharField(max_length=64, required=False)
    ids = forms.CharField(max_length=20_000, required=False)

    def clean_ids(self) -> list[int]:
        raw = self.cleaned_data.get("ids") or ""
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not all(part.isdigit() and len(part) < 12 for part in parts):
            raise forms.ValidationError("ids must be comma-separated flag ids")
        return [int(part) for part in parts]


class SourceTrustForm(forms.Form):
    source = forms.CharField(max_length=200)
    trust = forms.ChoiceField(
        choices=[(t, t) for t in ("trusted", "untrusted", "blocked", "unmarked")]
    )
