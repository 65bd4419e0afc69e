"""Account pages, mounted under ``/account/``."""

from django.urls import path

from accounts import twofactor, views

urlpatterns = [
    path("2fa/setup/", views.two_factor_setup, name=twofactor.SETUP_URL_NAME),
    path("2fa/verify/", views.two_factor_verify, name=twofactor.VERIFY_URL_NAME),
    path("tokens/", views.api_tokens, name="api-tokens"),
]
