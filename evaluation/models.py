"""Evaluation sets, evaluation runs and the per-task metrics they store.

An ``EvaluationRun`` row is the source of truth for one run (a set on one model), not the
broker::

    queued ──(claim: UPDATE ... WHERE status='queued')──▶ running ──(metrics stored)──▶ succeeded
      ▲  │                                                  │  │
      │  └──(cancel)──▶ cancelled ◀──(cancel honoured)──────┘  │
      └──(lease expired: worker died; attempts < max)──────────┤
                                   failed ◀──(error, or attempts exhausted)

The worker's writes are fenced by ``lease_owner`` (see ``evaluation.lease``), as training's.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from datasets_app.models import DatasetVersion
from trainer.models import BaseModel, ModelVersion
from vault.models import DataKey

# The blob the upload handler (``datasets_app.uploads``) streams an uploaded file into,
# encrypted as it arrives: the set keeps the upload's key and blob, never a plaintext copy.
BUNDLE_BLOB = "raw"


class SetSource(models.TextChoices):
    BUNDLE = "bundle", "uploaded lm-eval task bundle"
    DATASET = "dataset", "test split of an approved dataset"


class EvaluationSet(models.Model):
    """Tasks a project evaluates models on: an uploaded bundle (stored encrypted under
    ``data_key``) or the test split of an approved dataset version (read at run time from
    the version's own encrypted records)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluation_sets")
    name = models.CharField(max_length=120)
    source = models.CharField(max_length=8, choices=SetSource.choices)
    dataset_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_key = models.ForeignKey(
        DataKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tasks = models.JSONField(
        default=list, help_text="[{name, kind, rows}] as checked at creation (no record text)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="evaluation_set_name")
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_RUN_STATUSES = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


class EvaluationRun(models.Model):
    """One evaluation set on one model: a base model or a model version (exactly one)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluation_runs")
    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.PROTECT, related_name="runs")
    base_model = models.ForeignKey(
        BaseModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    limit = models.IntegerField(null=True, blank=True, help_text="Documents per task (trials).")
    status = models.CharField(
        max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    attempts = models.IntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True, db_index=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="Reason shown to users.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(base_model__isnull=True) ^ models.Q(model_version__isnull=True),
                name="evaluation_run_one_model",
            )
        ]

    def __str__(self) -> str:
        return f"evaluation run {self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES

    @property
    def model_label(self) -> str:
        """``base:<name>`` or ``version:<id>``: what the run evaluated."""
        if self.base_model_id is not None:
            return f"base:{self.base_model.name}"
        return f"version:{self.model_version_id}"


class TaskMetric(models.Model):
    """One metric of one task of a succeeded run, with its standard error."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="metrics")
    task = models.CharField(max_length=120)
    metric = models.CharField(max_length=120)
    value = models.FloatField()
    stderr = models.FloatField(null=True, blank=True)
    higher_is_better = models.BooleanField(null=True, blank=True)
    samples = models.IntegerField(default=0)

    class Meta:
        ordering = ["task", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["run", "task", "metric"], name="task_metric_once")
        ]


class JudgeMode(models.TextChoices):
    RUBRIC = "rubric"
    PAIRWISE = "pairwise"


class JudgeRun(models.Model):
    """Answers graded by a model the project already has (a base model or one of its
    versions), never an external service. The items (requests and answers: they may quote
    data) are stored encrypted under ``data_key``; the row keeps verdicts and figures only.

    ``queued`` → ``running`` (claimed by ``UPDATE ... WHERE status='queued'``) →
    ``succeeded`` | ``failed``. No lease yet: a judge run whose worker died stays running.

    A pairwise run over a closed ``arena_round`` judges the round's matches (the prompts and
    answer pairs people voted on); each verdict carries its ``match`` id, so the judge's
    agreement with the votes is computed when read (``judging.human_agreement``).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judge_runs")
    mode = models.CharField(max_length=8, choices=JudgeMode.choices)
    criteria = models.TextField(blank=True, help_text="The rubric (rubric mode).")
    base_model = models.ForeignKey(
        BaseModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    arena_round = models.ForeignKey(
        "ArenaRound",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="judge_runs",
        help_text="The closed round whose matches were judged (the judge against its votes).",
    )
    items = models.IntegerField(default=0)
    status = models.CharField(
        max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    verdicts = models.JSONField(
        default=list, blank=True, help_text="Per item: verdict and probabilities, no text."
    )
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"judge run {self.pk} ({self.mode}, {self.status})"


class ArenaRound(models.Model):
    """A blind A/B round between two or more models of a project. Who may vote: members
    holding ``voter_role`` (blank: none by role) and the named ``voters``. Model identities
    are shown to nobody, in pages or API, until the round is ``closed``."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="arena_rounds")
    name = models.CharField(max_length=120)
    closed = models.BooleanField(default=False)
    voter_role = models.CharField(max_length=16, blank=True)
    voters = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ArenaContestant(models.Model):
    """One model in a round: a model version (or a base model)."""

    round = models.ForeignKey(ArenaRound, on_delete=models.CASCADE, related_name="contestants")
    base_model = models.ForeignKey(
        BaseModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    @property
    def label(self) -> str:
        if self.model_version_id is not None:
            return f"version:{self.model_version_id}:{self.model_version.name}"
        return f"base:{self.base_model.name}"


class ArenaMatch(models.Model):
    """A prompt and two answers shown as A and B (the order drawn at random); the text is in
    the round's encrypted blob ``match-<id>.json``."""

    round = models.ForeignKey(ArenaRound, on_delete=models.CASCADE, related_name="matches")
    contestant_a = models.ForeignKey(ArenaContestant, on_delete=models.CASCADE, related_name="+")
    contestant_b = models.ForeignKey(ArenaContestant, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)


class VoteChoice(models.TextChoices):
    A = "a"
    B = "b"
    TIE = "tie"
    BOTH_BAD = "both_bad"


class ArenaVote(models.Model):
    """One reviewer's vote on one match (attributed; a comment, if any, is encrypted)."""

    match = models.ForeignKey(ArenaMatch, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8, choices=VoteChoice.choices)
    has_comment = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "voter"], name="arena_one_vote_per_match")
        ]
