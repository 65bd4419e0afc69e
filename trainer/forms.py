"""The browser job form: the objective and the method, and only the settings that apply.

Settings of an objective or a method come from the registry (``Objective.settings``,
``Method.settings``) with the engine config's defaults and help texts, so a new objective's
settings appear here without touching this module. Each such field carries ``applies_to``
(objectives or methods); the page hides the others (``static/js/job_form.js``), and a value
posted for a setting that does not apply is refused naming it unless it is the default
(hidden inputs still post their initial value), never silently dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms

from trainer.engine import TrainConfig, registry
from trainer.models import BaseModel

# TrainConfig fields offered on the page beyond the common ones; list-valued ones stay API-only.
_NUMBER_FIELDS = {
    f.name: f for f in dataclasses.fields(TrainConfig) if f.type in ("int", "float", int, float)
}
DP_KEYS = ("target_epsilon", "delta", "max_grad_norm")
COMMON = ("max_steps", "learning_rate", "batch_size", "seq_len", "checkpoint_every")


def _setting_field(name: str) -> forms.Field:
    spec = _NUMBER_FIELDS[name]
    help_text = str(spec.metadata.get("help", ""))
    if spec.type in ("int", int):
        return forms.IntegerField(required=False, initial=spec.default, help_text=help_text)
    return forms.FloatField(required=False, initial=spec.default, help_text=help_text)


def _scoped_settings() -> dict[str, tuple[str, tuple[str, ...]]]:
    """setting → ("objective" | "method", the names it applies to), in registry order."""
    scoped: dict[str, tuple[str, list[str]]] = {}
    for kind, names, lookup in (
        ("objective", registry.objective_names(), registry.objective),
        ("method", registry.method_names(), registry.method),
    ):
        for name in names:
            for setting in lookup(name).settings:
                if setting in _NUMBER_FIELDS:
                    scoped.setdefault(setting, (kind, []))[1].append(name)
    return {setting: (kind, tuple(names)) for setting, (kind, names) in scoped.items()}


SCOPED = _scoped_settings()


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

    # Differential privacy (engine dp.py): empty target epsilon = off. Range checks and the
    # combinations that cannot be private are the engine config's, reported on these fields.
    dp_target_epsilon = forms.FloatField(
        required=False,
        label="Differential privacy: target ε",
        help_text="Train with DP-SGD so that the run spends at most this epsilon per record "
        "(for example 8). Leave empty to train without differential privacy.",
    )
    dp_delta = forms.FloatField(
        required=False,
        label="δ",
        help_text="Probability the guarantee may fail; empty = 1 / (10 × training records).",
    )
    dp_max_grad_norm = forms.FloatField(
        required=False,
        label="Per-record clipping norm",
        help_text="Each record's gradient is clipped to this L2 norm (default 1.0).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for setting, (kind, names) in SCOPED.items():
            field = _setting_field(setting)
            field.widget.attrs[f"data-{kind}"] = " ".join(names)
            self.fields[setting] = field

    def applies(self, setting: str) -> bool:
        """Whether a scoped setting belongs to the chosen objective or method."""
        kind, names = SCOPED[setting]
        chosen = self.cleaned_data.get(kind) or getattr(registry, f"DEFAULT_{kind.upper()}")
        return chosen in names

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for setting in SCOPED:
            value = cleaned.get(setting)
            if value is None or self.applies(setting):
                continue
            if value != self.fields[setting].initial:
                kind, names = SCOPED[setting]
                self.add_error(setting, f"Applies only to {kind} {', '.join(names)}.")
        return cleaned

    def hyperparameters(self) -> dict[str, float | int | str]:
        values: dict[str, float | int | str] = {key: self.cleaned_data[key] for key in COMMON}
        for setting in SCOPED:
            value = self.cleaned_data.get(setting)
            if value is not None and self.applies(setting):
                values[setting] = value
        privacy = self.differential_privacy()
        if privacy:
            values["differential_privacy"] = privacy  # type: ignore[assignment]
        return {"objective": self.cleaned_data["objective"] or registry.DEFAULT_OBJECTIVE, **values}

    def differential_privacy(self) -> dict[str, float]:
        """The ``differential_privacy`` setting from the dp_* fields ({} when all are empty)."""
        return {
            key: self.cleaned_data[f"dp_{key}"]
            for key in DP_KEYS
            if self.cleaned_data.get(f"dp_{key}") is not None
        }

    def field_for(self, setting: str) -> str | None:
        """The form field showing an error about engine setting ``setting`` (None: the
        form as a whole): ``differential_privacy.delta`` is shown on ``dp_delta``."""
        if setting == "differential_privacy":
            setting = "differential_privacy.target_epsilon"
        if setting.startswith("differential_privacy."):
            setting = "dp_" + setting.removeprefix("differential_privacy.")
        return setting if setting in self.fields else None
