"""Project-level data-risk routes of the datasets app, included under ``/api/v1/``."""

from django.urls import path

from datasets_app.api import project_views

urlpatterns = [
    path(
        "projects/<int:pk>/source-rules/",
        project_views.SourceRulesView.as_view(),
        name="project-source-rules",
    ),
    path(
        "projects/<int:pk>/data-risk-policy/",
        project_views.DataRiskPolicyView.as_view(),
        name="project-data-risk-policy",
    ),
]
