from django.urls import path

from ops import views

urlpatterns = [path("", views.home, name="home")]
