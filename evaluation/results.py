"""Stored metrics read back as the harness's own types (``harness.run.TaskResult``)."""

from __future__ import annotations

from itertools import groupby

from evaluation.harness.run import Metric, TaskResult
from evaluation.models import EvaluationRun


def task_results(run: EvaluationRun) -> list[TaskResult]:
    """The run's stored metrics, one ``TaskResult`` per task."""
    rows = list(run.metrics.order_by("task", "metric"))
    return [
        TaskResult(
            task,
            group[0].samples,
            tuple(Metric(r.metric, r.value, r.stderr, r.higher_is_better) for r in group),
        )
        for task, group in ((t, list(g)) for t, g in groupby(rows, key=lambda r: r.task))
    ]
