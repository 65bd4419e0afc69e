"""What the model pages show: a model version's summary (lineage, metrics, curves) and the
rows of a side-by-side comparison. Plain data for the templates; no request handling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainer.curves import Curves, job_curves, last_value
from trainer.engine import registry
from trainer.models import ModelVersion


@dataclass
class VersionSummary:
    """One model version as the pages show it."""

    version: ModelVersion
    objective: str
    curves: Curves
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def tuned(self) -> dict[str, Any]:
        return (self.version.metrics or {}).get("tuned") or {}

    @property
    def base(self) -> dict[str, Any]:
        return (self.version.metrics or {}).get("base") or {}

    @property
    def best_val_loss(self) -> float | None:
        values = [value for _, value in self.curves["val_loss"]]
        return min(values) if values else None

    def chart_data(self) -> dict[str, Any]:
        """What static/js/models.js draws for this version."""
        return {"id": self.version.pk, "label": self.version.name, "curves": self.curves}


def summarize(version: ModelVersion) -> VersionSummary:
    """The summary of ``version`` (its job's settings and curves)."""
    settings = dict(version.job.hyperparameters or {})
    objective = str(settings.get("objective", registry.DEFAULT_OBJECTIVE))
    return VersionSummary(version, objective, job_curves(version.job), settings)


@dataclass(frozen=True)
class Row:
    """A line of the comparison table: ``values`` per version, ``best`` the index of the best
    value (None when the row has no better or worse)."""

    label: str
    values: list[str]
    best: int | None = None


Measure = Callable[[VersionSummary], Any]
# (label, measure, lower is better / higher is better / None: no ranking)
METRICS: tuple[tuple[str, Measure, bool | None], ...] = (
    ("Perplexity, tuned (test split)", lambda s: s.tuned.get("perplexity"), True),
    ("Perplexity, base model", lambda s: s.base.get("perplexity"), None),
    ("Test loss, tuned", lambda s: s.tuned.get("loss"), True),
    ("Reward accuracy", lambda s: s.tuned.get("reward_accuracy"), False),
    ("Final training loss", lambda s: last_value(s.curves["loss"]), True),
    ("Best validation loss", lambda s: s.best_val_loss, True),
    ("Differential privacy ε", lambda s: s.version.dp_epsilon, True),
)
SETTINGS: tuple[tuple[str, Measure], ...] = (
    ("Objective", lambda s: s.objective),
    ("Method", lambda s: s.version.job.method),
    ("Base model", lambda s: s.version.lineage.get("base_model") or "from scratch"),
    ("Dataset version", lambda s: str(s.version.job.dataset_version)),
    ("Steps", lambda s: (s.version.job.progress or {}).get("step")),
    ("Learning rate", lambda s: s.settings.get("learning_rate")),
    ("Batch size", lambda s: s.settings.get("batch_size")),
    ("Sequence length", lambda s: s.settings.get("seq_len")),
    ("LoRA rank", lambda s: s.settings.get("lora_r")),
    ("Seed", lambda s: s.settings.get("seed")),
)


def comparison_rows(summaries: list[VersionSummary]) -> list[Row]:
    """Metric rows (best value marked when two or more versions have one), then settings;
    a metric no version has is left out."""
    rows: list[Row] = []
    for label, measure, lower_is_better in METRICS:
        values = [measure(summary) for summary in summaries]
        if all(value is None for value in values):
            continue
        rows.append(Row(label, [display(v) for v in values], _best(values, lower_is_better)))
    for label, measure in SETTINGS:
        rows.append(Row(label, [display(measure(summary)) for summary in summaries]))
    return rows


def display(value: Any) -> str:
    """A value for a table cell: numbers to four significant digits, None as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _best(values: list[Any], lower_is_better: bool | None) -> int | None:
    numbers = [(value, i) for i, value in enumerate(values) if isinstance(value, int | float)]
    if lower_is_better is None or len(numbers) < 2:
        return None
    pick = min if lower_is_better else max
    return pick(numbers)[1]
