"""Serializers for base models, jobs, events and model versions."""

from __future__ import annotations

from django.db.models import Q
from rest_framework import serializers

from trainer.canaries import canaries_enabled
from trainer.engine import registry
from trainer.models import BaseModel, JobEvent, ModelVersion, TrainingJob


class BaseModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = BaseModel
        fields = ["id", "name", "architecture", "parameters", "max_seq_len", "source", "is_default"]


class JobSerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", read_only=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    validation_version = serializers.IntegerField(
        source="validation_version_id", read_only=True, allow_null=True
    )
    # None for jobs trained from scratch.
    base_model = serializers.IntegerField(source="base_model_id", read_only=True, allow_null=True)
    model_version = serializers.SerializerMethodField()
    privacy_audit = serializers.SerializerMethodField(
        help_text="The job's privacy-audit settings: canaries (synthetic secrets added to the "
        "training split, counted in the job's 'canaries' event)."
    )
    queue_position = serializers.SerializerMethodField()
    objective = serializers.SerializerMethodField(
        help_text=f"What the loss rewards: one of {', '.join(registry.objective_names())}."
    )

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "project",
            "dataset",
            "dataset_version",
            "validation_version",
            "base_model",
            "method",
            "objective",
            "hyperparameters",
            "priority",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "progress",
            "evaluation",
            "evaluation_status",
            "evaluation_error",
            "error",
            "cancel_requested",
            "model_version",
            "privacy_audit",
            "queue_position",
        ]

    def get_queue_position(self, obj: TrainingJob) -> int | None:
        """1 for the next job to start (higher priority first, then oldest); None unless queued."""
        if obj.status != "queued":
            return None
        ahead = TrainingJob.objects.filter(status="queued").filter(
            Q(priority__gt=obj.priority) | Q(priority=obj.priority, created_at__lt=obj.created_at)
        )
        return ahead.count() + 1

    def get_privacy_audit(self, obj: TrainingJob) -> dict[str, bool]:
        return {"canaries": canaries_enabled(obj)}

    def get_objective(self, obj: TrainingJob) -> str:
        return str(obj.hyperparameters.get("objective", registry.DEFAULT_OBJECTIVE))

    def get_model_version(self, obj: TrainingJob) -> int | None:
        version = ModelVersion.objects.filter(job=obj).values_list("pk", flat=True).first()
        return version


class JobCreateSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(help_text="Dataset id; its latest approved version is used.")
    dataset_version = serializers.IntegerField(required=False)
    validation_dataset = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Another approved dataset whose latest version gives the validation loss; "
        "the training dataset's validation split then trains too.",
    )
    base_model = serializers.IntegerField(required=False, allow_null=True)
    method = serializers.ChoiceField(
        choices=registry.method_names(),
        default=registry.DEFAULT_METHOD,
        help_text="Which weights train. "
        + " ".join(f"{name}: {text}" for name, text in registry.method_choices()),
    )
    objective = serializers.ChoiceField(
        choices=registry.objective_names(),
        required=False,
        help_text="What the loss rewards (default supervised). "
        + " ".join(f"{name}: {text}" for name, text in registry.objective_choices()),
    )
    hyperparameters = serializers.DictField(
        required=False,
        default=dict,
        help_text="Training settings of the engine's config (max_steps, learning_rate, "
        "batch_size, …). differential_privacy: {target_epsilon, delta, max_grad_norm} trains "
        "with DP-SGD (docs/training.md); a combination that cannot be private is a 400 naming "
        "the field.",
    )
    priority = serializers.IntegerField(required=False, default=0, min_value=-10, max_value=10)
    privacy_audit = serializers.JSONField(
        required=False,
        default=None,
        help_text='Privacy audit settings, {"canaries": true} by default: synthetic secrets '
        "added to the training split only, so the audit after training can measure memorization.",
    )

    def validate(self, attrs: dict) -> dict:
        """Carry `objective` into the hyperparameters (where the engine's config reads it);
        refuse two different objectives, naming the field."""
        objective = attrs.pop("objective", None)
        hyperparameters = attrs["hyperparameters"]
        given = hyperparameters.get("objective")
        if objective is not None and given is not None and given != objective:
            raise serializers.ValidationError(
                {"objective": [f"{objective!r} differs from hyperparameters.objective {given!r}"]}
            )
        if objective is not None:
            attrs["hyperparameters"] = {**hyperparameters, "objective": objective}
        return attrs


class JobEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["id", "created_at", "level", "kind", "message", "data"]


class ModelVersionSerializer(serializers.ModelSerializer):
    evaluation_status = serializers.CharField(
        source="job.evaluation_status",
        read_only=True,
        help_text="pending or running until the evaluation task filled metrics; done; failed.",
    )

    dp_epsilon = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Differential privacy: the epsilon the training run achieved per training "
        "record (RDP accountant); null for a model trained without DP.",
    )
    dp_delta = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Differential privacy: the delta of the (epsilon, delta) guarantee; null "
        "without DP.",
    )
    dp_accounting = serializers.JSONField(
        read_only=True,
        help_text="How the guarantee was reached: target_epsilon, noise_multiplier, "
        "sample_rate, steps, max_grad_norm, accountant ('rdp'), unit ('record'); {} without DP.",
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "job",
            "name",
            "metrics",
            "evaluation_status",
            "lineage",
            "dp_epsilon",
            "dp_delta",
            "dp_accounting",
            "created_at",
        ]
