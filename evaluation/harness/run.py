"""Running lm-eval tasks in this process, and comparing a tuned model with its base.

``run_tasks`` calls lm-eval's ``evaluate`` (not ``simple_evaluate``, which also shells out to
``git`` and collects the machine's environment) on tasks built in memory, seeded as
``simple_evaluate`` seeds it but without leaving the seeds set in the process, and returns each
task's metrics with their standard errors. ``compare`` flags "forgetting": a metric that got
worse by more than its standard-error band.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.harness.bundle import BundleTask
from evaluation.harness.sandbox import harden_lm_eval

# lm-eval's default is 100,000 resamples for metrics without a closed-form standard error
# (BLEU, chrF, F1, ...), minutes of single-process work per metric; 1,000 gives the standard
# error to about two significant digits.
BOOTSTRAP_ITERS = 1000
SEED = 1234
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Metric:
    """A task's score on one metric (``name`` as lm-eval keys it: ``acc,none``)."""

    name: str
    value: float
    stderr: float | None
    higher_is_better: bool | None


@dataclass(frozen=True)
class TaskResult:
    """One task's metrics and how many documents they were computed on."""

    task: str
    samples: int
    metrics: tuple[Metric, ...]

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)


def run_tasks(
    lm: Any,
    tasks: Sequence[BundleTask],
    *,
    limit: int | None = None,
    bootstrap_iters: int = BOOTSTRAP_ITERS,
) -> list[TaskResult]:
    """Evaluate ``lm`` (an lm-eval ``LM``, e.g. ``harness.lm.PlatformLM``) on ``tasks``.

    ``limit`` caps the documents per task (for trials). lm-eval's errors (a template that
    fails on a record, a harness error) propagate.
    """
    from lm_eval.evaluator import evaluate
    from lm_eval.tasks import TaskManager

    from evaluation.harness.tasks import lm_eval_task

    harden_lm_eval()
    loaded = TaskManager(include_defaults=False).load([lm_eval_task(t) for t in tasks])
    for task in loaded["tasks"].values():
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=SEED)
    with _seeded():
        results = evaluate(
            lm=lm,
            task_dict=loaded,
            limit=limit,
            bootstrap_iters=bootstrap_iters,
            log_samples=False,
        )
    return [_task_result(name, results) for name in (t.name for t in tasks)]


@contextlib.contextmanager
def _seeded() -> Iterator[None]:
    """The seeds ``simple_evaluate`` sets (random 0, NumPy and torch 1234), restored after."""
    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(0)
        np.random.seed(SEED)
        torch.manual_seed(SEED)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def _task_result(name: str, results: dict[str, Any]) -> TaskResult:
    scores = results["results"][name]
    better = results.get("higher_is_better", {}).get(name, {})
    metrics = []
    for key, value in scores.items():
        if "," not in key or "_stderr," in key or not isinstance(value, int | float):
            continue
        metric, filter_name = key.split(",", 1)
        stderr = scores.get(f"{metric}_stderr,{filter_name}")
        metrics.append(
            Metric(
                key,
                float(value),
                float(stderr) if isinstance(stderr, int | float) else None,
                better.get(metric),
            )
        )
    samples = results.get("n-samples", {}).get(name, {}).get("effective", 0)
    return TaskResult(name, int(samples), tuple(metrics))


# --- base vs tuned ------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricChange:
    """A metric of one task, base against tuned. ``drop`` is how much worse the tuned model
    is (in the metric's own direction; negative when it improved); ``band`` the 95% band of
    that difference, None without standard errors; ``forgot`` when the drop exceeds it."""

    task: str
    metric: str
    base: float
    tuned: float
    drop: float
    band: float | None
    forgot: bool


def compare(
    base: Sequence[TaskResult], tuned: Sequence[TaskResult], *, z: float = Z_95
) -> list[MetricChange]:
    """Every metric both runs measured, flagged when the tuned model is worse by more than
    ``z`` standard errors of the difference: sqrt(se_base^2 + se_tuned^2), the two runs taken
    as independent (lm-eval reports no paired statistics, and this errs towards fewer flags).
    A metric with no known direction or no standard error is never flagged.
    """
    tuned_by_task = {r.task: r for r in tuned}
    changes = []
    for before in base:
        after = tuned_by_task.get(before.task)
        if after is None:
            continue
        for old in before.metrics:
            new = after.metric(old.name)
            if new is not None:
                changes.append(_change(before.task, old, new, z))
    return changes


def _change(task: str, old: Metric, new: Metric, z: float) -> MetricChange:
    sign = -1.0 if old.higher_is_better is False else 1.0
    drop = sign * (old.value - new.value)
    band = (
        z * math.sqrt(old.stderr**2 + new.stderr**2)
        if old.stderr is not None and new.stderr is not None
        else None
    )
    forgot = old.higher_is_better is not None and band is not None and drop > band
    return MetricChange(task, old.name, old.value, new.value, drop, band, forgot)
