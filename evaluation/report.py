"""The evaluation report of a model version, built from a registry of sections.

Each section is a function ``ModelVersion -> dict | None`` (None: nothing to show) under a
name and title. Other apps add theirs with ``register_section`` from their own
``AppConfig.ready`` (the privacy audit, say): this module imports none of them. The report is
one JSON document (the model card's JSON) and renders to Markdown (the model card's text).
Sections hold figures, never record text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluation import arena, judging
from evaluation.harness.run import compare
from evaluation.models import ArenaContestant, ArenaRound, EvaluationRun, JudgeRun, RunStatus
from evaluation.results import task_results
from trainer.models import JobEvent, ModelVersion

Builder = Callable[[ModelVersion], dict[str, Any] | None]


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    build: Builder
    order: int


SECTIONS: dict[str, Section] = {}


def register_section(name: str, title: str, build: Builder, *, order: int = 100) -> None:
    """Add (or replace) a section of every report; lower ``order`` comes first."""
    SECTIONS[name] = Section(name, title, build, order)


def build_report(version: ModelVersion) -> dict[str, Any]:
    """The report of ``version``: identity, then each section that has something to show."""
    sections = {}
    for section in sorted(SECTIONS.values(), key=lambda s: (s.order, s.name)):
        content = section.build(version)
        if content is not None:
            sections[section.name] = {"title": section.title, **content}
    return {
        "model_version": version.pk,
        "name": version.name,
        "project": version.project_id,
        "created_at": version.created_at.isoformat(),
        "sections": sections,
    }


def to_markdown(report: dict[str, Any]) -> str:
    """The model card as Markdown: each section as a heading and its figures."""
    lines = [f"# Model card: {report['name']}", "", f"Model version {report['model_version']}."]
    for section in report["sections"].values():
        lines += ["", f"## {section['title']}", ""]
        for key, value in section.items():
            if key == "title":
                continue
            lines += _markdown_value(key, value)
    return "\n".join(lines) + "\n"


def _markdown_value(key: str, value: Any) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(c for row in value for c in row))  # rows may differ
        rows = [f"| {' | '.join(_cell(row.get(c)) for c in columns)} |" for row in value]
        return [
            f"**{key}**",
            "",
            f"| {' | '.join(columns)} |",
            f"|{'---|' * len(columns)}",
            *rows,
            "",
        ]
    if isinstance(value, dict | list):
        return [f"- **{key}**: `{json.dumps(value, sort_keys=True)}`"]
    return [f"- **{key}**: {_cell(value)}"]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


# --- the built-in sections ----------------------------------------------------------------


def lineage(version: ModelVersion) -> dict[str, Any]:
    job = version.job
    return {
        "data_version_hash": job.dataset_version.content_hash,
        "dataset_version": job.dataset_version_id,
        "base_model": job.base_model.name if job.base_model else None,
        "method": job.method,
        "hyperparameters": job.hyperparameters,
        "recorded": version.lineage,
    }


def test_split(version: ModelVersion) -> dict[str, Any] | None:
    return {"metrics": version.metrics} if version.metrics else None


def lm_eval_tasks(version: ModelVersion) -> dict[str, Any] | None:
    """The version's succeeded runs; each against the latest succeeded run of the same set
    on the job's base model, forgetting flagged."""
    runs = EvaluationRun.objects.filter(model_version=version, status=RunStatus.SUCCEEDED)
    rows = []
    for run in runs.select_related("evaluation_set"):
        base = (
            EvaluationRun.objects.filter(
                evaluation_set=run.evaluation_set,
                base_model_id=version.job.base_model_id,
                status=RunStatus.SUCCEEDED,
            )
            .order_by("-finished_at")
            .first()
        )
        changes = (
            {(c.task, c.metric): c for c in compare(task_results(base), task_results(run))}
            if base
            else {}
        )
        for result in task_results(run):
            for metric in result.metrics:
                change = changes.get((result.task, metric.name))
                rows.append(
                    {
                        "set": run.evaluation_set.name,
                        "task": result.task,
                        "metric": metric.name,
                        "value": metric.value,
                        "stderr": metric.stderr,
                        "base": change.base if change else None,
                        "forgot": change.forgot if change else None,
                    }
                )
    return {"tasks": rows} if rows else None


def judge_scores(version: ModelVersion) -> dict[str, Any] | None:
    """The project's succeeded judge runs: each summary, and for a run over an arena round
    the judge's agreement with the round's votes beside it (n, Cohen's kappa, or "not
    enough votes")."""
    runs = JudgeRun.objects.filter(project_id=version.project_id, status=RunStatus.SUCCEEDED)
    rows = []
    for run in runs:
        humans = judging.human_agreement(run)
        rows.append(
            {
                "judge_run": run.pk,
                "mode": run.mode,
                "items": run.items,
                **run.summary,
                "arena_round": run.arena_round_id,
                "human_votes": humans["votes"] if humans else None,
                "kappa_vs_humans": humans["kappa"] if humans else None,
                "agreement_with_humans": judging.agreement_text(humans),
            }
        )
    return {"runs": rows} if rows else None


def arena_results(version: ModelVersion) -> dict[str, Any] | None:
    """The version's results in the CLOSED arena rounds it competed in: per round the votes,
    Fleiss' kappa and, with more than two models, the Bradley-Terry ranking; per opponent the
    version's win rate with its Wilson 95% interval. Open rounds are left out entirely (not
    even named): the card would otherwise tell a voter which model is in the round."""
    rounds = ArenaRound.objects.filter(closed=True, contestants__model_version=version)
    label = ArenaContestant(model_version=version).label
    summary, win_rates, ranking = [], [], []
    for row in rounds.distinct().order_by("closed_at", "pk"):
        found = arena.results(row)
        summary.append(
            {
                "round": row.pk,
                "name": row.name,
                "closed_at": row.closed_at.isoformat() if row.closed_at else None,
                "models": row.contestants.count(),
                "votes": found["votes"],
                "fleiss_kappa": found["fleiss_kappa"],
            }
        )
        win_rates += [{"round": row.pk, **p} for p in _as_seen_by(label, found["pairs"])]
        ratings = sorted((found["ratings"] or {}).items(), key=lambda kv: -kv[1])
        ranking += [
            {"round": row.pk, "rank": i + 1, "model": m, "rating": r}
            for i, (m, r) in enumerate(ratings)
        ]
    if not summary:
        return None
    return {"rounds": summary, "win_rates": win_rates, "ranking": ranking}


def _as_seen_by(label: str, pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pairs that involve ``label``, turned so that it is the side whose rate is given."""
    rows = []
    for pair in pairs:
        if pair["model"] == label:
            rows.append({k: v for k, v in pair.items() if k != "model"})
        elif pair["opponent"] == label:
            rows.append(
                {
                    "opponent": pair["model"],
                    "wins": pair["losses"],
                    "losses": pair["wins"],
                    "ties": pair["ties"],
                    "win_rate": 1 - pair["win_rate"],
                    "low": 1 - pair["high"],
                    "high": 1 - pair["low"],
                }
            )
    return rows


def training_curves(version: ModelVersion) -> dict[str, Any] | None:
    events = JobEvent.objects.filter(job_id=version.job_id, kind="metrics").order_by("id")
    points = [
        {k: e.data.get(k) for k in ("step", "loss", "val_loss", "learning_rate")} for e in events
    ]
    return {"points": points} if points else None


register_section("lineage", "Lineage", lineage, order=10)
register_section("test_split", "Test-split metrics", test_split, order=20)
register_section("lm_eval", "lm-eval tasks against the base model", lm_eval_tasks, order=30)
register_section("judge", "Judge scores (project's judge runs)", judge_scores, order=40)
register_section("arena", "Blind arena (closed rounds)", arena_results, order=50)
register_section("training_curves", "Training curves", training_curves, order=90)


def side_by_side(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """Versions of one project in one table: a row per version, its headline figures."""
    rows = []
    for version in versions:
        row: dict[str, Any] = {"model_version": version.pk, "name": version.name}
        row.update({k: v for k, v in (version.metrics or {}).items() if isinstance(v, int | float)})
        for entry in (lm_eval_tasks(version) or {}).get("tasks", []):
            row[f"{entry['task']}:{entry['metric']}"] = entry["value"]
        rows.append(row)
    return rows


CHART_WIDTH = 360  # pixels of the longest bar


def side_by_side_chart(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The side-by-side table as one chart: for each figure, one bar per version, scaled to
    the largest absolute value of that figure. Returns [{figure, bars: [{name, value,
    width}]}] in the table's column order."""
    figures = list(
        dict.fromkeys(k for row in rows for k in row if k not in ("model_version", "name"))
    )
    chart = []
    for figure in figures:
        values = [row.get(figure) for row in rows]
        peak = max((abs(v) for v in values if isinstance(v, int | float)), default=0) or 1
        bars = [
            {
                "name": row["name"],
                "value": value,
                "width": round(CHART_WIDTH * abs(value) / peak)
                if isinstance(value, int | float)
                else 0,
            }
            for row, value in zip(rows, values, strict=True)
        ]
        chart.append({"figure": figure, "bars": bars})
    return chart
