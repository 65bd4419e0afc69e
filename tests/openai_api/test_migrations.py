"""``FineTuneJob`` moved from ``serving`` to ``openai_api``: a database migrated before the move
keeps its fine-tuning jobs (same ids, same fields, same relations) and their content type."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from openai_api.models import FineTuneJob, FineTuneStatus

BEFORE_THE_MOVE = [("openai_api", None), ("serving", "0002_query_content")]


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    """Migrate to ``targets``; returns the models of the state reached."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _leaves() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_fine_tuning_job_stored_by_serving_survives_the_move(
    cast: Any, approved_version: Any
) -> None:
    version = approved_version
    content_type = ContentType.objects.get_for_model(FineTuneJob)
    try:
        old = _migrate(BEFORE_THE_MOVE)
        assert "serving_finetunejob" in connection.introspection.table_names()
        assert ContentType.objects.get(pk=content_type.pk).app_label == "serving"
        row = old.get_model("serving", "FineTuneJob").objects.create(
            project_id=cast.project.pk,
            created_by_id=cast.engineer.pk,
            training_file_id=version.dataset_id,
            suffix="orders",
            requested_hyperparameters={"n_epochs": 2},
            status="failed",
            error="invalid_training_file: gone",
        )
    finally:
        _migrate(_leaves())
    tables = connection.introspection.table_names()
    assert "openai_api_finetunejob" in tables and "serving_finetunejob" not in tables
    job = FineTuneJob.objects.get(pk=row.pk)
    assert (job.project, job.created_by, job.training_file_id) == (
        cast.project,
        cast.engineer,
        version.dataset_id,
    )
    assert job.suffix == "orders" and job.requested_hyperparameters == {"n_epochs": 2}
    assert job.status == FineTuneStatus.FAILED and job.error == "invalid_training_file: gone"
    moved = ContentType.objects.get(pk=content_type.pk)
    assert (moved.app_label, moved.model) == ("openai_api", "finetunejob")
    # New rows get fresh ids after the kept ones.
    assert (
        FineTuneJob.objects.create(project=cast.project, training_file_id=version.dataset_id).pk
        > row.pk
    )
