"""API routes of the privacy app, included under ``/api/v1/`` before the router."""

from django.urls import path

from privacy.api import views

urlpatterns = [
    path(
        "model-versions/<int:pk>/privacy-audit/",
        views.PrivacyAuditView.as_view(),
        name="model-version-privacy-audit",
    ),
    path(
        "model-versions/<int:pk>/privacy-audit/override/",
        views.PrivacyOverrideView.as_view(),
        name="model-version-privacy-audit-override",
    ),
    path(
        "projects/<int:pk>/privacy-policy/",
        views.PrivacyPolicyView.as_view(),
        name="project-privacy-policy",
    ),
]
