"""Model pages: the list by project, a version's page, the comparison; and the curves and
comparison rows they are built from."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from django.test import Client

from tests.trainer.runs import make_finished_run
from trainer.curves import curves_from_metrics


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_curves_keep_finite_points_in_step_order_and_thin_dense_curves() -> None:
    rows = [{"step": s, "loss": 10.0 - s / 100, "lr": 1e-4} for s in range(1000, 0, -1)]
    rows += [{"step": 500, "val_loss": 2.0}, {"step": 7, "loss": math.nan}, {"loss": 1.0}]
    curves = curves_from_metrics(rows, max_points=100)
    assert len(curves["loss"]) <= 101 and curves["loss"][-1] == [1000.0, 0.0]
    assert [p[0] for p in curves["loss"]] == sorted(p[0] for p in curves["loss"])
    assert curves["val_loss"] == [[500.0, 2.0]]
    assert curves["tokens_per_s"] == []


def test_comparison_marks_the_best_value_and_leaves_out_metrics_nobody_has(
    cast: Any, approved_version: Any
) -> None:
    from trainer.model_pages import comparison_rows, summarize

    better = make_finished_run(approved_version, name="better", floor=1.0)
    worse = make_finished_run(approved_version, name="worse", floor=2.0)
    rows = {row.label: row for row in comparison_rows([summarize(worse), summarize(better)])}
    assert rows["Final training loss"].best == 1
    assert rows["Best validation loss"].best == 1
    assert "Reward accuracy" not in rows and "Differential privacy ε" not in rows
    assert rows["Method"].values == ["lora", "lora"] and rows["Method"].best is None


@pytest.mark.django_db
def test_models_list_shows_members_their_projects_versions_only(
    cast: Any, approved_version: Any
) -> None:
    version = make_finished_run(approved_version, name="support-v1")
    page = _client(cast.viewer).get("/jobs/models/").content.decode()
    assert "support-v1" in page and f'value="{version.pk}"' in page
    outsider = _client(cast.outsider).get("/jobs/models/").content.decode()
    assert "support-v1" not in outsider and 'id="no-models"' in outsider


@pytest.mark.django_db
def test_model_version_page_shows_lineage_metrics_curves_and_checkpoints(
    cast: Any, approved_version: Any
) -> None:
    version = make_finished_run(approved_version, name="support-v1", steps=20)
    response = _client(cast.viewer).get(f"/jobs/model-versions/{version.pk}/")
    html = response.content.decode()
    for section in ('id="lineage"', 'id="version-metrics"', 'id="checkpoints"', "Differential"):
        assert section in html
    assert approved_version.content_hash[:16] in html
    assert "No checkpoints are kept" in html
    start = html.index('id="model-chart-data"')
    data = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert len(data["curves"]["loss"]) == 20 and data["label"] == "support-v1"


@pytest.mark.django_db
def test_compare_puts_versions_side_by_side_and_refuses_one_not_visible(
    cast: Any, approved_version: Any, version_from_records: Any
) -> None:
    from accounts.models import Project
    from datasets_app.models import Dataset

    a = make_finished_run(approved_version, name="first", floor=1.0)
    b = make_finished_run(approved_version, name="second", floor=2.0)
    client = _client(cast.viewer)
    html = client.get(f"/jobs/models/compare/?versions={a.pk}&versions={b.pk}").content.decode()
    assert 'id="compare-table"' in html and "first" in html and "second" in html
    assert html.count('class="best"') >= 2
    assert client.get(f"/jobs/models/compare/?versions={b.pk},{a.pk}").status_code == 200
    elsewhere = version_from_records(version_from_records.default_records())
    other = Project.objects.create(name="Elsewhere")
    Dataset.objects.filter(pk=elsewhere.dataset_id).update(project=other)
    elsewhere.refresh_from_db()
    hidden = make_finished_run(elsewhere, name="hidden")
    assert client.get(f"/jobs/models/compare/?versions={a.pk},{hidden.pk}").status_code == 404
    assert client.get("/jobs/models/compare/?versions=1x").status_code == 404
    too_many = ",".join(str(n) for n in range(1, 10))
    assert client.get(f"/jobs/models/compare/?versions={too_many}").status_code == 404
    one = client.get(f"/jobs/models/compare/?versions={a.pk}").content.decode()
    assert 'id="compare-too-few"' in one


@pytest.mark.django_db
def test_model_version_page_lists_the_jobs_checkpoints(
    cast: Any, approved_version: Any, monkeypatch: Any
) -> None:
    from trainer import checkpoints

    version = make_finished_run(approved_version, name="support-v1")
    kept = [
        {"step": 50, "train_loss": 1.52, "val_loss": 1.61, "is_best": True},
        {"step": 60, "train_loss": 1.41, "val_loss": None, "is_best": False},
    ]
    monkeypatch.setattr(checkpoints, "list_checkpoints", lambda job: kept)
    html = _client(cast.viewer).get(f"/jobs/model-versions/{version.pk}/").content.decode()
    table = html[
        html.index('id="checkpoint-table"') : html.index(
            "</table>", html.index('id="checkpoint-table"')
        )
    ]
    assert table.count("<tr>") == 3 and "1.6100" in table and "best" in table


@pytest.mark.django_db
def test_models_list_filters_by_project(
    cast: Any, approved_version: Any, version_from_records: Any
) -> None:
    from accounts.models import Membership, Project
    from datasets_app.models import Dataset

    make_finished_run(approved_version, name="support-v1")
    other = Project.objects.create(name="Billing")
    Membership.objects.create(project=other, user=cast.viewer, role="viewer")
    elsewhere = version_from_records(version_from_records.default_records())
    Dataset.objects.filter(pk=elsewhere.dataset_id).update(project=other)
    elsewhere.refresh_from_db()
    make_finished_run(elsewhere, name="billing-v1")
    client = _client(cast.viewer)
    both = client.get("/jobs/models/").content.decode()
    assert "support-v1" in both and "billing-v1" in both and 'aria-label="Projects"' in both
    only = client.get(f"/jobs/models/?project={other.pk}").content.decode()
    assert "billing-v1" in only and "support-v1" not in only
