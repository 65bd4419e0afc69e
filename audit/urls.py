"""The audit explorer's pages, mounted under ``/audit/``."""

from django.urls import path

from audit import views

urlpatterns = [
    path("", views.explorer, name="audit-explorer"),
    path("export.csv", views.export_csv, name="audit-export"),
]
