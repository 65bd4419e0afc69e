"""Routes of the OpenAI-compatible API, mounted under ``/v1/`` (no trailing slashes, as the
OpenAI clients call them)."""

from django.urls import path

from openai_api import fine_tuning_views as ftv
from openai_api import views

urlpatterns = [
    path("models", views.ModelListView.as_view(), name="openai-models"),
    path("models/<str:model>", views.ModelDetailView.as_view(), name="openai-model"),
    path("chat/completions", views.ChatCompletionsView.as_view(), name="openai-chat"),
    path("completions", views.CompletionsView.as_view(), name="openai-completions"),
    path("files", ftv.FileListView.as_view(), name="openai-files"),
    path("files/<str:file_id>", ftv.FileDetailView.as_view(), name="openai-file"),
    path("fine_tuning/jobs", ftv.FineTuningJobListView.as_view(), name="openai-ft-jobs"),
    path(
        "fine_tuning/jobs/<str:fine_tuning_job_id>",
        ftv.FineTuningJobDetailView.as_view(),
        name="openai-ft-job",
    ),
    path(
        "fine_tuning/jobs/<str:fine_tuning_job_id>/cancel",
        ftv.FineTuningJobCancelView.as_view(),
        name="openai-ft-job-cancel",
    ),
    path(
        "fine_tuning/jobs/<str:fine_tuning_job_id>/events",
        ftv.FineTuningJobEventsView.as_view(),
        name="openai-ft-job-events",
    ),
    path(
        "fine_tuning/jobs/<str:fine_tuning_job_id>/checkpoints",
        ftv.FineTuningJobCheckpointsView.as_view(),
        name="openai-ft-job-checkpoints",
    ),
]
