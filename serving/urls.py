from django.urls import path

from serving import views

urlpatterns = [
    path("playground/", views.playground, name="playground"),
    path("usage/", views.usage, name="serving-usage"),
]
