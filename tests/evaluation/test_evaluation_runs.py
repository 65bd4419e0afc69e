"""The evaluation app: sets (bundle, dataset), runs under a lease on a tiny model built in
code, metrics with standard errors in the database, forgetting, refusals audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from evaluation_bundles import make_zip, standard_files

from audit.models import AuditEvent
from audit.services import Actor
from evaluation import lease, runner, services
from evaluation.models import BUNDLE_BLOB, EvaluationRun, RunStatus, TaskMetric
from ops.errors import InvalidField, StateConflict

CHOICE_RECORDS = [
    {
        "kind": "chat",
        "messages": [
            {"role": "user", "content": f"Which colour is {thing}?"},
            {"role": "assistant", "content": colour},
        ],
        "choices": ["red", "green", "blue"],
        "answer": colour,
        "split": split,
    }
    for thing, colour in (("a tomato", "red"), ("grass", "green"), ("the sky", "blue")) * 2
    for split in ("test", "train")
]


def _actor(user: Any) -> Actor:
    return Actor(user=user)


def _stored(files: dict[str, Any]) -> Any:
    """A bundle stored encrypted as the upload handler stores it: its key."""
    from vault.services import create_data_key, write_blob

    key, _ = create_data_key("upload")
    write_blob(key, BUNDLE_BLOB, make_zip(files))
    return key


def _run_now(run: EvaluationRun) -> EvaluationRun:
    claimed = lease.claim_run(run.pk, "test-worker")
    assert claimed is not None
    runner.run_claimed(claimed)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_a_bundle_with_a_python_file_is_refused_naming_it_and_audited(cast: Any) -> None:
    files = {**standard_files(), "utils.py": "def process_docs(d):\n    return d\n"}
    with pytest.raises(InvalidField) as caught:
        services.create_set_from_bundle(_actor(cast.steward), cast.project, "x", _stored(files))
    assert caught.value.field == "bundle" and "utils.py" in caught.value.message
    refusal = AuditEvent.objects.get(action="evaluation_set.refused")
    assert refusal.outcome == "denied" and "utils.py" in refusal.details["reason"]


@pytest.mark.django_db
def test_a_viewer_may_not_create_a_set_and_the_refusal_is_audited(cast: Any) -> None:
    from accounts.services import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.create_set_from_bundle(
            _actor(cast.viewer), cast.project, "x", _stored(standard_files())
        )
    assert AuditEvent.objects.filter(action="denied.upload_data", outcome="denied").exists()


@pytest.mark.django_db
def test_a_bundle_set_is_stored_encrypted_and_runs_on_the_tiny_base_model(
    cast: Any, tiny_base_model: Any
) -> None:
    key = _stored(standard_files())
    row = services.create_set_from_bundle(_actor(cast.steward), cast.project, "std", key)
    from vault.services import blob_path

    assert b"capitals" not in blob_path(row.data_key, BUNDLE_BLOB).read_bytes()
    run = services.create_run(_actor(cast.engineer), row, base_model=tiny_base_model, limit=3)
    run = _run_now(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    metrics = {(m.task, m.metric): m for m in TaskMetric.objects.filter(run=run)}
    accuracy = metrics[("capitals_mc", "acc,none")]
    assert accuracy.samples == 3 and accuracy.stderr is not None and 0 <= accuracy.value <= 1
    assert ("arithmetic_gen", "exact_match,none") in metrics


@pytest.mark.django_db
def test_a_test_split_with_choices_becomes_a_multiple_choice_set(
    cast: Any, tiny_base_model: Any, version_from_records: Any
) -> None:
    version = version_from_records(CHOICE_RECORDS)
    row = services.create_set_from_dataset(_actor(cast.engineer), version, "colours")
    assert row.tasks[0]["kind"] == "multiple_choice" and row.tasks[0]["rows"] == 6
    run = _run_now(services.create_run(_actor(cast.engineer), row, base_model=tiny_base_model))
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert TaskMetric.objects.get(run=run, metric="acc,none").samples == 6


@pytest.mark.django_db
def test_a_run_is_claimed_once_requeued_when_its_worker_dies_then_failed(
    cast: Any, tiny_base_model: Any, settings: Any
) -> None:
    row = services.create_set_from_bundle(
        _actor(cast.steward), cast.project, "std", _stored(standard_files())
    )
    run = services.create_run(_actor(cast.engineer), row, base_model=tiny_base_model)
    first = lease.claim_run(run.pk, "a")
    assert first is not None and lease.claim_run(run.pk, "b") is None
    past = lease_expired(run)
    assert lease.requeue_expired() == [run.pk]
    assert not lease.renew(first)  # the dead worker's writes are fenced off
    settings.JOB_MAX_ATTEMPTS = 2
    assert lease.claim_run(run.pk, "c") is not None
    lease_expired(run, past)
    assert lease.requeue_expired() == []
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped answering 2 times" in run.error


def lease_expired(run: EvaluationRun, when: Any = None) -> Any:
    from django.utils import timezone

    when = when or timezone.now() - timedelta(seconds=1)
    EvaluationRun.objects.filter(pk=run.pk).update(lease_expires_at=when)
    return when


@pytest.mark.django_db
def test_cancel_a_queued_run_and_not_a_finished_one(cast: Any, tiny_base_model: Any) -> None:
    row = services.create_set_from_bundle(
        _actor(cast.steward), cast.project, "std", _stored(standard_files())
    )
    run = services.create_run(_actor(cast.engineer), row, base_model=tiny_base_model)
    assert services.cancel_run(_actor(cast.engineer), run).status == RunStatus.CANCELLED
    with pytest.raises(StateConflict):
        services.cancel_run(_actor(cast.engineer), run)


@pytest.mark.django_db
def test_comparison_flags_a_drop_beyond_the_stderr_band(cast: Any, tiny_base_model: Any) -> None:
    row = services.create_set_from_bundle(
        _actor(cast.steward), cast.project, "std", _stored(standard_files())
    )
    base, tuned = (
        services.create_run(_actor(cast.engineer), row, base_model=tiny_base_model)
        for _ in range(2)
    )
    for run, general, own in ((base, 0.80, 0.50), (tuned, 0.60, 0.55)):
        EvaluationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
        run.refresh_from_db()
        for task, value in (("general", general), ("own", own)):
            TaskMetric.objects.create(
                run=run,
                task=task,
                metric="acc,none",
                value=value,
                stderr=0.03,
                higher_is_better=True,
                samples=200,
            )
    changes = {c["task"]: c for c in services.comparison(base, tuned)}
    assert changes["general"]["forgot"] and not changes["own"]["forgot"]
    assert changes["general"]["band"] == pytest.approx(1.959964 * (2 * 0.03**2) ** 0.5, rel=1e-5)
