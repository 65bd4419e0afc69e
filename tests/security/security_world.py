"""The world of the security tests: two projects, each with one user per role and one object
of every kind, written through the real encrypted store (ingestion and training are skipped)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

PASSWORD = "pw-Long-123!"
MEMBER_ROLES = ("owner", "steward", "engineer", "viewer")
ROLES = ("anonymous", "outsider", "viewer", "engineer", "steward", "owner", "admin")
RECORDS = [
    {"kind": "text", "text": "Alice Smith says the printer on floor 3 is broken.", "lang": "en"},
    {"kind": "text", "text": "Please reset the VPN token for the night shift.", "lang": "en"},
    {"kind": "text", "text": "El pedido 1234 llega el martes por la mañana.", "lang": "es"},
]

# What ingestion keeps encrypted beside the records: the cleaning report with its examples.
CLEANING_REPORT = {
    "steps": [
        {
            "name": "strip_html",
            "changed": 1,
            "dropped": 0,
            "examples": [{"before": "<b>Hi</b> Alice", "after": "Hi Alice", "source": "t:1"}],
        }
    ],
    "records_in": 3,
    "records_out": 3,
    "languages": {"en": 2, "es": 1},
}


@dataclass
class Side:
    """One project and one object of every kind inside it."""

    project: Any
    users: dict[str, Any]
    review_dataset: Any  # needs_review, with one finding (rejected, so approval redacts nothing)
    finding: Any
    approved_dataset: Any
    version: Any
    job: Any  # queued
    finished_job: Any
    model_version: Any
    spare_token: Any  # a token of this project's owner, for revocation tests
    deployment: Any = None  # the model version, served (serving.services)
    deployment_key: Any = None  # a key of that deployment
    deployment_key_raw: str = ""
    fine_tune: Any = None  # an OpenAI-style fine-tuning job on the approved dataset
    evaluation_set: Any = None  # over the approved dataset's version
    evaluation_run: Any = None  # that set on the model version, queued
    judge_run: Any = None  # rubric, judged by the model version
    arena_round: Any = None  # open; voters: the viewer role and the steward by name
    arena_match: Any = None  # a match of that round (texts in the blob store)
    closed_round: Any = None  # closed, same voters


@dataclass
class World:
    """Project A (the cast: owner, steward, engineer, viewer), project B with its own users, an
    outsider, a platform admin, a base model and one audit entry."""

    a: Side
    b: Side
    users: dict[str, Any]  # role -> user of project A, plus "outsider" and "admin"
    raw_tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    base_model: Any = None
    audit_event: Any = None

    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)

    def api(self, role: str) -> APIClient:
        """A REST client authenticated with ``role``'s bearer token (none for anonymous).

        Clients are kept for the module: building one loads the middleware chain, and
        WhiteNoise scans every static file when it starts, which would dominate the runtime.
        """
        client = self.clients.get(("api", role))
        if client is None:
            client = self.clients[("api", role)] = APIClient()
            if role != "anonymous":
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.raw_tokens[role]}")
        client.cookies.clear()
        return client

    def page(self, role: str) -> Client:
        """A browser-like client signed in as ``role`` (anonymous: not signed in), with the
        session made when the world was built (the rolled-back database brings it back)."""
        client = self.clients.setdefault(("page", role), Client())
        client.cookies.clear()
        if role != "anonymous":
            client.cookies[settings.SESSION_COOKIE_NAME] = self.session_keys[role]
        return client

    def sign_in_everyone(self) -> None:
        """Open one session per signed-in role (force_login costs a few audited writes)."""
        client = self.clients.setdefault(("page", "anonymous"), Client())
        for role, user in self.users.items():
            client.cookies.clear()
            client.force_login(user)
            self.session_keys[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
        client.cookies.clear()


def make_review_dataset(project: Any, uploader: Any, name: str = "tickets") -> Any:
    """A dataset in ``needs_review`` with encrypted records and no findings (skips ingestion)."""
    from datasets_app.ingestion import CLEANING_REPORT_BLOB, RECORDS_BLOB
    from datasets_app.models import Dataset, DatasetStatus
    from vault.services import create_data_key, write_blob

    raw_key, _ = create_data_key("upload")
    write_blob(raw_key, "raw", b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS))
    data_key, _ = create_data_key("dataset-records", parent=raw_key)
    write_blob(data_key, RECORDS_BLOB, b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS))
    write_blob(data_key, CLEANING_REPORT_BLOB, json.dumps(CLEANING_REPORT).encode())
    return Dataset.objects.create(
        project=project,
        name=name,
        status=DatasetStatus.NEEDS_REVIEW,
        uploaded_by=uploader,
        source_name="tickets.jsonl",
        raw_key=raw_key,
        data_key=data_key,
        raw_sha256="0" * 64,
        record_count=len(RECORDS),
        languages={"en": 2, "es": 1},
    )


def make_approved_dataset(project: Any, uploader: Any, name: str = "tickets") -> Any:
    """An approved dataset with version 1 (records with splits), written through the vault."""
    from datasets_app.models import DatasetStatus, DatasetVersion
    from vault.services import create_data_key, write_blob

    dataset = make_review_dataset(project, uploader, name)
    version_key, _ = create_data_key("dataset-version", parent=dataset.data_key)
    rows = [
        {**r, "split": s} for r, s in zip(RECORDS, ("train", "validation", "test"), strict=True)
    ]
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    write_blob(version_key, "records.jsonl", payload)
    dataset.status = DatasetStatus.APPROVED
    dataset.save(update_fields=["status"])
    DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        data_key=version_key,
        record_count=len(rows),
        content_hash=hashlib.sha256(payload).hexdigest(),
        split_counts={"train": 1, "validation": 1, "test": 1},
        lineage={},
    )
    return dataset


def make_job(version: Any, base_model: Any, creator: Any, status: str = "queued") -> Any:
    """A training job row with its own data key under the version's (no message is sent)."""
    from trainer.models import TrainingJob
    from vault.services import create_data_key

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


def _make_side(name: str, prefix: str, base_model: Any) -> Side:
    from accounts.models import Membership, Project
    from accounts.services import issue_api_token
    from audit.services import Actor
    from datasets_app.models import Decision, Finding
    from trainer.models import ModelVersion

    project = Project.objects.create(name=name)
    users = {}
    for role in MEMBER_ROLES:
        user = get_user_model().objects.create_user(f"{prefix}{role}", "", PASSWORD)
        Membership.objects.create(project=project, user=user, role=role)
        users[role] = user
    review = make_review_dataset(project, users["steward"], f"{prefix}tickets to review")
    finding = Finding.objects.create(
        dataset=review,
        record_index=0,
        start=0,
        end=11,
        entity_type="PERSON",
        score=0.9,
        recognizer="test",
        decision=Decision.REJECTED,
    )
    approved = make_approved_dataset(project, users["steward"], f"{prefix}approved tickets")
    version = approved.latest_version
    finished = make_job(version, base_model, users["engineer"], status="succeeded")
    model_version = ModelVersion.objects.create(
        project=project,
        job=finished,
        name=f"{name} model",
        data_key=finished.data_key,
        artifact_dir="",
        metrics={"perplexity": 12.5},
    )
    spare = issue_api_token(Actor(user=users["owner"]), users["owner"], name="spare").token
    side = Side(
        project=project,
        users=users,
        review_dataset=review,
        finding=finding,
        approved_dataset=approved,
        version=version,
        job=make_job(version, base_model, users["engineer"]),
        finished_job=finished,
        model_version=model_version,
        spare_token=spare,
    )
    _add_serving(side, base_model)
    _add_evaluation(side, base_model)
    return side


def _add_evaluation(side: Side, base_model: Any) -> None:
    """An evaluation set, run and judge run, and two arena rounds (one open with a match,
    one closed) between the model version and the base model, stored directly."""
    import json as json_module

    from evaluation.models import ArenaMatch, EvaluationRun, EvaluationSet, JudgeRun
    from vault.services import create_data_key, write_blob

    engineer = side.users["engineer"]
    side.evaluation_set = EvaluationSet.objects.create(
        project=side.project,
        name=f"{side.project.name} test split",
        source="dataset",
        dataset_version=side.version,
        data_key=create_data_key("evaluation-set")[0],
        tasks=[{"name": "test_split", "kind": "generate", "rows": 1}],
        created_by=engineer,
    )
    side.evaluation_run = EvaluationRun.objects.create(
        project=side.project,
        evaluation_set=side.evaluation_set,
        model_version=side.model_version,
        created_by=engineer,
    )
    side.judge_run = JudgeRun.objects.create(
        project=side.project,
        mode="rubric",
        criteria="Helpful",
        model_version=side.model_version,
        data_key=create_data_key("judge-run")[0],
        items=1,
        created_by=engineer,
    )
    side.arena_round = _make_round(side, base_model, "open round", closed=False)
    side.closed_round = _make_round(side, base_model, "closed round", closed=True)
    first, second = side.arena_round.contestants.all()
    side.arena_match = ArenaMatch.objects.create(
        round=side.arena_round, contestant_a=first, contestant_b=second, created_by=engineer
    )
    texts = {"prompt": "Is the printer fixed?", "a": "Yes.", "b": "No."}
    write_blob(
        side.arena_round.data_key,
        f"match-{side.arena_match.pk}.json",
        json_module.dumps(texts).encode(),
    )


def _make_round(side: Side, base_model: Any, name: str, *, closed: bool) -> Any:
    """A round between the side's model version and the base model; voters: viewers, and the
    steward by name."""
    from evaluation.models import ArenaContestant, ArenaRound
    from vault.services import create_data_key

    row = ArenaRound.objects.create(
        project=side.project,
        name=name,
        closed=closed,
        voter_role="viewer",
        data_key=create_data_key("arena-round")[0],
        created_by=side.users["engineer"],
    )
    row.voters.set([side.users["steward"]])
    ArenaContestant.objects.create(round=row, model_version=side.model_version)
    ArenaContestant.objects.create(round=row, base_model=base_model)
    return row


def _add_serving(side: Side, base_model: Any) -> None:
    """A deployment of the side's model version with one key, its usage of one query, and a
    fine-tuning job on the approved dataset, made through the serving services."""
    from audit.services import Actor
    from openai_api import fine_tuning
    from serving import services

    engineer = Actor(user=side.users["engineer"])
    side.deployment = services.create_deployment(engineer, side.model_version, suffix="live")
    issued = services.issue_deployment_key(engineer, side.deployment, name="app")
    side.deployment_key, side.deployment_key_raw = issued.key, issued.raw
    caller = services.Caller(actor=Actor(token_prefix=issued.key.prefix), key=issued.key)
    services.record_query(
        caller,
        model_name=side.deployment.model_name,
        deployment=side.deployment,
        endpoint="chat.completions",
        prompt_tokens=7,
        completion_tokens=3,
    )
    request = fine_tuning.FineTuneRequest(
        training_file=side.approved_dataset,
        validation_file=None,
        base_model=base_model,
        method="lora",
        method_type="supervised",
        hyperparameters={"max_steps": 2, "seq_len": 32},
        suffix="",
        seed=1234,
    )
    side.fine_tune = fine_tuning.create_fine_tune(engineer, request)


def build_world() -> World:
    """Create every object of the world (call inside a transaction that will be rolled back)."""
    from accounts.services import issue_api_token
    from audit.models import AuditEvent
    from audit.services import Actor
    from trainer.models import BaseModel

    base_model = BaseModel.objects.create(
        name="tiny-security", path="/nonexistent/tiny", max_seq_len=512, is_default=True
    )
    a = _make_side("Acme support", "", base_model)
    b = _make_side("Beta legal", "b-", base_model)
    users = dict(a.users)
    users["outsider"] = get_user_model().objects.create_user("outsider", "", PASSWORD)
    users["admin"] = get_user_model().objects.create_superuser("root", "", PASSWORD)
    world = World(a=a, b=b, users=users, base_model=base_model)
    for role, user in users.items():
        scopes = ["read", "write", "admin"] if user.is_superuser else ["read", "write"]
        world.raw_tokens[role] = issue_api_token(Actor(user=user), user, scopes=scopes).raw
    world.audit_event = AuditEvent.objects.order_by("id").first()
    world.sign_in_everyone()
    return world
