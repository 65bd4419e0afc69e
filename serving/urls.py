from django.urls import path

from serving import views

urlpatterns = [
    path("playground/", views.playground, name="playground"),
    path("usage/", views.usage, name="serving-usage"),
    path("deployments/", views.deployments, name="deployments-page"),
    path("deployments/<int:pk>/", views.deployment_page, name="deployment-page"),
    path("deployments/<int:pk>/stop/", views.deployment_stop, name="deployment-stop-page"),
    path(
        "deployments/<int:pk>/pii-filter/",
        views.deployment_pii_filter,
        name="deployment-pii-filter-page",
    ),
    path("deployments/<int:pk>/keys/", views.deployment_key_create, name="deployment-key-create"),
    path(
        "deployments/<int:pk>/keys/<int:key_id>/revoke/",
        views.deployment_key_revoke,
        name="deployment-key-revoke",
    ),
    path("model-versions/<int:pk>/export/", views.model_export, name="model-export-page"),
]
