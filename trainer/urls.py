from django.urls import path

from trainer import views

urlpatterns = [
    path("new/", views.new_job, name="job-new"),
    path("new/estimate/", views.estimate, name="job-new-estimate"),
    path("<int:pk>/", views.detail, name="job-page"),
    path("<int:pk>/cancel/", views.cancel, name="job-cancel"),
    path("model-versions/<int:pk>/", views.model_version, name="model-version-page"),
    path("models/", views.models, name="models-page"),
    path("models/compare/", views.compare, name="models-compare-page"),
]
