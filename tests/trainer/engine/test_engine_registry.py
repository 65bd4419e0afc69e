"""The registry is the one list of methods and objectives: combinations, settings, record shapes,
and no other module compares their names."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from trainer.engine import ConfigError, TrainConfig, registry
from trainer.engine.recipes import recipe_for

ROOT = Path(__file__).resolve().parents[3]
NAMES = "|".join(re.escape(n) for n in (*registry.METHODS, *registry.OBJECTIVES))
# A comparison with a method or objective name, either way round.
COMPARISON = re.compile(
    rf"""(==|!=)\s*["']({NAMES})["']|["']({NAMES})["']\s*(==|!=)|\bin\s*[(\[{{]\s*["']({NAMES})["']"""
)
NOT_YET: set[str] = set()  # every module asks the registry (openai_api/methods.py included)


def test_every_objective_has_a_recipe_module_implementing_the_protocol():
    for name, objective in registry.OBJECTIVES.items():
        module = importlib.import_module(f"trainer.engine.recipes.{name}")
        method = objective.methods[0]
        cfg = TrainConfig(method=method, objective=name, base_model_dir="/m")
        recipe = module.build(cfg)
        assert recipe.name == name
        assert set(recipe.loss_terms) and all(
            isinstance(d, str) for d in recipe.loss_terms.values()
        )
        assert type(recipe_for(cfg)) is type(recipe)


def test_every_method_and_objective_has_help_text():
    assert all(text for _, text in registry.method_choices())
    assert all(text for _, text in registry.objective_choices())


@pytest.mark.parametrize("objective", ["dpo", "orpo", "kto"])
def test_a_preference_objective_from_scratch_is_refused_naming_objective(objective):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(method="from_scratch", objective=objective)
    assert caught.value.field == "objective" and "from_scratch" in caught.value.message


@pytest.mark.parametrize(
    ("objective", "setting", "value"),
    [
        ("supervised", "beta", 0.5),
        ("supervised", "label_smoothing", 0.1),
        ("orpo", "beta", 0.5),
        ("dpo", "orpo_lambda", 0.2),
        ("kto", "label_smoothing", 0.1),
        ("dpo", "desirable_weight", 2.0),
    ],
)
def test_a_setting_of_another_objective_is_refused_naming_it(objective, setting, value):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(base_model_dir="/m", objective=objective, **{setting: value})
    assert caught.value.field == setting and objective in caught.value.message


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("beta", 0.0),
        ("beta", -1.0),
        ("label_smoothing", 0.5),
        ("orpo_lambda", 0.0),
        ("undesirable_weight", 0.0),
    ],
)
def test_objective_settings_out_of_range_are_refused(setting, value):
    objective = {"orpo_lambda": "orpo", "undesirable_weight": "kto"}.get(setting, "dpo")
    with pytest.raises(ConfigError) as caught:
        TrainConfig(base_model_dir="/m", objective=objective, **{setting: value})
    assert caught.value.field == setting


def test_an_unknown_objective_is_refused_naming_it():
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"base_model_dir": "/m", "objective": "ppo"})
    assert caught.value.field == "objective"


def test_record_shapes_that_do_not_fit_the_objective_are_explained():
    assert registry.record_kinds_error("supervised", ["chat", "text"]) is None
    message = registry.record_kinds_error("supervised", ["preference"])
    assert '{"text"}' in message and "preference records" in message
    assert "suits objective dpo or orpo or kto" in message
    assert registry.record_kinds_error("kto", ["preference", "unpaired_preference"]) is None
    message = registry.record_kinds_error("dpo", ["prompt_completion"])
    assert '"chosen", "rejected"' in message and "suits objective supervised" in message


def test_no_module_outside_the_registry_compares_method_or_objective_names():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/", "var/")) or relative in NOT_YET:
            continue
        if relative == "trainer/engine/registry.py" or "/migrations/" in relative:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if COMPARISON.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
