from django.urls import path

from evaluation import views

urlpatterns = [
    path("arena/<int:pk>/", views.arena_page, name="arena-page"),
    path("reports/<int:pk>/", views.report_page, name="evaluation-report-page"),
    path("projects/<int:pk>/versions/", views.versions_page, name="evaluation-versions-page"),
]
