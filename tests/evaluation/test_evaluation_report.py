"""The evaluation report: sections from a registry, lm-eval against the base with
forgetting, training curves, a Markdown model card; other apps add sections."""

from __future__ import annotations

from typing import Any

import pytest
from evaluation_versions import make_model_version

from evaluation import report
from evaluation.models import EvaluationRun, EvaluationSet, RunStatus, TaskMetric
from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db


def _version(approved_version: Any, base_model: Any) -> ModelVersion:
    return make_model_version(approved_version, base_model)


def _run(evaluation_set: Any, value: float, **model: Any) -> None:
    run = EvaluationRun.objects.create(
        project_id=evaluation_set.project_id,
        evaluation_set=evaluation_set,
        status=RunStatus.SUCCEEDED,
        **model,
    )
    TaskMetric.objects.create(
        run=run,
        task="general",
        metric="acc,none",
        value=value,
        stderr=0.02,
        higher_is_better=True,
        samples=100,
    )


def test_the_report_and_model_card_hold_every_measurement(
    cast: Any, approved_version: Any, tiny_base_model: Any, api_client_for: Any
) -> None:
    version = _version(approved_version, tiny_base_model)
    evaluation_set = EvaluationSet.objects.create(
        project=cast.project, name="general", source="bundle"
    )
    _run(evaluation_set, 0.9, base_model=tiny_base_model)
    _run(evaluation_set, 0.6, model_version=version)
    viewer = api_client_for(cast.viewer)
    body = viewer.get(f"/api/v1/evaluation-reports/{version.pk}/").json()
    sections = body["sections"]
    assert sections["lineage"]["data_version_hash"] == approved_version.content_hash
    assert sections["lineage"]["method"] == "lora"
    assert sections["test_split"]["metrics"] == {"perplexity": 12.5}
    [task] = sections["lm_eval"]["tasks"]
    assert (task["value"], task["base"], task["forgot"]) == (0.6, 0.9, True)
    assert sections["training_curves"]["points"][0]["loss"] == 2.5
    card = viewer.get(f"/api/v1/evaluation-reports/{version.pk}/model-card.md/")
    assert card["Content-Type"].startswith("text/markdown")
    text = card.content.decode()
    assert "# Model card: support model" in text and "| general |" in text
    table = viewer.get(f"/api/v1/evaluation-reports/side-by-side/?project={cast.project.pk}")
    assert table.json()["results"][0]["general:acc,none"] == 0.6
    outsider = api_client_for(cast.outsider)
    assert outsider.get(f"/api/v1/evaluation-reports/{version.pk}/").status_code == 404


def test_another_app_adds_a_section_without_evaluation_importing_it(
    cast: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    version = _version(approved_version, tiny_base_model)
    report.register_section("other_app", "Another app", lambda v: {"exposure": 1.5}, order=55)
    try:
        built = report.build_report(version)
        assert built["sections"]["other_app"] == {"title": "Another app", "exposure": 1.5}
        order = list(built["sections"])
        assert order.index("other_app") > order.index("lineage")
        assert "## Another app" in report.to_markdown(built)
    finally:
        report.SECTIONS.pop("other_app")


def test_the_versions_page_shows_one_table_and_one_chart(
    cast: Any, client: Any, approved_version: Any, tiny_base_model: Any
) -> None:
    first = _version(approved_version, tiny_base_model)
    second = make_model_version(approved_version, tiny_base_model, name="second model")
    second.metrics = {"perplexity": 25.0}
    second.save(update_fields=["metrics"])
    client.force_login(cast.viewer)
    page = client.get(f"/evaluation/projects/{cast.project.pk}/versions/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="versions-table"' in html
    assert f'href="/evaluation/reports/{first.pk}/"' in html and "second model" in html
    [group] = report.side_by_side_chart(report.side_by_side([first, second]))
    assert group["figure"] == "perplexity"
    assert [b["width"] for b in group["bars"]] == [report.CHART_WIDTH // 2, report.CHART_WIDTH]
    assert html.count("<rect") == 2
    client.force_login(cast.outsider)
    assert client.get(f"/evaluation/projects/{cast.project.pk}/versions/").status_code == 404
