from django.urls import path

from evaluation import views

urlpatterns = [
    path("arena/<int:pk>/", views.arena_page, name="arena-page"),
    path("reports/<int:pk>/", views.report_page, name="evaluation-report-page"),
]
