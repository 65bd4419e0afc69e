"""Training curves of a job for the browser's charts, from its "metrics" events.

The runner writes one "metrics" event per progress report (``JobEvent.data``: step, loss,
val_loss, lr, tokens_per_s, ...). Pages draw them with static/js/charts.js; a long run is thinned
to at most ``MAX_POINTS`` points per curve (every validation point is kept: there are few).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from trainer.models import TrainingJob

CURVES = ("loss", "val_loss", "lr", "tokens_per_s")
SPARSE = frozenset({"val_loss"})
MAX_POINTS = 500

Curves = dict[str, list[list[float]]]


def curves_from_metrics(rows: Iterable[dict[str, Any]], max_points: int = MAX_POINTS) -> Curves:
    """{curve: [[step, value], ...]} in step order, from metrics dicts; values that are not
    finite numbers are skipped; dense curves are thinned evenly to ``max_points`` (the last
    point kept)."""
    curves: Curves = {name: [] for name in CURVES}
    for row in rows:
        step = row.get("step")
        if not _finite(step):
            continue
        for name in CURVES:
            if _finite(row.get(name)):
                curves[name].append([float(step), float(row[name])])
    for points in curves.values():
        points.sort(key=lambda point: point[0])
    return {
        name: points if name in SPARSE else _thin(points, max_points)
        for name, points in curves.items()
    }


def job_curves(job: TrainingJob, max_points: int = MAX_POINTS) -> Curves:
    """The curves of ``job`` (empty lists before its first report)."""
    rows = job.events.filter(kind="metrics").values_list("data", flat=True)
    return curves_from_metrics((row for row in rows if isinstance(row, dict)), max_points)


def last_value(points: list[list[float]]) -> float | None:
    """The value at the last step of a curve, None when it is empty."""
    return points[-1][1] if points else None


def _thin(points: list[list[float]], max_points: int) -> list[list[float]]:
    if len(points) <= max_points:
        return points
    stride = math.ceil(len(points) / max_points)
    thinned = points[::stride]
    return thinned if thinned[-1] is points[-1] else [*thinned, points[-1]]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
