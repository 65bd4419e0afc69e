"""Per-dataset ingestion options, validated at upload time and stored on the dataset row."""

from __future__ import annotations

import math
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
    # The CSV/TSV/Parquet column or JSONL field naming each record's source (JSONL: "source"
    # when unset); see datasets_app.provenance.
    source_column: str | None = None
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
    # Run the poisoning screen at ingestion (docs/data-sources.md); off only to measure it.
    screen: bool = True

    def __post_init__(self) -> None:
        _check_types(self)
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
        _check_cleaning(self.cleaning)
        if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
            raise OptionsError("split_ratios", "three non-negative numbers that add up to 1")
        self.split_ratios = ratios  # type: ignore[assignment]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> IngestOptions:
        """Build from user input; unknown keys, wrong types and bad values raise OptionsError
        naming the option (never TypeError: this runs on hostile input)."""
        if data is not None and not isinstance(data, dict):
            raise OptionsError("options", "must be a JSON object")
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise OptionsError(sorted(unknown)[0], "unknown option")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["split_ratios"] = list(self.split_ratios)
        return result


MAX_SEED = 2**63 - 1


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _check_types(options: IngestOptions) -> None:
    """Raise OptionsError naming the first option whose JSON type is wrong."""
    checks: list[tuple[str, bool, str]] = [
        (
            "text_columns",
            options.text_columns is None
            or (_is_str_list(options.text_columns) and bool(options.text_columns)),
            "must be a non-empty list of column names",
        ),
        (
            "source_column",
            options.source_column is None
            or (isinstance(options.source_column, str) and 0 < len(options.source_column) <= 200),
            "must be a column name (at most 200 characters)",
        ),
        ("skip_bad_lines", isinstance(options.skip_bad_lines, bool), "must be true or false"),
        ("screen", isinstance(options.screen, bool), "must be true or false"),
        (
            "require_full_review",
            isinstance(options.require_full_review, bool),
            "must be true or false",
        ),
        (
            "reidentification_map",
            isinstance(options.reidentification_map, bool),
            "must be true or false",
        ),
        ("text_split", isinstance(options.text_split, str), "must be a string"),
        ("operator", isinstance(options.operator, str), "must be a string"),
        ("language", isinstance(options.language, str), "must be a string"),
        (
            "operators_by_type",
            isinstance(options.operators_by_type, dict)
            and all(
                isinstance(k, str) and isinstance(v, str)
                for k, v in options.operators_by_type.items()
            ),
            "must map entity types to operator names",
        ),
        ("score_threshold", _is_number(options.score_threshold), "must be a number"),
        ("allow_list", _is_str_list(options.allow_list), "must be a list of strings"),
        ("deny_list", _is_str_list(options.deny_list), "must be a list of strings"),
        (
            "split_seed",
            isinstance(options.split_seed, int)
            and not isinstance(options.split_seed, bool)
            and 0 <= options.split_seed <= MAX_SEED,
            f"must be an integer from 0 to {MAX_SEED}",
        ),
        (
            "split_ratios",
            isinstance(options.split_ratios, list | tuple)
            and all(_is_number(r) for r in options.split_ratios),
            "three non-negative numbers that add up to 1",
        ),
        ("cleaning", isinstance(options.cleaning, dict), "must be a JSON object"),
    ]
    for name, ok, message in checks:
        if not ok:
            raise OptionsError(name, message)


def _check_cleaning(cleaning: dict[str, Any]) -> None:
    """The cleaning settings must build a CleaningConfig (keys and types), else OptionsError.
    Imported on use: the cleaning module loads the language detector."""
    if not cleaning:
        return
    from datasets_app.pipeline.cleaning import CleaningConfig

    try:
        CleaningConfig.from_dict(cleaning)
    except (TypeError, ValueError) as exc:
        raise OptionsError("cleaning", str(exc)) from exc
