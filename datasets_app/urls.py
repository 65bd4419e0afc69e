from django.urls import path

from datasets_app import risk_views, views

urlpatterns = [
    path("new/", views.upload, name="dataset-upload"),
    path("<int:pk>/", views.detail, name="dataset-page"),
    path("<int:pk>/review/", views.review, name="dataset-review"),
    path("<int:pk>/review/undo/", views.undo_decision, name="dataset-undo-decision"),
    path("<int:pk>/approve/", views.approve, name="dataset-approve"),
    path("<int:pk>/bulk-decision/", views.bulk_decision, name="dataset-bulk-decision"),
    path("<int:pk>/delete/", views.delete, name="dataset-delete"),
    path("<int:pk>/risk-decision/", risk_views.risk_decision, name="dataset-risk-decision"),
    path("<int:pk>/source-trust/", risk_views.source_trust, name="dataset-source-trust"),
]
