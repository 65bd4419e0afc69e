"""The lm-eval task settings an uploaded bundle may use, and the checks on their values.

A bundle's task may only use lm-eval's built-in metrics, aggregations, filters and few-shot
samplers, and Jinja templates that pass ``sandbox.template_problem``. Everything that would
load or run code is refused with the reason, never dropped:

* ``!function`` tags (refused by the YAML loader), ``process_docs``, ``process_results``,
  ``custom_dataset``, ``class``: Python code.
* a metric lm-eval does not register, or ``hf_evaluate: true``: lm-eval then calls
  ``evaluate.load(name)``, which downloads and runs a metric script (or runs a local one).
* the ``custom`` filter (a Python callable) and ``use_prompt`` (promptsource, downloaded).
* ``unsafe_code``, images and audio (``doc_to_image``, ``doc_to_audio``), decontamination.

Pure (lm-eval's registries and Jinja; no torch, no Django).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from evaluation.harness.sandbox import template_problem

TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
OUTPUT_TYPES = ("loglikelihood", "loglikelihood_rolling", "multiple_choice", "generate_until")
DATA_FORMATS = ("json", "csv", "parquet")
# Generation settings the platform's model honours (see harness.lm); others are refused.
GENERATION_SETTINGS = frozenset({"until", "max_gen_toks", "do_sample", "temperature", "top_p"})
MAX_FEWSHOT = 64
MAX_REPEATS = 16

CODE_KEYS = {
    "process_docs": "Python code (process_docs) is not allowed in a task bundle",
    "process_results": "Python code (process_results) is not allowed in a task bundle",
    "custom_dataset": "Python code (custom_dataset) is not allowed in a task bundle",
    "class": "Python task classes are not allowed in a task bundle",
    "use_prompt": "promptsource prompts are fetched from the network and are not supported",
    "doc_to_image": "image tasks are not supported",
    "doc_to_audio": "audio tasks are not supported",
    "doc_to_decontamination_query": "decontamination is not supported",
}
TEMPLATE_KEYS = ("doc_to_text", "doc_to_target", "doc_to_choice", "description", "gen_prefix")
PLAIN_KEYS: dict[str, type | tuple[type, ...]] = {
    "task": str,
    "task_alias": str,
    "tag": (str, list),
    "training_split": str,
    "validation_split": str,
    "test_split": str,
    "fewshot_split": str,
    "target_delimiter": str,
    "fewshot_delimiter": str,
    "output_type": str,
    "metadata": dict,
}
FEWSHOT_KEYS = {
    "sampler",
    "split",
    "fewshot_indices",
    "samples",
    "doc_to_text",
    "doc_to_choice",
    "doc_to_target",
    "gen_prefix",
    "fewshot_delimiter",
    "target_delimiter",
}
DATA_KEYS = ("dataset_path", "dataset_name", "dataset_kwargs")
STRUCTURE_KEYS = ("include", "group", "task_list")


class TaskConfigError(ValueError):
    """A task setting is not allowed or not valid; the message says which and why."""


@dataclass(frozen=True)
class DataSource:
    """Where a task's splits come from: a format and, per split, file names or patterns
    (relative to the task's YAML file or to the bundle's root)."""

    format: str
    files: dict[str, tuple[str, ...]]


def check_task_config(raw: dict[str, Any]) -> tuple[dict[str, Any], DataSource]:
    """Validate one task's merged settings (includes already resolved).

    Returns the settings lm-eval gets (the data keys removed: the platform supplies the data)
    and where the data comes from. Raises TaskConfigError.
    """
    config = dict(raw)
    for key in STRUCTURE_KEYS:
        if key in config:
            raise TaskConfigError(f"'{key}': task groups are not supported; upload each task")
    for key, reason in CODE_KEYS.items():
        if config.get(key) not in (None, False):
            raise TaskConfigError(f"'{key}': {reason}")
        config.pop(key, None)
    if config.pop("unsafe_code", False) is not False:
        raise TaskConfigError("'unsafe_code': tasks that execute code are not allowed")
    if config.pop("should_decontaminate", False) is not False:
        raise TaskConfigError("'should_decontaminate': decontamination is not supported")
    source = _data_source(config)
    for key in DATA_KEYS:
        config.pop(key, None)
    _check_name(config.get("task"))
    _check_keys(config)
    return config, source


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not TASK_NAME.match(name):
        raise TaskConfigError(
            "'task' must name the task: letters, digits, '_', '.', '-' (at most 100)"
        )


def _check_keys(config: dict[str, Any]) -> None:
    for key, value in config.items():
        if key in PLAIN_KEYS:
            _check_type(key, value, PLAIN_KEYS[key])
        elif key in TEMPLATE_KEYS:
            _check_template(key, value)
        elif key in CHECKS:
            CHECKS[key](value)
        else:
            raise TaskConfigError(f"'{key}' is not a task setting this platform knows")
    if config.get("output_type", "generate_until") not in OUTPUT_TYPES:
        raise TaskConfigError(f"'output_type' must be one of {', '.join(OUTPUT_TYPES)}")


def _check_type(key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if not isinstance(value, kind):
        raise TaskConfigError(f"'{key}' has the wrong type ({type(value).__name__})")


def _check_template(key: str, value: Any) -> None:
    """A template string, or (``doc_to_choice``) a literal list of strings, or (targets) an
    index."""
    if isinstance(value, str):
        problem = template_problem(value)
        if problem:
            raise TaskConfigError(f"'{key}': {problem}")
    elif key == "doc_to_choice" and isinstance(value, list | dict):
        items = value.values() if isinstance(value, dict) else value
        if not all(isinstance(v, str) for v in items):
            raise TaskConfigError("'doc_to_choice' must list strings")
    elif not (key == "doc_to_target" and isinstance(value, int) and not isinstance(value, bool)):
        raise TaskConfigError(f"'{key}' must be a template string")


def _check_int(key: str, low: int, high: int) -> Any:
    def check(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TaskConfigError(f"'{key}' must be a whole number from {low} to {high}")

    return check


def _scalar_kwargs(where: str, settings: dict[str, Any], reserved: set[str]) -> None:
    """Keyword arguments to a metric or a filter: numbers, strings, booleans or lists of them."""
    for key, value in settings.items():
        if key in reserved:
            continue
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int | float | bool) for v in items):
            raise TaskConfigError(f"{where}: '{key}' must be a number, a string or a list of them")


def _registries() -> Any:
    """lm-eval's registries, filled (they fill when their modules are first imported)."""
    import lm_eval.api.metrics
    import lm_eval.filters  # noqa: F401
    from lm_eval.api import registry

    return registry


def _check_metrics(value: Any) -> None:
    registry = _registries()
    if not isinstance(value, list) or not value:
        raise TaskConfigError("'metric_list' must be a non-empty list")
    for index, entry in enumerate(value):
        where = f"metric_list[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("metric"), str):
            raise TaskConfigError(f"{where} must name a 'metric'")
        if entry["metric"] not in registry.metric_registry:
            raise TaskConfigError(
                f"{where}: '{entry['metric']}' is not one of lm-eval's built-in metrics "
                "(others would be downloaded and run as code)"
            )
        if entry.get("hf_evaluate"):
            raise TaskConfigError(f"{where}: 'hf_evaluate' loads metric code and is not allowed")
        aggregation = entry.get("aggregation")
        if aggregation is not None and aggregation not in registry.AGGREGATION_REGISTRY:
            raise TaskConfigError(f"{where}: unknown aggregation {aggregation!r}")
        if not isinstance(entry.get("higher_is_better", True), bool):
            raise TaskConfigError(f"{where}: 'higher_is_better' must be true or false")
        _scalar_kwargs(where, entry, {"metric", "aggregation", "higher_is_better", "hf_evaluate"})


def _check_filters(value: Any) -> None:
    registry = _registries()
    allowed = set(registry.filter_registry) - {"custom"}
    if not isinstance(value, list):
        raise TaskConfigError("'filter_list' must be a list")
    for index, entry in enumerate(value):
        where = f"filter_list[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise TaskConfigError(f"{where} must have a 'name'")
        steps = entry.get("filter")
        if not isinstance(steps, list) or not steps:
            raise TaskConfigError(f"{where}.filter must be a non-empty list")
        for step_index, step in enumerate(steps):
            step_where = f"{where}.filter[{step_index}]"
            if not isinstance(step, dict) or step.get("function") not in allowed:
                raise TaskConfigError(
                    f"{step_where}: 'function' must be one of {', '.join(sorted(allowed))}"
                )
            _scalar_kwargs(step_where, step, {"function"})


def _check_generation(value: Any) -> None:
    if not isinstance(value, dict):
        raise TaskConfigError("'generation_kwargs' must be a mapping")
    unknown = sorted(set(value) - GENERATION_SETTINGS)
    if unknown:
        raise TaskConfigError(f"'generation_kwargs': not supported: {', '.join(unknown)}")
    until = value.get("until", [])
    until = [until] if isinstance(until, str) else until
    if not isinstance(until, list) or not all(isinstance(s, str) for s in until):
        raise TaskConfigError("'generation_kwargs.until' must be a string or a list of strings")
    _scalar_kwargs("generation_kwargs", value, {"until"})


def _check_fewshot(value: Any) -> None:
    from lm_eval.api.samplers import SAMPLER_REGISTRY

    if not isinstance(value, dict):
        raise TaskConfigError("'fewshot_config' must be a mapping")
    unknown = sorted(set(value) - FEWSHOT_KEYS)
    if unknown:
        raise TaskConfigError(f"'fewshot_config': not supported: {', '.join(unknown)}")
    if value.get("sampler", "default") not in SAMPLER_REGISTRY:
        raise TaskConfigError(
            f"'fewshot_config.sampler' must be one of {', '.join(SAMPLER_REGISTRY)}"
        )
    for key in ("doc_to_text", "doc_to_target", "doc_to_choice", "gen_prefix"):
        if key in value:
            _check_template(key, value[key])
    samples = value.get("samples")
    if samples is not None and not (
        isinstance(samples, list) and all(isinstance(s, dict) for s in samples)
    ):
        raise TaskConfigError("'fewshot_config.samples' must be a list of records")


CHECKS = {
    "metric_list": _check_metrics,
    "filter_list": _check_filters,
    "generation_kwargs": _check_generation,
    "fewshot_config": _check_fewshot,
    "num_fewshot": _check_int("num_fewshot", 0, MAX_FEWSHOT),
    "repeats": _check_int("repeats", 1, MAX_REPEATS),
}


def _data_source(config: dict[str, Any]) -> DataSource:
    """The local data format and files of a task; anything that would reach a hub is refused."""
    path = config.get("dataset_path")
    if path not in DATA_FORMATS:
        raise TaskConfigError(
            f"'dataset_path' must be one of {', '.join(DATA_FORMATS)} with 'data_files' in the "
            f"bundle (got {path!r}); datasets are never downloaded"
        )
    if config.get("dataset_name") not in (None, "default"):
        raise TaskConfigError("'dataset_name' is not used with local files; leave it out")
    kwargs = config.get("dataset_kwargs") or {}
    if not isinstance(kwargs, dict) or set(kwargs) - {"data_files"}:
        raise TaskConfigError("'dataset_kwargs' may only hold 'data_files'")
    return DataSource(path, _data_files(kwargs.get("data_files")))


def _data_files(value: Any) -> dict[str, tuple[str, ...]]:
    """``data_files`` as Hugging Face reads it: a name or list (the ``train`` split) or a
    mapping from split to a name or a list."""
    if isinstance(value, str | list):
        value = {"train": value}
    if not isinstance(value, dict) or not value:
        raise TaskConfigError("'dataset_kwargs.data_files' must name the bundle's data files")
    files = {}
    for split, names in value.items():
        names = [names] if isinstance(names, str) else names
        if not isinstance(split, str) or not isinstance(names, list) or not names:
            raise TaskConfigError("'data_files' maps split names to file names")
        if not all(isinstance(n, str) and n for n in names):
            raise TaskConfigError(f"'data_files.{split}' must hold file names")
        files[split] = tuple(names)
    return files


def splits_used(config: dict[str, Any]) -> set[str]:
    """The split names a task's settings refer to."""
    names = {config.get(k) for k in ("training_split", "validation_split", "test_split")}
    names.add(config.get("fewshot_split"))
    fewshot = config.get("fewshot_config") or {}
    names.add(fewshot.get("split") if isinstance(fewshot, dict) else None)
    return {n for n in names if isinstance(n, str)}
