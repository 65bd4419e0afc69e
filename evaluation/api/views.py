"""Evaluation sets and runs API (``/api/v1/evaluation-sets/``, ``/api/v1/evaluation-runs/``).

Querysets are scoped to the projects where the caller may see results (others are 404); the
services check the role for each change and audit refusals.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Project
from accounts.roles import Action
from accounts.services import project_ids_allowing, projects_visible_to
from audit.services import actor_from_request, record_event
from datasets_app.models import DatasetVersion
from datasets_app.services import visible_datasets
from datasets_app.uploads import EncryptedUpload, discard_request_uploads
from evaluation import arena, judging, report, services
from evaluation.api import serializers as s
from evaluation.models import ArenaMatch, ArenaRound, EvaluationRun, EvaluationSet, JudgeRun
from ops.schema import error_responses
from trainer.models import BaseModel, ModelVersion


class EvaluationSetViewSet(viewsets.ReadOnlyModelViewSet):
    """Evaluation sets: an uploaded lm-eval task bundle, or a dataset's test split."""

    serializer_class = s.EvaluationSetSerializer
    lookup_value_converter = "int"
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[EvaluationSet]:
        return services.visible_sets(self.request.user)

    @extend_schema(
        request={"multipart/form-data": s.BundleUploadSerializer},
        responses={201: s.EvaluationSetSerializer},
    )
    def create(self, request: Request) -> Response:
        """Upload a task bundle (zip). A refused bundle is a 400 naming the file at fault."""
        try:
            return self._create(request)
        except Exception:
            discard_request_uploads(request)  # whatever refused it, nothing references them
            raise

    def _create(self, request: Request) -> Response:
        form = s.BundleUploadSerializer(data=request.data)  # parses the multipart body
        bundle = request.FILES.get("bundle")
        if bundle is None and getattr(request._request, "upload_refused", False):
            record_event(actor_from_request(request), "denied.upload_data", outcome="denied")
            raise PermissionDenied("Your role does not allow uploading data.")
        form.is_valid(raise_exception=True)
        if not isinstance(bundle, EncryptedUpload):
            raise ValidationError({"bundle": ["The upload could not be stored."]})
        data = form.validated_data
        project = projects_visible_to(request.user).filter(pk=data["project"]).first()
        if project is None:
            raise ValidationError({"project": ["No such project."]})
        row = services.create_set_from_bundle(
            actor_from_request(request), project, data["name"], bundle.data_key
        )
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.FromDatasetSerializer, responses={201: s.EvaluationSetSerializer})
    @action(detail=False, methods=["post"], url_path="from-dataset")
    def from_dataset(self, request: Request) -> Response:
        """A set over an approved dataset's test split."""
        form = s.FromDatasetSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        row = services.create_set_from_dataset(
            actor_from_request(request),
            _version(request, data["dataset"], data.get("dataset_version")),
            data["name"],
        )
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)


class EvaluationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Evaluation runs: a set on a base model or a model version, on the training queue."""

    serializer_class = s.EvaluationRunSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[EvaluationRun]:
        queryset = services.visible_runs(self.request.user).prefetch_related("metrics")
        model_version = self.request.query_params.get("model_version", "")
        if model_version.isdigit():
            queryset = queryset.filter(model_version_id=int(model_version))
        return queryset

    @extend_schema(request=s.RunCreateSerializer, responses={201: s.EvaluationRunSerializer})
    def create(self, request: Request) -> Response:
        form = s.RunCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        evaluation_set = (
            services.visible_sets(request.user).filter(pk=data["evaluation_set"]).first()
        )
        if evaluation_set is None:
            raise ValidationError({"evaluation_set": ["No such evaluation set."]})
        run = services.create_run(
            actor_from_request(request),
            evaluation_set,
            base_model=_base_model(data.get("base_model")),
            model_version=_model_version(evaluation_set, data.get("model_version")),
            limit=data.get("limit"),
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.EvaluationRunSerializer, **error_responses(409)})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = services.cancel_run(actor_from_request(request), self.get_object())
        return Response(self.get_serializer(run).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("base", int, required=True, description="The base model's run.")
        ],
        responses=s.ComparisonSerializer,
    )
    @action(detail=True, methods=["get"])
    def comparison(self, request: Request, pk: str | None = None) -> Response:
        """This run against a run of the same set on the base model: forgetting flagged."""
        tuned = self.get_object()  # first: a run outside the caller's projects is a 404
        base_id = request.query_params.get("base", "")
        base = self.get_queryset().filter(pk=int(base_id)).first() if base_id.isdigit() else None
        if base is None:
            raise ValidationError({"base": ["Give the id of a visible run (?base=<id>)."]})
        changes = services.comparison(base, tuned)
        body = {
            "base": base.pk,
            "run": int(pk or 0),
            "changes": changes,
            "forgetting": any(c["forgot"] for c in changes),
        }
        return Response(s.ComparisonSerializer(body).data)


def _version(request: Request, dataset_id: int, version_id: int | None) -> DatasetVersion:
    dataset = visible_datasets(request.user).filter(pk=dataset_id).first()
    if dataset is None:
        raise ValidationError({"dataset": ["No such dataset."]})
    versions = dataset.versions.all()
    version = versions.filter(pk=version_id).first() if version_id else versions.first()
    if version is None:
        raise ValidationError({"dataset_version": ["The dataset has no such approved version."]})
    return version


def _base_model(base_model_id: int | None) -> BaseModel | None:
    if base_model_id is None:
        return None
    model = BaseModel.objects.filter(pk=base_model_id).first()
    if model is None:
        raise ValidationError({"base_model": ["No such base model."]})
    return model


def _model_version(evaluation_set: EvaluationSet, version_id: int | None) -> ModelVersion | None:
    if version_id is None:
        return None
    version = ModelVersion.objects.filter(pk=version_id, project_id=evaluation_set.project_id)
    found = version.first()
    if found is None:
        raise ValidationError({"model_version": ["No such model version in the set's project."]})
    return found


def _member_project(request: Request, project_id: int) -> Project:
    """A project the caller is a member of; any other (even one a platform admin can see, as
    admins are not members) reads as "No such project", as for the other objects named in a
    body."""
    ids = project_ids_allowing(request.user, Action.VIEW_PROJECT)
    project = Project.objects.filter(pk=project_id, pk__in=ids).first()
    if project is None:
        raise ValidationError({"project": ["No such project."]})
    return project


def _arena_round(project: Project, round_id: int | None) -> ArenaRound | None:
    if round_id is None:
        return None
    row = ArenaRound.objects.filter(pk=round_id, project=project).first()
    if row is None:
        raise ValidationError({"arena_round": ["No such arena round in the project."]})
    return row


class JudgeRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Answers graded by one of the project's own models (rubric, or pairs in both orders)."""

    serializer_class = s.JudgeRunSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[JudgeRun]:
        ids = project_ids_allowing(self.request.user, Action.VIEW_RESULTS)
        return JudgeRun.objects.filter(project_id__in=ids).select_related("arena_round")

    @extend_schema(
        request=s.JudgeRunCreateSerializer,
        responses={201: s.JudgeRunSerializer, **error_responses(409)},
    )
    def create(self, request: Request) -> Response:
        form = s.JudgeRunCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        project = _member_project(request, data["project"])
        version = None
        if data.get("model_version") is not None:
            version = ModelVersion.objects.filter(
                pk=data["model_version"], project_id=project.pk
            ).first()
            if version is None:
                raise ValidationError({"model_version": ["No such model version in the project."]})
        run = judging.create_judge_run(
            actor_from_request(request),
            project.pk,
            data["mode"],
            data.get("items"),
            criteria=data.get("criteria", ""),
            base_model=_base_model(data.get("base_model")),
            model_version=version,
            arena_round=_arena_round(project, data.get("arena_round")),
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)


class ReportViewSet(viewsets.GenericViewSet):
    """The evaluation report (model card) of a model version, in JSON or Markdown, and the
    versions of a project side by side."""

    lookup_value_converter = "int"
    serializer_class = s.ReportSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        ids = project_ids_allowing(self.request.user, Action.VIEW_RESULTS)
        return ModelVersion.objects.filter(project_id__in=ids).select_related(
            "job__dataset_version", "job__base_model"
        )

    @extend_schema(responses=s.ReportSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(report.build_report(self.get_object()))

    @extend_schema(responses={(200, "text/markdown"): str})
    @action(detail=True, methods=["get"], url_path="model-card.md")
    def markdown(self, request: Request, pk: str | None = None) -> HttpResponse:
        text = report.to_markdown(report.build_report(self.get_object()))
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="model-card-{pk}.md"'
        return response

    @extend_schema(
        parameters=[OpenApiParameter("project", int, required=True)],
        responses={200: dict},
    )
    @action(detail=False, methods=["get"], url_path="side-by-side")
    def side_by_side(self, request: Request) -> Response:
        project = request.query_params.get("project", "")
        if not project.isdigit():
            raise ValidationError({"project": ["Give a project id (?project=<id>)."]})
        versions = list(self.get_queryset().filter(project_id=int(project)))
        return Response({"results": report.side_by_side(versions)})


class ArenaRoundViewSet(viewsets.ReadOnlyModelViewSet):
    """Blind A/B rounds; models are named only once a round is closed."""

    serializer_class = s.ArenaRoundSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ArenaRound]:
        ids = project_ids_allowing(self.request.user, Action.VIEW_PROJECT)
        return ArenaRound.objects.filter(project_id__in=ids)

    @extend_schema(request=s.ArenaRoundCreateSerializer, responses={201: s.ArenaRoundSerializer})
    def create(self, request: Request) -> Response:
        form = s.ArenaRoundCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        project = _member_project(request, data["project"])
        versions = list(ModelVersion.objects.filter(pk__in=data["model_versions"], project=project))
        if len(versions) != len(set(data["model_versions"])):
            raise ValidationError({"model_versions": ["No such model version in the project."]})
        voters = list(get_user_model().objects.filter(pk__in=data.get("voters", [])))
        row = arena.create_round(
            actor_from_request(request),
            project.pk,
            data["name"],
            model_versions=versions,
            voter_role=data.get("voter_role", ""),
            voters=voters,
        )
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.ArenaRoundSerializer, **error_responses(409)})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        row = arena.close_round(actor_from_request(request), self.get_object())
        return Response(self.get_serializer(row).data)

    @extend_schema(responses={200: dict, **error_responses(409)})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> Response:
        return Response(arena.results(self.get_object()))


class ArenaMatchViewSet(viewsets.GenericViewSet):
    """A prompt and two anonymous answers to vote on."""

    serializer_class = s.ArenaMatchSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ArenaMatch]:
        ids = project_ids_allowing(self.request.user, Action.VIEW_PROJECT)
        return ArenaMatch.objects.filter(round__project_id__in=ids).select_related("round")

    @extend_schema(
        request=s.ArenaMatchCreateSerializer,
        responses={201: s.ArenaMatchSerializer, **error_responses(409)},
    )
    def create(self, request: Request) -> Response:
        form = s.ArenaMatchCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ids = project_ids_allowing(request.user, Action.VIEW_PROJECT)
        row = ArenaRound.objects.filter(pk=form.validated_data["round"], project_id__in=ids).first()
        if row is None:
            raise ValidationError({"round": ["No such round."]})
        prompt = _arena_prompt(request, row, form.validated_data)
        match = arena.create_match(actor_from_request(request), row, prompt, arena.generated_answer)
        return Response(arena.match_view(match), status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.ArenaMatchSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        match = self.get_object()
        if not (match.round.closed or arena.may_vote(request.user, match.round)):
            record_event(
                actor_from_request(request),
                "denied.arena_view_match",
                obj=match,
                outcome="denied",
                details={"project": match.round.project_id},
            )
            raise PermissionDenied("Only the round's voters see its matches.")
        return Response(arena.match_view(match))

    @extend_schema(request=s.ArenaVoteSerializer, responses={201: dict, **error_responses(409)})
    @action(detail=True, methods=["post"])
    def vote(self, request: Request, pk: str | None = None) -> Response:
        form = s.ArenaVoteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        row = arena.vote(
            actor_from_request(request),
            self.get_object(),
            form.validated_data["choice"],
            form.validated_data.get("comment", ""),
        )
        return Response({"id": row.pk, "choice": row.choice}, status=status.HTTP_201_CREATED)


def _arena_prompt(request: Request, row: ArenaRound, data: dict[str, Any]) -> str:
    """The match's prompt: typed, or drawn from a test split the caller may see (a dataset
    version or an evaluation set built from one). A 400 names the field otherwise."""
    if "prompt" in data:
        return str(data["prompt"])
    allowed = project_ids_allowing(request.user, Action.VIEW_PROJECT)
    if "from_evaluation_set" in data:
        found = EvaluationSet.objects.filter(
            pk=data["from_evaluation_set"], project_id__in=allowed
        ).first()
        if found is None:
            raise ValidationError({"from_evaluation_set": ["No such evaluation set."]})
        if found.dataset_version is None:
            raise ValidationError(
                {"from_evaluation_set": ["This set's tasks come from a bundle: type a prompt."]}
            )
        return arena.prompt_from_test_split(row, found.dataset_version, "from_evaluation_set")
    version = DatasetVersion.objects.filter(
        pk=data["from_dataset_version"], dataset__project_id__in=allowed
    ).first()
    if version is None:
        raise ValidationError({"from_dataset_version": ["No such dataset version."]})
    return arena.prompt_from_test_split(row, version, "from_dataset_version")
