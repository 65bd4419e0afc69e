from __future__ import annotations

from django import forms

from trainer.engine_meta import METHOD_CHOICES
from trainer.models import BaseModel


class JobForm(forms.Form):
    """Launch a job with sensible defaults; every field maps to an engine hyperparameter."""

    base_model = forms.ModelChoiceField(queryset=BaseModel.objects.all(), required=False)
    method = forms.ChoiceField(choices=[(m, m) for m in METHOD_CHOICES], initial="lora")
    max_steps = forms.IntegerField(min_value=1, max_value=1_000_000, initial=30)
    learning_rate = forms.FloatField(min_value=1e-7, max_value=1.0, initial=2e-4)
    batch_size = forms.IntegerField(min_value=1, max_value=512, initial=2)
    seq_len = forms.IntegerField(min_value=16, max_value=131072, initial=256)
    checkpoint_every = forms.IntegerField(min_value=1, initial=10)

    def hyperparameters(self) -> dict[str, float | int]:
        keys = ("max_steps", "learning_rate", "batch_size", "seq_len", "checkpoint_every")
        return {key: self.cleaned_data[key] for key in keys}
