"""Serializers for evaluation sets, runs, their metrics and comparisons."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from evaluation import judging
from evaluation.models import (
    ArenaRound,
    EvaluationRun,
    EvaluationSet,
    JudgeMode,
    JudgeRun,
    TaskMetric,
    VoteChoice,
)


class EvaluationSetSerializer(serializers.ModelSerializer):
    dataset_version = serializers.IntegerField(
        source="dataset_version_id", read_only=True, allow_null=True
    )
    tasks = serializers.JSONField(
        read_only=True, help_text="[{name, kind, rows}] as checked at creation."
    )

    class Meta:
        model = EvaluationSet
        fields = ["id", "project", "name", "source", "dataset_version", "tasks", "created_at"]
        read_only_fields = fields


class BundleUploadSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    bundle = serializers.FileField(
        help_text="A zip of lm-eval task YAML files and their JSONL/CSV/Parquet data; "
        "no Python (tasks may only use lm-eval's built-in filters and metrics)."
    )


class FromDatasetSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(help_text="An approved dataset of the project.")
    dataset_version = serializers.IntegerField(required=False, help_text="Default: the latest.")
    name = serializers.CharField(max_length=120)


class TaskMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskMetric
        fields = ["task", "metric", "value", "stderr", "higher_is_better", "samples"]


class EvaluationRunSerializer(serializers.ModelSerializer):
    evaluation_set = serializers.IntegerField(source="evaluation_set_id", read_only=True)
    base_model = serializers.IntegerField(source="base_model_id", read_only=True, allow_null=True)
    model_version = serializers.IntegerField(
        source="model_version_id", read_only=True, allow_null=True
    )
    metrics = TaskMetricSerializer(many=True, read_only=True)

    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "project",
            "evaluation_set",
            "base_model",
            "model_version",
            "limit",
            "status",
            "attempts",
            "progress",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "metrics",
        ]
        read_only_fields = fields


class RunCreateSerializer(serializers.Serializer):
    evaluation_set = serializers.IntegerField()
    base_model = serializers.IntegerField(required=False, help_text="Or model_version.")
    model_version = serializers.IntegerField(required=False, help_text="Or base_model.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=1_000_000, help_text="Documents per task."
    )

    def validate(self, attrs: dict) -> dict:
        if ("base_model" in attrs) == ("model_version" in attrs):
            raise serializers.ValidationError(
                {"model_version": ["Give exactly one of base_model or model_version."]}
            )
        return attrs


class MetricChangeSerializer(serializers.Serializer):
    task = serializers.CharField()
    metric = serializers.CharField()
    base = serializers.FloatField()
    tuned = serializers.FloatField()
    drop = serializers.FloatField(help_text="How much worse the tuned model is (negative: better).")
    band = serializers.FloatField(allow_null=True, help_text="95% band of the difference.")
    forgot = serializers.BooleanField(help_text="The drop exceeds the band.")


class ComparisonSerializer(serializers.Serializer):
    base = serializers.IntegerField()
    run = serializers.IntegerField()
    changes = MetricChangeSerializer(many=True)
    forgetting = serializers.BooleanField()


class JudgeRunSerializer(serializers.ModelSerializer):
    base_model = serializers.IntegerField(source="base_model_id", read_only=True, allow_null=True)
    model_version = serializers.IntegerField(
        source="model_version_id", read_only=True, allow_null=True
    )
    verdicts = serializers.JSONField(
        read_only=True,
        help_text="Per item: verdict and probabilities (no text); the match id for a round.",
    )
    summary = serializers.JSONField(read_only=True)
    arena_round = serializers.IntegerField(source="arena_round_id", read_only=True, allow_null=True)
    human_agreement = serializers.SerializerMethodField(
        help_text="A judged arena round: the judge against its votes. {arena_round, votes (n), "
        "minimum_votes, kappa (Cohen's), agreement (share equal), note}; kappa and agreement "
        'are null with note "not enough votes" below minimum_votes. Null for other runs.'
    )

    class Meta:
        model = JudgeRun
        fields = [
            "id",
            "project",
            "mode",
            "criteria",
            "base_model",
            "model_version",
            "items",
            "status",
            "arena_round",
            "verdicts",
            "summary",
            "human_agreement",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_human_agreement(self, run: JudgeRun) -> dict[str, Any] | None:
        return judging.human_agreement(run)


class JudgeRunCreateSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    mode = serializers.ChoiceField(choices=JudgeMode.choices)
    criteria = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    base_model = serializers.IntegerField(required=False, help_text="The judge; or model_version.")
    model_version = serializers.IntegerField(required=False, help_text="The judge; or base_model.")
    items = serializers.JSONField(
        required=False,
        help_text="Pairwise: [{request, x, y}]; rubric: [{request, answer}] (stored encrypted). "
        "Or arena_round.",
    )
    arena_round = serializers.IntegerField(
        required=False,
        help_text="A closed arena round of the project: its matches are judged pairwise and "
        "the judge is compared with the round's votes. Or items.",
    )

    def validate(self, attrs: dict) -> dict:
        if ("items" in attrs) == ("arena_round" in attrs):
            raise serializers.ValidationError(
                {"items": ["Give exactly one of items or arena_round."]}
            )
        return attrs


class ReportSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    name = serializers.CharField()
    project = serializers.IntegerField()
    created_at = serializers.CharField()
    sections = serializers.DictField(
        child=serializers.DictField(), help_text="By name: a title and the section's figures."
    )


class ArenaRoundSerializer(serializers.ModelSerializer):
    models = serializers.SerializerMethodField(
        help_text="The competing models: empty until the round is closed (blind)."
    )

    class Meta:
        model = ArenaRound
        fields = [
            "id",
            "project",
            "name",
            "closed",
            "voter_role",
            "created_at",
            "closed_at",
            "models",
        ]
        read_only_fields = fields

    def get_models(self, row: ArenaRound) -> list[str]:
        return [c.label for c in row.contestants.all()] if row.closed else []


class ArenaRoundCreateSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    model_versions = serializers.ListField(child=serializers.IntegerField(), max_length=20)
    voter_role = serializers.ChoiceField(
        choices=["", "owner", "steward", "engineer", "viewer"], required=False
    )
    voters = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=200, help_text="User ids."
    )


class ArenaMatchCreateSerializer(serializers.Serializer):
    """Exactly one prompt source: typed, a test split, or an evaluation set's test split."""

    round = serializers.IntegerField()
    prompt = serializers.CharField(max_length=8000, required=False, help_text="Typed.")
    from_dataset_version = serializers.IntegerField(
        required=False,
        help_text="Draw the prompt at random from this approved dataset version's test split.",
    )
    from_evaluation_set = serializers.IntegerField(
        required=False,
        help_text="Draw the prompt from the test split this evaluation set was built from.",
    )

    SOURCES = ("prompt", "from_dataset_version", "from_evaluation_set")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in self.SOURCES if name in attrs]
        if len(given) != 1:
            message = "Give exactly one of prompt, from_dataset_version, from_evaluation_set."
            raise serializers.ValidationError({"prompt": [message]})
        return attrs


class ArenaMatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    round = serializers.IntegerField()
    prompt = serializers.CharField()
    a = serializers.CharField(help_text="Answer A.")
    b = serializers.CharField(help_text="Answer B.")
    model_a = serializers.CharField(required=False, help_text="Only once the round is closed.")
    model_b = serializers.CharField(required=False, help_text="Only once the round is closed.")


class ArenaVoteSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=VoteChoice.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000)
