"""Fixtures of the API contract tests: one project holding one object of every kind, a member
who is owner, steward and engineer there, and a platform admin, each with a real API token.

Objects are written through the real services and the encrypted store; ingestion and training
are skipped (nothing is committed, so no task message is ever sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

RECORDS = [
    {
        "kind": "text",
        "text": "Alice Smith says the printer on floor 3 is broken.",
        "split": "train",
    },
    {"kind": "text", "text": "Please reset the VPN token for the night shift.", "split": "train"},
    {"kind": "text", "text": "El pedido 1234 llega el martes por la mañana.", "split": "test"},
]


@dataclass
class ApiWorld:
    """What the contract tests call the API with.

    ``member_token`` belongs to a user who is owner, steward and engineer of the project;
    ``admin_token`` to a platform admin (scopes read, write, admin). ``path_values`` maps
    ``(resource, path parameter)`` onto the id of a real object, e.g. ``("jobs", "id")``;
    ``body_values`` does the same for body fields that name objects, e.g. ``("jobs", "dataset")``.
    """

    project: Any
    member: Any
    member_token: str
    admin_token: str
    path_values: dict[tuple[str, str], str] = field(default_factory=dict)
    body_values: dict[tuple[str, str], Any] = field(default_factory=dict)


@pytest.fixture
def review_dataset(review_dataset_from: Any) -> Any:
    """A dataset of the cast's project in ``needs_review`` (uploaded by the steward), its
    records stored encrypted, with one pending finding and no version yet."""
    return review_dataset_from(
        RECORDS, [(0, 0, 11, "PERSON", 0.9)], name="tickets to review", raw_too=True
    )


def _training(version: Any, base_model: Any, creator: Any) -> dict[str, Any]:
    """A queued job, a succeeded one with its model version, served with one key."""
    from audit.services import Actor
    from serving import services as serving
    from trainer.models import ModelVersion, TrainingJob
    from vault.services import create_data_key

    def job(status: str) -> Any:
        key, _ = create_data_key("job", parent=version.data_key)
        return TrainingJob.objects.create(
            project_id=version.dataset.project_id,
            dataset_version=version,
            base_model=base_model,
            method="lora",
            hyperparameters={"max_steps": 2},
            created_by=creator,
            data_key=key,
            status=status,
            progress={"step": 0, "total_steps": 2, "loss": None},
        )

    queued, finished = job("queued"), job("succeeded")
    model_version = ModelVersion.objects.create(
        project_id=version.dataset.project_id,
        job=finished,
        name="support model",
        data_key=finished.data_key,
        artifact_dir="",
        metrics={"perplexity": 12.5},
    )
    actor = Actor(user=creator)
    deployment = serving.create_deployment(actor, model_version, suffix="live")
    key = serving.issue_deployment_key(actor, deployment, name="app").key
    return {"queued": queued, "version": model_version, "deployment": deployment, "key": key}


def _fine_tune(dataset: Any, base_model: Any, creator: Any) -> Any:
    from audit.services import Actor
    from openai_api import fine_tuning

    request = fine_tuning.FineTuneRequest(
        training_file=dataset,
        validation_file=None,
        base_model=base_model,
        method="lora",
        method_type="supervised",
        hyperparameters={"max_steps": 2, "seq_len": 32},
        suffix="",
        seed=1234,
    )
    return fine_tuning.create_fine_tune(Actor(user=creator), request)


@pytest.fixture
def api_world(
    cast: Any, approved_version: Any, review_dataset: Any, tiny_base_model: Any
) -> ApiWorld:
    """The cast's owner also made steward and engineer, and one object of every kind. The
    default base model is the tiny one built in code (jobs can be created and estimated)."""
    from accounts.models import Membership
    from accounts.services import issue_api_token
    from audit.models import AuditEvent
    from audit.services import Actor
    from datasets_app import chunked
    from evaluation.models import ArenaRound

    member = cast.owner
    for role in ("steward", "engineer"):
        Membership.objects.create(project=cast.project, user=member, role=role)
    base_model = tiny_base_model
    training = _training(approved_version, base_model, member)
    fine_tune = _fine_tune(approved_version.dataset, base_model, member)
    actor = Actor(user=member)
    upload = chunked.start_upload(actor, cast.project, filename="big.jsonl", total_size=10)
    spare = issue_api_token(actor, member, name="spare").token
    evaluation = _evaluation(actor, approved_version, base_model)
    world = ApiWorld(
        project=cast.project,
        member=member,
        member_token=issue_api_token(actor, member, scopes=["read", "write"]).raw,
        admin_token=issue_api_token(
            Actor(user=cast.admin), cast.admin, scopes=["read", "write", "admin"]
        ).raw,
    )
    world.path_values = {
        ("projects", "id"): str(cast.project.pk),
        ("tokens", "id"): str(spare.pk),
        ("users", "id"): str(member.pk),
        ("datasets", "id"): str(review_dataset.pk),
        ("datasets", "finding_id"): str(review_dataset.findings.get().pk),
        ("uploads", "id"): str(upload.pk),
        ("uploads", "index"): "0",
        ("base-models", "id"): str(base_model.pk),
        ("jobs", "id"): str(training["queued"].pk),
        ("model-versions", "id"): str(training["version"].pk),
        ("evaluation-reports", "id"): str(training["version"].pk),
        ("deployments", "id"): str(training["deployment"].pk),
        ("deployments", "key_id"): str(training["key"].pk),
        ("audit-events", "id"): str(AuditEvent.objects.order_by("id").first().pk),
        ("evaluation-sets", "id"): str(evaluation.evaluation_set_id),
        ("evaluation-runs", "id"): str(evaluation.pk),
        ("judge-runs", "id"): str(_judge_run(actor, cast.project, base_model).pk),
        ("arena-matches", "id"): str(_arena_match(actor, training["version"], base_model).pk),
        ("arena-rounds", "id"): str(ArenaRound.objects.get().pk),
        ("models", "model"): training["deployment"].model_name,
        ("files", "file_id"): f"file-{approved_version.dataset.pk}",
        ("fine_tuning", "fine_tuning_job_id"): f"ftjob-{fine_tune.pk}",
    }
    world.body_values = {
        ("datasets", "project"): cast.project.pk,
        ("uploads", "project"): cast.project.pk,
        ("jobs", "dataset"): approved_version.dataset.pk,
        ("jobs", "dataset_version"): approved_version.pk,
        ("jobs", "base_model"): base_model.pk,
        ("deployments", "model_version"): training["version"].pk,
        ("model-exports", "model_version"): training["version"].pk,
        ("evaluation-sets", "project"): cast.project.pk,
        ("evaluation-sets", "dataset"): approved_version.dataset.pk,
        ("evaluation-runs", "evaluation_set"): evaluation.evaluation_set_id,
        ("evaluation-runs", "base_model"): base_model.pk,
        ("judge-runs", "project"): cast.project.pk,
        ("arena-rounds", "project"): cast.project.pk,
        ("arena-rounds", "model_versions"): [training["version"].pk],
        ("judge-runs", "base_model"): base_model.pk,
        # Another member: changing the roles of the caller would lock the test out.
        ("projects", "username"): cast.viewer.username,
    }
    return world


def _evaluation(actor: Any, version: Any, base_model: Any) -> Any:
    """An evaluation set over the approved version's test split and a queued run of it."""
    from evaluation import services

    evaluation_set = services.create_set_from_dataset(actor, version, "held-out")
    return services.create_run(actor, evaluation_set, base_model=base_model)


def _arena_match(actor: Any, version: Any, base_model: Any) -> Any:
    """An open round (the member votes by role) with one match, answered in code."""
    from evaluation import arena

    row = arena.create_round(
        actor,
        version.project_id,
        "blind",
        model_versions=[version],
        base_models=[base_model],
        voter_role="owner",
    )
    return arena.create_match(actor, row, "Say hello", lambda contestant, prompt: "hello")


def _judge_run(actor: Any, project: Any, base_model: Any) -> Any:
    from evaluation import judging

    items = [{"request": "r", "x": "a", "y": "b"}]
    return judging.create_judge_run(actor, project.pk, "pairwise", items, base_model=base_model)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each Schemathesis test its operation in its node id (``test[GET /api/v1/jobs/]``).

    Pytest 9.2 builds node ids from ``originalname``, which Schemathesis 4.32 sets to the bare
    function name, so every operation would report under the same id.
    """
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and label not in item.nodeid and hasattr(item, "_id"):
            item._id = item.parent.id.child(item.name)
