"""The browser job form: the objective and the method, and only the settings that apply.

The page groups the settings (``GROUPS``: the chosen objective's and method's, privacy, then
the advanced ones: length and schedule, validation, memory and precision, reproducibility),
each with the engine config's own help text (``TrainConfig`` field metadata). ``epochs``, when
given, becomes ``max_steps`` from the version's token count. The same form is validated for
the live estimate (``views.estimate``) and for a submission, so both name the same errors.

Settings of an objective or a method come from the registry (``Objective.settings``,
``Method.settings``) with the engine config's defaults and help texts, so a new objective's
settings appear here without touching this module. Each such field carries ``applies_to``
(objectives or methods); the page hides the others (``static/js/job_form.js``), and a value
posted for a setting that does not apply is refused naming it unless it is the default
(hidden inputs still post their initial value), never silently dropped.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from django import forms
from django.db.models import QuerySet

from datasets_app.models import Dataset, DatasetVersion
from trainer.engine import TrainConfig, registry
from trainer.engine.config import LR_SCHEDULES, PRECISIONS
from trainer.models import BaseModel

# Numeric TrainConfig fields that belong to an objective or a method (the registry's settings).
_NUMBER_FIELDS = {
    f.name: f for f in dataclasses.fields(TrainConfig) if f.type in ("int", "float", int, float)
}
DP_KEYS = ("target_epsilon", "delta", "max_grad_norm")
COMMON = ("max_steps", "learning_rate", "batch_size", "seq_len", "checkpoint_every")
# Advanced engine settings every job has (empty = the service's default), sent when given.
ADVANCED = (
    "warmup_steps",
    "lr_schedule",
    "min_lr_ratio",
    "eval_every",
    "precision",
    "grad_accum",
    "seed",
)
HELP = TrainConfig.help_texts()
LABELS = {
    "seq_len": "Sequence length (tokens)",
    "lora_r": "LoRA rank (r)",
    "lora_alpha": "LoRA alpha",
    "lora_dropout": "LoRA dropout",
    "lr_schedule": "Learning-rate schedule",
    "min_lr_ratio": "Final learning rate (fraction of peak)",
    "eval_every": "Validate every N steps",
    "grad_accum": "Gradient accumulation (micro-batches per step)",
    "freeze_layers": "Frozen decoder layers",
}
TARGET_MODULES = "lora_target_modules"

# The page's groups of settings, in order: (id, legend, advanced, field names). Fields of no
# group are the basic ones, shown first; advanced groups (last) sit in a collapsed "Advanced
# settings"; a group none of whose fields applies to the chosen objective and method is
# hidden (static/js/job_form.js).
GROUPS: tuple[tuple[str, str, bool, tuple[str, ...]], ...] = (
    (
        "objective-settings",
        "Objective settings",
        False,
        tuple(dict.fromkeys(n for names in registry.objective_settings().values() for n in names)),
    ),
    ("lora", "LoRA adapters", False, ("lora_r", "lora_alpha", "lora_dropout", TARGET_MODULES)),
    ("layers", "Frozen layers", False, ("freeze_layers",)),
    (
        "privacy",
        "Privacy",
        False,
        ("canaries", "dp_target_epsilon", "dp_delta", "dp_max_grad_norm"),
    ),
    (
        "length",
        "Length and schedule",
        True,
        ("epochs", "warmup_steps", "lr_schedule", "min_lr_ratio"),
    ),
    ("validation", "Validation", True, ("validation_dataset", "eval_every")),
    (
        "memory",
        "Memory and precision",
        True,
        ("precision", "gradient_checkpointing", "grad_accum"),
    ),
    ("reproducibility", "Reproducibility", True, ("seed",)),
)


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
    # Their help is one line per choice (the page shows the chosen one's): `choice_help`.
    objective = forms.ChoiceField(
        choices=[(name, name) for name in registry.objective_names()],
        initial=registry.DEFAULT_OBJECTIVE,
        required=False,  # a form posted without it trains as before: supervised
    )
    method = forms.ChoiceField(
        choices=[(name, name) for name in registry.method_names()],
        initial=registry.DEFAULT_METHOD,
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

    # Advanced settings: help texts from the engine config's own metadata (TrainConfig).
    epochs = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=1000,
        help_text="Passes over the training split; when given it replaces max steps (about "
        "epochs x the split's tokens / (batch size x sequence length x accumulation)).",
    )
    warmup_steps = forms.IntegerField(
        required=False, min_value=0, help_text=HELP["warmup_steps"] + " Empty: a tenth of the run."
    )
    lr_schedule = forms.ChoiceField(
        required=False,
        choices=[(name, name) for name in LR_SCHEDULES],
        initial=TrainConfig.lr_schedule,
        help_text=HELP["lr_schedule"],
    )
    min_lr_ratio = forms.FloatField(
        required=False, initial=TrainConfig.min_lr_ratio, help_text=HELP["min_lr_ratio"]
    )
    validation_dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        empty_label="the dataset's own validation split",
        help_text="Another approved dataset of the project to compute the validation loss on; "
        "the training dataset's validation split then trains too.",
    )
    eval_every = forms.IntegerField(
        required=False, min_value=0, initial=10, help_text=HELP["eval_every"]
    )
    precision = forms.ChoiceField(
        required=False,
        choices=[(name, name) for name in PRECISIONS],
        initial=TrainConfig.precision,
        help_text=HELP["precision"],
    )
    gradient_checkpointing = forms.BooleanField(
        required=False, help_text=HELP["gradient_checkpointing"]
    )
    grad_accum = forms.IntegerField(
        required=False, min_value=1, initial=1, help_text=HELP["grad_accum"]
    )
    seed = forms.IntegerField(required=False, min_value=0, initial=1234, help_text=HELP["seed"])

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

    def __init__(
        self,
        *args: Any,
        version: DatasetVersion | None = None,
        validation_datasets: QuerySet[Dataset] | None = None,
        **kwargs: Any,
    ) -> None:
        """``version``: the training version (for epochs); ``validation_datasets``: the
        approved datasets the caller may validate on."""
        super().__init__(*args, **kwargs)
        self.version = version
        for setting, (kind, names) in SCOPED.items():
            field = _setting_field(setting)
            field.widget.attrs[f"data-{kind}"] = " ".join(names)
            self.fields[setting] = field
        self.fields[TARGET_MODULES] = forms.CharField(
            required=False,
            initial="all-linear",
            max_length=500,
            label="LoRA target modules",
            help_text=HELP[TARGET_MODULES] + " Names separated by commas.",
        )
        self.fields[TARGET_MODULES].widget.attrs["data-method"] = " ".join(
            name
            for name in registry.method_names()
            if TARGET_MODULES in registry.method(name).settings
        )
        for name, choices in (
            ("objective", registry.objective_choices()),
            ("method", registry.method_choices()),
        ):
            self.fields[name].choice_help = choices  # type: ignore[attr-defined]
            self.fields[name].widget.attrs["aria-describedby"] = f"help-{name}"
        if validation_datasets is not None:
            field = self.fields["validation_dataset"]
            field.queryset = validation_datasets  # type: ignore[attr-defined]
        for name, field in self.fields.items():
            field.label = LABELS.get(name, field.label)
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"help-{name}"

    def groups(self) -> list[dict[str, Any]]:
        """The settings as the page shows them: [{"id", "legend", "advanced", "fields"}], the
        basic settings first (id "basic"), then GROUPS."""
        grouped = {name for *_, names in GROUPS for name in names}
        basic = [self[name] for name in self.fields if name not in grouped]
        return [{"id": "basic", "legend": "", "advanced": False, "fields": basic}] + [
            {
                "id": key,
                "legend": legend,
                "advanced": advanced,
                "fields": [self[name] for name in names if name in self.fields],
            }
            for key, legend, advanced, names in GROUPS
        ]

    def applies(self, setting: str) -> bool:
        """Whether a scoped setting belongs to the chosen objective or method."""
        kind, names = SCOPED[setting]
        chosen = self.cleaned_data.get(kind) or getattr(registry, f"DEFAULT_{kind.upper()}")
        return chosen in names

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._check_target_modules(cleaned)
        if cleaned.get("epochs") is not None:
            self._steps_from_epochs(cleaned)
        for setting in SCOPED:
            value = cleaned.get(setting)
            if value is None or self.applies(setting):
                continue
            if value != self.fields[setting].initial:
                kind, names = SCOPED[setting]
                self.add_error(setting, f"Applies only to {kind} {', '.join(names)}.")
        return cleaned

    def _check_target_modules(self, cleaned: dict[str, Any]) -> None:
        """A non-default target list for a method without adapters is refused, like every
        setting that does not apply."""
        value = (cleaned.get(TARGET_MODULES) or "").strip()
        method = cleaned.get("method") or registry.DEFAULT_METHOD
        applies = TARGET_MODULES in registry.method(method).settings
        if value and value != "all-linear" and not applies:
            self.add_error(TARGET_MODULES, "Applies only to methods with adapters.")

    def _steps_from_epochs(self, cleaned: dict[str, Any]) -> None:
        """Set max_steps from epochs and the training split's token count."""
        stats = (self.version.token_stats if self.version else None) or {}
        tokens = stats.get("total_tokens")
        batch, seq_len = cleaned.get("batch_size"), cleaned.get("seq_len")
        if not tokens or not batch or not seq_len or self.version is None:
            self.add_error(
                "epochs", "This dataset version has no token count yet: set max steps instead."
            )
            return
        counts = self.version.split_counts or {}
        share = counts.get("train", 0) / max(1, sum(counts.values()))
        per_step = batch * seq_len * (cleaned.get("grad_accum") or 1)
        steps = math.ceil(cleaned["epochs"] * tokens * share / per_step)
        cleaned["max_steps"] = max(1, min(1_000_000, steps))

    def target_modules(self) -> str | list[str] | None:
        """The LoRA targets as the engine reads them (None: not given)."""
        value = (self.cleaned_data.get(TARGET_MODULES) or "").strip()
        if not value or value == "all-linear":
            return value or None
        return [name.strip() for name in value.split(",") if name.strip()]

    def validation_version(self) -> DatasetVersion | None:
        """The chosen validation dataset's latest approved version (None: none chosen)."""
        dataset = self.cleaned_data.get("validation_dataset")
        return dataset.latest_version if dataset is not None else None

    def hyperparameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {key: self.cleaned_data[key] for key in COMMON}
        for setting in SCOPED:
            value = self.cleaned_data.get(setting)
            if value is not None and self.applies(setting):
                values[setting] = value
        for setting in ADVANCED:
            value = self.cleaned_data.get(setting)
            if value not in (None, ""):
                values[setting] = value
        if self.cleaned_data.get("gradient_checkpointing"):
            values["gradient_checkpointing"] = True
        targets = self.target_modules()
        if (
            targets is not None
            and TARGET_MODULES in registry.method(self.cleaned_data["method"]).settings
        ):
            values[TARGET_MODULES] = targets
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
        if setting == "validation_version":
            return "validation_dataset"
        if setting == "differential_privacy":
            setting = "differential_privacy.target_epsilon"
        if setting.startswith("differential_privacy."):
            setting = "dp_" + setting.removeprefix("differential_privacy.")
        return setting if setting in self.fields else None
