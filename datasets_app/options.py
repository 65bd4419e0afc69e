"""Per-dataset ingestion options, validated at upload time and stored on the dataset row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ops.errors import InvalidField

OPERATORS = ("placeholder", "surrogate", "mask", "drop")


class OptionsError(InvalidField):
    """An option is invalid; ``field`` names it."""


def _known_types() -> frozenset[str]:
    """The detector's entity types plus ``DEFAULT`` (``redaction.operator_for``'s fallback).

    Imported on use: importing the pipeline package loads the NLP libraries, which a web
    process validating an upload without per-type operators does not need."""
    from datasets_app.pipeline.pii_types import ENTITY_TYPES

    return frozenset({*ENTITY_TYPES, "DEFAULT"})


@dataclass
class IngestOptions:
    """What a user may choose when uploading. Everything has a sensible default."""

    text_columns: list[str] | None = None
    skip_bad_lines: bool = False
    text_split: str = "blank_line"
    operator: str = "placeholder"
    operators_by_type: dict[str, str] = field(default_factory=dict)
    score_threshold: float = 0.5
    allow_list: list[str] = field(default_factory=list)
    deny_list: list[str] = field(default_factory=list)
    language: str = "auto"
    split_seed: int = 1234
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    cleaning: dict[str, Any] = field(default_factory=dict)
    require_full_review: bool = False
    reidentification_map: bool = False

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise OptionsError("operator", f"must be one of {', '.join(OPERATORS)}")
        for entity, op in self.operators_by_type.items():
            if entity not in _known_types():
                raise OptionsError("operators_by_type", f"{entity}: unknown entity type")
            if op not in OPERATORS:
                raise OptionsError("operators_by_type", f"{entity}: unknown operator {op!r}")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise OptionsError("score_threshold", "must be between 0 and 1")
        if self.language not in ("auto", "en", "es"):
            raise OptionsError("language", "must be auto, en or es")
        if self.text_split not in ("file", "blank_line"):
            raise OptionsError("text_split", "must be file or blank_line")
        ratios = tuple(float(r) for r in self.split_ratios)
        if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
            raise OptionsError("split_ratios", "three non-negative numbers that add up to 1")
        self.split_ratios = ratios  # type: ignore[assignment]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> IngestOptions:
        """Build from user input; unknown keys raise OptionsError naming them."""
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise OptionsError(sorted(unknown)[0], "unknown option")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["split_ratios"] = list(self.split_ratios)
        return result
