"""URL wiring: pages, the REST API under /api/v1/, its schema and docs, health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.api.views import ProjectViewSet, TokenViewSet, UserViewSet
from accounts.views import project_members, project_settings
from audit.api.views import AuditEventViewSet
from datasets_app.api.views import ChunkedUploadViewSet, DatasetViewSet
from evaluation.api.views import (
    ArenaMatchViewSet,
    ArenaRoundViewSet,
    EvaluationRunViewSet,
    EvaluationSetViewSet,
    JudgeRunViewSet,
    ReportViewSet,
)
from ops.health import healthz
from serving.api.export_views import ModelExportViewSet
from serving.api.views import DeploymentViewSet
from trainer.api.views import BaseModelViewSet, JobViewSet, ModelVersionViewSet

router = DefaultRouter(trailing_slash=True)
router.register("users", UserViewSet, basename="user")
router.register("projects", ProjectViewSet, basename="project")
router.register("tokens", TokenViewSet, basename="token")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("uploads", ChunkedUploadViewSet, basename="upload")
router.register("base-models", BaseModelViewSet, basename="base-model")
router.register("jobs", JobViewSet, basename="job")
router.register("model-versions", ModelVersionViewSet, basename="model-version")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("model-exports", ModelExportViewSet, basename="model-export")
router.register("evaluation-sets", EvaluationSetViewSet, basename="evaluation-set")
router.register("evaluation-runs", EvaluationRunViewSet, basename="evaluation-run")
router.register("judge-runs", JudgeRunViewSet, basename="judge-run")
router.register("evaluation-reports", ReportViewSet, basename="evaluation-report")
router.register("arena-rounds", ArenaRoundViewSet, basename="arena-round")
router.register("arena-matches", ArenaMatchViewSet, basename="arena-match")

# Unknown URLs under /api/ and /v1/ answer JSON errors, like every other API error.
handler404 = "console.errors.not_found"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("api/v1/", include("privacy.urls")),
    path("api/v1/", include("datasets_app.api.urls")),
    path("projects/<int:pk>/settings/", project_settings, name="project-settings"),
    path("projects/<int:pk>/members/", project_members, name="project-members-page"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("console.urls")),
    path("datasets/", include("datasets_app.urls")),
    path("jobs/", include("trainer.urls")),
    path("evaluation/", include("evaluation.urls")),
    # Serving: the OpenAI-compatible API, the playground and usage pages.
    path("v1/", include("openai_api.urls")),
    path("", include("serving.urls")),
]
