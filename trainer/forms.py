from __future__ import annotations

from django import forms

from trainer.engine import registry
from trainer.models import BaseModel


class JobForm(forms.Form):
    """Launch a job with sensible defaults; every field maps to an engine hyperparameter."""

    base_model = forms.ModelChoiceField(queryset=BaseModel.objects.all(), required=False)
    objective = forms.ChoiceField(
        choices=[(name, name) for name in registry.objective_names()],
        initial=registry.DEFAULT_OBJECTIVE,
        required=False,  # a form posted without it trains as before: supervised
        help_text=" ".join(f"{name}: {text}" for name, text in registry.objective_choices()),
    )
    method = forms.ChoiceField(
        choices=[(name, name) for name in registry.method_names()],
        initial=registry.DEFAULT_METHOD,
        help_text=" ".join(f"{name}: {text}" for name, text in registry.method_choices()),
    )
    max_steps = forms.IntegerField(min_value=1, max_value=1_000_000, initial=30)
    learning_rate = forms.FloatField(min_value=1e-7, max_value=1.0, initial=2e-4)
    batch_size = forms.IntegerField(min_value=1, max_value=512, initial=2)
    seq_len = forms.IntegerField(min_value=16, max_value=131072, initial=256)
    checkpoint_every = forms.IntegerField(min_value=1, initial=10)
    canaries = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Add a few synthetic secrets to the training split (never to your data) so "
        "the privacy audit can measure what the model memorized.",
    )

    def privacy_audit(self) -> dict[str, bool]:
        return {"canaries": bool(self.cleaned_data.get("canaries"))}

    def hyperparameters(self) -> dict[str, float | int | str]:
        keys = ("max_steps", "learning_rate", "batch_size", "seq_len", "checkpoint_every")
        values = {key: self.cleaned_data[key] for key in keys}
        return {"objective": self.cleaned_data["objective"] or registry.DEFAULT_OBJECTIVE, **values}
